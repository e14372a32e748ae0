"""Exact (erf) GELU subgraphs → ONNX Runtime's FastGelu, for the int8 graph only.

The int8 graph is the speed-first variant: its MatMuls are already approximate, so
the tanh form of GELU, which ONNX Runtime runs as one `FastGelu` kernel, costs no
accuracy that shows there, and the kernel is cheaper than the erf subgraph
(docs/benchmarks.md, "int8 recipes" and "Reading the figures", has both). The fp32
graph keeps exact GELU, so it still matches PyTorch.

The pattern is what `torch.onnx.export` writes for `nn.GELU()` / HF "gelu":
`Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5)`. Anything else is left alone.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

CONTRIB_DOMAIN = "com.microsoft"


def approximate_gelu(model: onnx.ModelProto) -> int:
    """Rewrite every exact-GELU subgraph of `model` in place; returns how many were rewritten."""
    graph = model.graph
    constants = _scalar_constants(graph)
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list[onnx.NodeProto]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)

    def only_consumer(name: str, op_type: str) -> onnx.NodeProto | None:
        users = consumers.get(name, [])
        return users[0] if len(users) == 1 and users[0].op_type == op_type else None

    def other_input(node: onnx.NodeProto, known: str) -> str | None:
        rest = [name for name in node.input if name != known]
        return rest[0] if len(node.input) == 2 and len(rest) == 1 else None

    rewrites = []
    for erf in (n for n in graph.node if n.op_type == "Erf"):
        div = producer.get(erf.input[0])
        if div is None or div.op_type != "Div" or not _is(constants, div.input[1], math.sqrt(2)):
            continue
        x = div.input[0]
        add = only_consumer(erf.output[0], "Add")
        if add is None or not _is(constants, other_input(add, erf.output[0]), 1.0):
            continue
        times_x = only_consumer(add.output[0], "Mul")
        if times_x is None or other_input(times_x, add.output[0]) != x:
            continue
        half = only_consumer(times_x.output[0], "Mul")
        if half is None or not _is(constants, other_input(half, times_x.output[0]), 0.5):
            continue
        if len(consumers.get(div.output[0], [])) != 1:
            continue
        rewrites.append(([div, erf, add, times_x, half], x, half.output[0]))

    for pattern, x, y in rewrites:
        position = list(graph.node).index(pattern[-1])
        fused = helper.make_node(
            "FastGelu", [x], [y], name=f"{pattern[1].name}/FastGelu", domain=CONTRIB_DOMAIN
        )
        graph.node.insert(position, fused)
        for node in pattern:
            graph.node.remove(node)
    _drop_unused_constants(graph, {name for pattern, _, _ in rewrites for n in pattern for name in n.input})
    if rewrites and not any(o.domain == CONTRIB_DOMAIN for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid(CONTRIB_DOMAIN, 1))
    return len(rewrites)


def with_fast_gelu(graph: Path) -> None:
    """`approximate_gelu` on an ONNX file, in place (for graphs quantised by other tools)."""
    model = onnx.load(str(graph))
    if approximate_gelu(model):
        onnx.save(model, str(graph))


def _scalar_constants(graph: onnx.GraphProto) -> dict[str, float]:
    """Single-value tensors from initializers and Constant nodes, by name."""
    tensors = [(init.name, init) for init in graph.initializer if np.prod(init.dims) == 1]
    tensors += [
        (node.output[0], node.attribute[0].t)
        for node in graph.node
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value"
    ]
    return {
        name: float(numpy_helper.to_array(t).reshape(-1)[0]) for name, t in tensors if np.prod(t.dims) == 1
    }


def _drop_unused_constants(graph: onnx.GraphProto, candidates: set[str]) -> None:
    """Remove the Constant nodes among `candidates` that nothing reads any more."""
    used = {name for node in graph.node for name in node.input} | {o.name for o in graph.output}
    for node in [n for n in graph.node if n.op_type == "Constant" and n.output[0] in candidates]:
        if node.output[0] not in used:
            graph.node.remove(node)


def _is(constants: dict[str, float], name: str | None, value: float) -> bool:
    return name is not None and name in constants and math.isclose(constants[name], value, rel_tol=1e-6)
