"""Our CrossEncoder against sentence-transformers' on one folder: scores, tokens, folders both ways."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from tiny_models import build_tiny_cross_encoder

from embedtune_trainer.cross_encoder import Activation, CrossEncoder
from embedtune_trainer.cross_encoder.folder import is_cross_encoder_folder

st = pytest.importorskip("sentence_transformers")

SCORE_TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def pairs(varied_sentences) -> list[tuple[str, str]]:
    """Short, long (truncated on both sides), non-ASCII and empty texts, paired at random."""
    rng = random.Random(7)
    texts = varied_sentences
    return [(rng.choice(texts), rng.choice(texts)) for _ in range(60)]


@pytest.mark.parametrize("num_labels", [1, 3])
def test_scores_equal_sentence_transformers_on_our_folder(tmp_path, pairs, num_labels):
    ours = build_tiny_cross_encoder(num_labels=num_labels)
    folder = ours.save(tmp_path / "ce")
    reference = st.CrossEncoder(str(folder), device="cpu")
    assert reference.max_seq_length == ours.max_seq_length
    expected = reference.predict(pairs, batch_size=7)
    got = ours.predict(pairs, batch_size=5)
    assert got.shape == expected.shape == ((len(pairs),) if num_labels == 1 else (len(pairs), num_labels))
    assert np.abs(got - expected).max() < SCORE_TOLERANCE
    assert np.ptp(got) > 100 * SCORE_TOLERANCE  # the pairs score differently: the check can fail


def test_pair_tokens_equal_sentence_transformers(tmp_path, pairs):
    ours = build_tiny_cross_encoder(max_seq_length=20)
    reference = st.CrossEncoder(str(ours.save(tmp_path / "ce")), device="cpu")
    long_pair = ("alpha " * 40, "omega " * 5)  # longest_first cuts the long side only
    for pair in [*pairs[:10], long_pair]:
        expected = reference.preprocess([pair])
        got = ours.tokenize([pair])
        for name in ("input_ids", "attention_mask", "token_type_ids"):
            assert got[name].tolist() == expected[name].tolist(), (pair, name)
    omega = ours.tokenizer.convert_tokens_to_ids("omega")
    assert ours.tokenize([long_pair])["input_ids"].tolist()[0].count(omega) == 5


def test_folder_saved_by_sentence_transformers_loads_in_ours(tmp_path, pairs):
    build_tiny_cross_encoder(num_labels=1).save(tmp_path / "seed")
    reference = st.CrossEncoder(
        str(tmp_path / "seed"), device="cpu", max_length=32, activation_fn=__import__("torch").nn.Identity()
    )
    reference.save(str(tmp_path / "by-st"))
    ours = CrossEncoder.load(tmp_path / "by-st")
    assert is_cross_encoder_folder(tmp_path / "by-st")
    assert ours.activation is Activation.IDENTITY
    assert ours.max_seq_length == 32
    assert np.abs(ours.predict(pairs) - reference.predict(pairs)).max() < SCORE_TOLERANCE


def test_folder_saved_by_ours_keeps_activation_and_length_in_sentence_transformers(tmp_path, pairs):
    ours = build_tiny_cross_encoder(num_labels=1, max_seq_length=24)
    ours.activation = Activation.IDENTITY
    ours.save(tmp_path / "ours")
    reference = st.CrossEncoder(str(tmp_path / "ours"), device="cpu")
    assert type(reference.activation_fn).__name__ == "Identity"
    assert reference.max_seq_length == 24
    assert np.abs(ours.predict(pairs) - reference.predict(pairs)).max() < SCORE_TOLERANCE
    again = CrossEncoder.load(tmp_path / "ours")
    assert (again.activation, again.max_seq_length) == (Activation.IDENTITY, 24)


def test_older_folder_forms_name_their_activation(tmp_path):
    """A plain sequence-classification folder: activation in config.json (ST 4-5, then before 4)."""
    model = build_tiny_cross_encoder()
    folder = tmp_path / "plain"
    model.auto_model.save_pretrained(folder)
    model.tokenizer.save_pretrained(folder)
    assert is_cross_encoder_folder(folder)
    assert CrossEncoder.load(folder).activation is Activation.SIGMOID  # the default for one label
    config = json.loads((folder / "config.json").read_text())
    for key, value in [
        ("sentence_transformers", {"activation_fn": "torch.nn.modules.linear.Identity"}),
        ("sbert_ce_default_activation_function", "torch.nn.modules.activation.Softmax"),
    ]:
        (folder / "config.json").write_text(json.dumps({**config, key: value}))
        loaded = CrossEncoder.load(folder)
        assert loaded.activation is Activation.from_torch_path(
            value["activation_fn"] if isinstance(value, dict) else value
        )


def test_a_bi_encoder_folder_is_not_a_cross_encoder(tiny_encoder_dir):
    assert not is_cross_encoder_folder(tiny_encoder_dir)
    built = CrossEncoder.load(tiny_encoder_dir, num_labels=2)
    assert (built.num_labels, built.activation, built.max_seq_length) == (2, Activation.IDENTITY, 64)


def test_bad_pairs_and_unknown_activation_are_refused(tmp_path):
    model = build_tiny_cross_encoder()
    with pytest.raises(TypeError, match=r"pairs\[1\] must be two texts"):
        model.predict([("a", "b"), ("only one",)])
    with pytest.raises(TypeError, match=r"pairs\[0\] must be two texts"):
        model.predict(["a string, not a pair"])
    folder = model.save(tmp_path / "ce")
    config_file = folder / "config_sentence_transformers.json"
    config = json.loads(config_file.read_text())
    config_file.write_text(json.dumps({**config, "activation_fn": "torch.nn.modules.activation.Tanh"}))
    with pytest.raises(ValueError, match=r"Tanh. is not supported by embedtune"):
        CrossEncoder.load(folder)
