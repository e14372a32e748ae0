"""Exact GELU subgraphs become FastGelu in the int8 graph; nothing else changes."""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from embedtune_trainer.export.gelu_approximation import approximate_gelu


def gelu_graph(divisor: float = math.sqrt(2)) -> onnx.ModelProto:
    """y = GELU(x) exactly as torch.onnx.export writes it (constants as Constant nodes)."""

    def constant(name: str, value: float) -> onnx.NodeProto:
        tensor = numpy_helper.from_array(np.array(value, dtype=np.float32), name)
        return helper.make_node("Constant", [], [name], value=tensor)

    nodes = [
        constant("root2", divisor),
        constant("one", 1.0),
        constant("half", 0.5),
        helper.make_node("Div", ["x", "root2"], ["scaled"]),
        helper.make_node("Erf", ["scaled"], ["erf"], name="act/Erf"),
        helper.make_node("Add", ["erf", "one"], ["shifted"]),
        helper.make_node("Mul", ["x", "shifted"], ["gated"]),
        helper.make_node("Mul", ["gated", "half"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "gelu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 8])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_exact_gelu_becomes_one_fast_gelu_node_with_nearly_the_same_output():
    x = np.linspace(-6, 6, 64, dtype=np.float32).reshape(8, 8)
    model = gelu_graph()
    exact = run(model, x)
    assert approximate_gelu(model) == 1
    assert [n.op_type for n in model.graph.node] == ["FastGelu"]  # pattern and its constants gone
    assert any(o.domain == "com.microsoft" for o in model.opset_import)
    approximate = run(model, x)
    assert np.abs(approximate - exact).max() < 1e-3  # tanh form of GELU: within 1e-3 everywhere
    assert not np.array_equal(approximate, exact)  # and really the other kernel


def test_a_different_function_is_left_alone():
    model = gelu_graph(divisor=2.0)  # erf(x / 2) is not GELU
    before = model.SerializeToString()
    assert approximate_gelu(model) == 0
    assert model.SerializeToString() == before
