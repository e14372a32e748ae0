"""LLM.int8()-style decomposition: a MatMul's outlier input channels stay in fp32.

Dynamic int8 quantises a MatMul's input with one scale for the whole tensor, set by
its largest value. A few input channels of a transformer's feed-forward
down-projection carry values many times larger than the rest, so one scale for all
channels spends most of the 8 bits on those few. Following LLM.int8() (Dettmers et al., 2022),
the channels whose calibrated magnitude reaches a threshold are taken out of the
quantised product and multiplied in fp32:

    X @ W  =  (X * keep) @ W  +  X[..., outliers] @ W[outliers, :]

`keep` is 0 on the outlier channels and 1 elsewhere, so the first product's input
range is set by the ordinary channels; the second is a product with a handful of rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import onnx
from onnx import helper, numpy_helper

# LLM.int8()'s threshold: an input channel whose magnitude reaches it is an outlier.
OUTLIER_THRESHOLD = 6.0


def channel_ranges(
    model: onnx.ModelProto, tensors: list[str], batches: Iterable[dict[str, np.ndarray]]
) -> dict[str, np.ndarray]:
    """Largest |value| of each last-axis channel of each tensor over the calibration batches.

    Padded positions count: at inference the dynamic quantiser sees them too.
    """
    import onnxruntime as ort

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    known = {o.name for o in probe.graph.output}
    for name in tensors:
        if name not in known:
            probe.graph.output.append(helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    inputs = {i.name for i in session.get_inputs()}
    ranges: dict[str, np.ndarray] = {}
    for feeds in batches:
        values = session.run(tensors, {k: v for k, v in feeds.items() if k in inputs})
        for name, value in zip(tensors, values, strict=True):
            channel_max = np.abs(value.reshape(-1, value.shape[-1])).max(axis=0)
            ranges[name] = np.maximum(ranges[name], channel_max) if name in ranges else channel_max
    if not ranges:
        raise ValueError("calibration needs at least one batch")
    return ranges


def split_outlier_channels(model: onnx.ModelProto, node: onnx.NodeProto, channels: np.ndarray) -> str:
    """Rewrite MatMul `node` (constant weight) in place as the decomposition above.

    Returns the name of the new fp32 MatMul over the outlier channels, which the
    quantiser must leave alone.
    """
    weights = {init.name: init for init in model.graph.initializer}
    if node.op_type != "MatMul" or node.input[1] not in weights:
        raise ValueError(f"{node.name}: only a MatMul with a constant weight can be split")
    weight = numpy_helper.to_array(weights[node.input[1]])
    channels = np.asarray(channels, dtype=np.int64)
    keep = np.ones(weight.shape[0], dtype=weight.dtype)
    keep[channels] = 0
    prefix = f"{node.name}/outliers"
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(keep, f"{prefix}/keep"),
            numpy_helper.from_array(channels, f"{prefix}/channels"),
            numpy_helper.from_array(weight[channels], f"{prefix}/weight"),
        ]
    )
    source, result = node.input[0], node.output[0]
    fp32_matmul = f"{prefix}/MatMul"
    before = [
        helper.make_node("Mul", [source, f"{prefix}/keep"], [f"{prefix}/ordinary"], name=f"{prefix}/Mul"),
        helper.make_node(
            "Gather", [source, f"{prefix}/channels"], [f"{prefix}/input"], name=f"{prefix}/Gather", axis=-1
        ),
        helper.make_node(
            "MatMul", [f"{prefix}/input", f"{prefix}/weight"], [f"{prefix}/product"], name=fp32_matmul
        ),
    ]
    after = helper.make_node("Add", [f"{prefix}/main", f"{prefix}/product"], [result], name=f"{prefix}/Add")
    node.input[0] = f"{prefix}/ordinary"
    node.output[0] = f"{prefix}/main"
    nodes = model.graph.node
    position = list(nodes).index(node)
    nodes.insert(position + 1, after)
    for offset, new in enumerate(before):
        nodes.insert(position + offset, new)
    return fp32_matmul
