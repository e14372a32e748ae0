"""The end-of-run summary printed by `embedtune train`."""

from __future__ import annotations

from embedtune_trainer.training.settings import TrainResult


def format_summary(result: TrainResult) -> str:
    lines = [
        "",
        f"Trained {result.version} with {result.loss} on {result.examples} {result.shape} examples",
        f"  steps          {result.steps} ({result.epochs:g} epochs)",
        f"  time           {result.train_seconds:.1f} s ({result.examples_per_second:.1f} examples/s)",
    ]
    if result.train_loss is not None:
        lines.append(f"  train loss     {result.train_loss:.4f}")
    for name, value in result.metrics.items():
        before = result.metrics_before.get(name)
        change = f"  (before {before:.4f}, {value - before:+.4f})" if before is not None else ""
        lines.append(f"  {name:<14} {value:.4f}{change}")
    onnx = any(p.suffix == ".onnx" for p in result.files)
    lines.append(f"  saved to       {result.output}" + ("" if onnx else "  (no ONNX export)"))
    return "\n".join(lines)
