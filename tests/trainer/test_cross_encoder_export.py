"""A cross-encoder folder through `embedtune export`: the logits graph, its int8 variant, embedtune.json."""

from __future__ import annotations

import json
import random
import subprocess
import sys

import numpy as np
import pytest
from tiny_models import build_tiny_cross_encoder

from embedtune_trainer.cross_encoder import CrossEncoder
from embedtune_trainer.evaluation.metrics import spearman

ort = pytest.importorskip("onnxruntime")

FP32_TOLERANCE = 1e-4
INT8_MIN_SPEARMAN = 0.99


def _logits(graph, model: CrossEncoder, pairs) -> np.ndarray:
    session = ort.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
    features = model.tokenize(pairs)
    return session.run(["logits"], {i.name: features[i.name].numpy() for i in session.get_inputs()})[0]


@pytest.fixture(scope="module")
def varied_pairs(varied_sentences) -> list[tuple[str, str]]:
    rng = random.Random(11)
    return [(rng.choice(varied_sentences), rng.choice(varied_sentences)) for _ in range(120)]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny cross-encoder saved, then exported by the CLI into a copy with --quantize."""
    source = build_tiny_cross_encoder(seed=3).save(tmp_path_factory.mktemp("ce") / "source")
    output = tmp_path_factory.mktemp("ce") / "ce-v1"
    command = [sys.executable, "-m", "embedtune_trainer", "export", "--model", str(source)]
    subprocess.run([*command, "--output", str(output), "--quantize"], check=True, capture_output=True)
    return output


def test_export_writes_the_graphs_and_the_record(exported):
    assert json.loads((exported / "embedtune.json").read_text()) == {
        "kind": "cross-encoder",
        "num_labels": 1,
        "activation": "sigmoid",
        "max_seq_length": 48,
        "version": "ce-v1",
    }
    for name in ("model.onnx", "model_qint8.onnx"):
        session = ort.InferenceSession(str(exported / "onnx" / name), providers=["CPUExecutionProvider"])
        inputs = {i.name: i.shape for i in session.get_inputs()}
        assert inputs == {n: ["batch", "sequence"] for n in ("input_ids", "attention_mask", "token_type_ids")}
        assert [(o.name, o.shape) for o in session.get_outputs()] == [("logits", ["batch", 1])]


def test_fp32_graph_gives_torch_logits(exported, varied_pairs):
    model = CrossEncoder.load(exported)
    got = _logits(exported / "onnx" / "model.onnx", model, varied_pairs)[:, 0]
    expected = model.predict(varied_pairs, apply_activation=False)
    assert np.abs(got - expected).max() < FP32_TOLERANCE
    assert np.ptp(expected) > 100 * FP32_TOLERANCE


def test_int8_graph_ranks_pairs_as_torch_does(exported, varied_pairs):
    model = CrossEncoder.load(exported)
    int8 = _logits(exported / "onnx" / "model_qint8.onnx", model, varied_pairs)[:, 0]
    expected = model.predict(varied_pairs, apply_activation=False)
    assert spearman(int8, expected) >= INT8_MIN_SPEARMAN
    assert np.abs(int8 - expected).max() > 0  # it is the int8 graph, not a copy of fp32


def test_class_head_exports_every_logit_in_place(tmp_path, varied_pairs):
    from embedtune_trainer.export import export_model_folder

    model = build_tiny_cross_encoder(seed=4, num_labels=3)
    folder = model.save(tmp_path / "nli")
    written = export_model_folder(folder)
    assert [p.name for p in written] == ["model.onnx", "embedtune.json"]
    record = json.loads((folder / "embedtune.json").read_text())
    assert (record["num_labels"], record["activation"], record["version"]) == (3, "identity", "nli")
    got = _logits(folder / "onnx" / "model.onnx", model, varied_pairs[:20])
    assert got.shape == (20, 3)
    assert np.abs(got - model.predict(varied_pairs[:20])).max() < FP32_TOLERANCE
