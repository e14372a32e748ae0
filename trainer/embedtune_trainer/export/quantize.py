"""Dynamic int8 quantisation of an exported graph.

Every MatMul with a constant weight becomes int8: weights per output channel with
reduced range (the AVX2 int8 kernels saturate at full range), activations per
tensor at run time. The feed-forward down-projections (weights wider in than out,
e.g. 1536 -> 384) get their outlier input channels split off into a small fp32
product first (outlier_split.py); a down-projection with too many outliers for that
stays fp32 whole. On all-MiniLM-L6-v2 (STSb sentences) this keeps 0.995 mean cosine
to fp32, where plain per-tensor int8 keeps 0.96 and per-channel int8 without the
split 0.992 (`python -m benchmarks.int8_variants`, docs/benchmarks.md). Exact GELU
becomes ONNX Runtime's FastGelu first (gelu_approximation.py): faster, and invisible
next to the int8 error.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import onnx

from embedtune_trainer.export.gelu_approximation import approximate_gelu
from embedtune_trainer.export.outlier_split import OUTLIER_THRESHOLD, channel_ranges, split_outlier_channels

# A down-projection with more outlier channels than this share of its inputs stays fp32.
MAX_OUTLIER_SHARE = 1 / 32


def quantize_int8(
    source: Path, target: Path, calibration: Iterable[dict[str, np.ndarray]], fast_gelu: bool = True
) -> Path:
    """Write the int8 graph of `source` to `target`; `calibration` is graph inputs to measure ranges on.

    `fast_gelu=False` keeps exact GELU (benchmarks/int8_variants.py measures both).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(source))
    if fast_gelu:
        approximate_gelu(model)  # before calibration, so the ranges are the shipped graph's
    keep_fp32 = []
    projections = down_projections(model)
    if projections:
        ranges = channel_ranges(model, sorted({n.input[0] for n in projections}), calibration)
        for node in projections:
            channel_max = ranges[node.input[0]]
            outliers = np.flatnonzero(channel_max >= OUTLIER_THRESHOLD)
            if len(outliers) > MAX_OUTLIER_SHARE * len(channel_max):
                keep_fp32.append(node.name)
            elif len(outliers):
                keep_fp32.append(split_outlier_channels(model, node, outliers))
    # onnxruntime logs a "consider pre-processing" hint on the root logger for every call.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with tempfile.TemporaryDirectory(prefix="embedtune-quantize-") as scratch:
            split = Path(scratch) / "split.onnx"
            onnx.save(model, str(split))
            quantize_dynamic(
                str(split),
                str(target),
                weight_type=QuantType.QInt8,
                per_channel=True,
                reduce_range=True,
                op_types_to_quantize=["MatMul"],
                nodes_to_exclude=keep_fp32,
                # Fused transformer ops defeat shape inference; their outputs are float.
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
    finally:
        root.setLevel(level)
    return target


def down_projections(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """MatMul nodes whose constant weight maps a wider input to a narrower output."""
    shapes = {init.name: tuple(init.dims) for init in model.graph.initializer}
    nodes = []
    for node in model.graph.node:
        if node.op_type != "MatMul" or len(node.input) < 2:
            continue
        shape = shapes.get(node.input[1])
        if shape is not None and len(shape) == 2 and shape[0] > shape[1]:
            nodes.append(node)
    return nodes
