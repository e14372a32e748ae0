"""The ONNX graph computes what the PyTorch encoder computes, in fp32 and (close enough) in int8."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import onnx
import pytest

from embedtune_server.backend import InputTooLongError, OnnxBackend
from embedtune_server.backend.onnx_backend import resolve_parallelism

FP32_MIN_COSINE = 0.9999  # every sentence
INT8_MEAN_COSINE = 0.99  # per-channel, reduced-range dynamic int8


def _cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def test_graph_has_both_outputs_and_dynamic_axes(onnx_model_dir):
    graph = onnx.load(str(onnx_model_dir / "onnx" / "model.onnx"), load_external_data=False).graph
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    outputs = {o.name: o for o in graph.output}
    assert set(outputs) == {"last_hidden_state", "sentence_embedding"}
    dims = [d.dim_param or d.dim_value for d in outputs["last_hidden_state"].type.tensor_type.shape.dim]
    assert dims == ["batch", "sequence", 384]


def test_attention_is_exported_without_the_sdpa_nan_guard(onnx_model_dir):
    for name in ("model.onnx", "model_qint8.onnx"):
        graph = onnx.load(str(onnx_model_dir / "onnx" / name), load_external_data=False).graph
        assert not [n for n in graph.node if n.op_type == "IsNaN"], name


@pytest.mark.slow
def test_fp32_matches_torch_for_every_sentence(onnx_model_dir, torch_embeddings, varied_sentences):
    ours = OnnxBackend(onnx_model_dir).encode(varied_sentences)
    assert _cosine(ours, torch_embeddings).min() >= FP32_MIN_COSINE


@pytest.mark.slow
def test_int8_keeps_mean_cosine(onnx_model_dir, torch_embeddings, varied_sentences):
    ours = OnnxBackend(onnx_model_dir, quantized=True).encode(varied_sentences)
    assert _cosine(ours, torch_embeddings).mean() >= INT8_MEAN_COSINE


def test_last_hidden_state_is_what_sentence_transformers_onnx_backend_pools(onnx_model_dir, st_reference):
    """sentence-transformers' ONNX backend (optimum) reads `last_hidden_state` and pools it itself.

    optimum needs transformers<4.58 and cannot be installed beside this stack, so we check
    the contract it relies on: ST's own pooling of our graph's token output gives ST's embedding.
    """
    import onnxruntime as ort
    import torch

    texts = ["A man is playing a guitar.", "東京", "", "word " * 400]
    session = ort.InferenceSession(
        str(onnx_model_dir / "onnx" / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    features = st_reference.tokenize(texts)
    feeds = {i.name: features[i.name].numpy() for i in session.get_inputs()}
    tokens = session.run(["last_hidden_state"], feeds)[0]
    pooled = st_reference[1](
        {"token_embeddings": torch.from_numpy(tokens), "attention_mask": features["attention_mask"]}
    )
    normalized = torch.nn.functional.normalize(pooled["sentence_embedding"], dim=1).numpy()
    assert _cosine(normalized, st_reference.encode(texts)).min() >= FP32_MIN_COSINE


def test_tiny_model_with_dense_and_cls_exports_faithfully(tiny_bert_config, tiny_tokenizer, tmp_path):
    import torch

    from embedtune_trainer import Dense, Normalize, Pooling, SentenceEncoder, Transformer
    from embedtune_trainer.export.onnx_graph import export_onnx

    torch.manual_seed(0)
    transformer = Transformer.from_config(tiny_bert_config, tiny_tokenizer, max_seq_length=64)
    encoder = SentenceEncoder([transformer, Pooling(32, "cls"), Dense(32, 8), Normalize()])
    folder = encoder.save(tmp_path / "tiny")
    attention = transformer.auto_model.config._attn_implementation
    export_onnx(encoder, folder / "onnx" / "model.onnx")
    assert transformer.auto_model.config._attn_implementation == attention  # eager only while exporting
    texts = ["one", "two words", "a longer text " * 30]
    backend = OnnxBackend(folder)
    assert backend.dimension == 8
    assert _cosine(backend.encode(texts), encoder.encode(texts)).min() >= FP32_MIN_COSINE


def test_backend_truncation_and_too_long(onnx_model_dir):
    backend = OnnxBackend(onnx_model_dir)
    text = "alpha " * 300 + "omega"
    right, left = backend.tokenizer.encode([text]), backend.tokenizer.encode([text], direction="left")
    assert len(right[0]) == len(left[0]) == 256
    assert not np.array_equal(right[0], left[0])
    with pytest.raises(InputTooLongError, match=r"inputs\[1\]: 303 tokens exceeds max_seq_length=256"):
        backend.tokenizer.encode(["short", text], truncate=False)


def test_export_without_output_needs_a_local_folder():
    from embedtune_trainer.export import export_model_folder

    with pytest.raises(ValueError, match="not a local model folder"):
        export_model_folder("default")


def test_server_backend_never_imports_torch(onnx_model_dir):
    code = (
        "import sys; from embedtune_server.backend import OnnxBackend; "
        f"OnnxBackend({str(onnx_model_dir)!r}).encode(['x']); "
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize(
    ("streams", "threads", "cores", "expected"),
    [
        (0, 0, 2, (2, 1)),
        (0, 0, 4, (4, 1)),
        (0, 0, 16, (4, 4)),
        (0, 0, 1, (1, 1)),
        (3, 0, 16, (3, 5)),
        (1, 0, 8, (1, 8)),
        (2, 3, 2, (2, 3)),
    ],
)
def test_parallelism_shares_the_cores_among_streams(streams, threads, cores, expected):
    assert resolve_parallelism(streams, threads, cores) == expected


def test_negative_parallelism_is_refused():
    with pytest.raises(ValueError, match="streams and intra_op_threads must be >= 0"):
        resolve_parallelism(-1, 0, 2)


@pytest.mark.slow
def test_streams_give_the_same_embeddings_as_one_session(onnx_model_dir, varied_sentences):
    one = OnnxBackend(onnx_model_dir, streams=1).encode(varied_sentences, batch_size=8)
    three = OnnxBackend(onnx_model_dir, streams=3, intra_op_threads=1).encode(varied_sentences, batch_size=8)
    np.testing.assert_allclose(three, one, atol=1e-5)
