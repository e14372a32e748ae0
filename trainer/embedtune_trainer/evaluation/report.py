"""Print evaluation results as a table and write them as JSON."""

from __future__ import annotations

import json
from pathlib import Path


def format_table(model: str, results: dict[str, dict[str, float]]) -> str:
    rows = [
        (f"{task}/{metric}", value) for task, scores in results.items() for metric, value in scores.items()
    ]
    width = max((len(name) for name, _ in rows), default=10)
    lines = [f"model: {model}", f"{'metric':<{width}}  value", f"{'-' * width}  ------"]
    lines += [f"{name:<{width}}  {value:.4f}" for name, value in rows]
    return "\n".join(lines)


def write_json(path: Path, model: str, results: dict[str, dict[str, float]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": model, "results": results}, indent=2, sort_keys=True) + "\n")
