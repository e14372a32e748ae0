"""The int8 recipe on small hand-made graphs: ranges, the outlier split, and its effect on error."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from embedtune_trainer.export.outlier_split import channel_ranges, split_outlier_channels
from embedtune_trainer.export.quantize import quantize_int8

WIDE, NARROW = 64, 16


def matmul_graph(weight: np.ndarray) -> onnx.ModelProto:
    """x (batch, seq, in) -> x @ W: the shape of a feed-forward down-projection."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"], name="down/MatMul")],
        "down_projection",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, weight.shape[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, weight.shape[1]])],
        [numpy_helper.from_array(weight, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def run(model: onnx.ModelProto | str, x: np.ndarray) -> np.ndarray:
    source = model if isinstance(model, str) else model.SerializeToString()
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]


def activations(rng: np.random.Generator, hot: list[int], batch: int = 4) -> np.ndarray:
    """Ordinary channels near 1, the `hot` channels about 25: what GELU outputs look like."""
    x = rng.normal(0, 0.5, size=(batch, 10, WIDE)).astype(np.float32)
    x[..., hot] = rng.uniform(15, 25, size=(batch, 10, len(hot)))
    return x


@pytest.fixture
def rng():
    return np.random.default_rng(7)


@pytest.fixture
def weight(rng):
    return rng.normal(0, 0.1, size=(WIDE, NARROW)).astype(np.float32)


def test_channel_ranges_are_per_channel_maxima_over_all_batches(weight, rng):
    batches = [{"x": activations(rng, [3])}, {"x": activations(rng, [9])}]
    ranges = channel_ranges(matmul_graph(weight), ["x"], batches)["x"]
    expected = np.maximum(*(np.abs(b["x"]).reshape(-1, WIDE).max(0) for b in batches))
    np.testing.assert_array_equal(ranges, expected)


def test_channel_ranges_need_a_batch(weight):
    with pytest.raises(ValueError, match="at least one batch"):
        channel_ranges(matmul_graph(weight), ["x"], [])


def test_split_computes_the_same_product_in_fp32(weight, rng):
    model = matmul_graph(weight)
    fp32_side = split_outlier_channels(model, model.graph.node[0], np.array([3, 40]))
    onnx.checker.check_model(model)
    assert fp32_side in {n.name for n in model.graph.node if n.op_type == "MatMul"}
    x = activations(rng, [3, 40])
    np.testing.assert_allclose(run(model, x), x @ weight, rtol=1e-5, atol=1e-4)


def test_split_refuses_a_matmul_without_constant_weight(weight):
    model = matmul_graph(weight)
    node = helper.make_node("MatMul", ["x", "x"], ["z"], name="dynamic")
    with pytest.raises(ValueError, match="dynamic: only a MatMul with a constant weight"):
        split_outlier_channels(model, node, np.array([0]))


def test_splitting_outliers_cuts_int8_error(weight, rng, tmp_path):
    """Same graph, same weights: the split version is far closer to fp32 than plain int8."""
    hot = [5, 33]
    source = tmp_path / "down.onnx"
    onnx.save(matmul_graph(weight), str(source))
    calibration = [{"x": activations(rng, hot)} for _ in range(3)]
    split = quantize_int8(source, tmp_path / "split.onnx", calibration)
    plain = quantize_int8(source, tmp_path / "plain.onnx", [{"x": np.zeros((1, 1, WIDE), np.float32)}])

    x = activations(rng, hot)
    exact = x @ weight
    split_error = np.abs(run(str(split), x) - exact).mean()
    plain_error = np.abs(run(str(plain), x) - exact).mean()
    assert split_error < plain_error / 3
    ops = [n.op_type for n in onnx.load(str(split)).graph.node]
    assert "MatMulInteger" in ops and "MatMul" in ops  # int8 for the ordinary channels, fp32 for the hot


def test_a_projection_with_too_many_outliers_stays_fp32(weight, rng, tmp_path):
    source = tmp_path / "down.onnx"
    onnx.save(matmul_graph(weight), str(source))
    everywhere = [{"x": activations(rng, list(range(0, WIDE, 4)))}]
    target = quantize_int8(source, tmp_path / "int8.onnx", everywhere)
    ops = [n.op_type for n in onnx.load(str(target)).graph.node]
    assert ops == ["MatMul"]
