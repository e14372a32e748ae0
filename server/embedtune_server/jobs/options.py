"""A training job's options: their defaults and bounds, declared once.

`TrainingOptions`' field defaults are the server's defaults; a request sets what it
wants, the rest is filled in here, and the job records the complete set (so what a job
did never depends on a later change of defaults). The proto message has the same
field names, which is how the two are mapped.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from embedtune_client.v1 import embedtune_pb2 as pb
from embedtune_server.validation import FEEDBACK_KINDS, ValidationError


@dataclass(frozen=True)
class TrainingOptions:
    losses: dict[str, str] = field(default_factory=dict)  # feedback kind -> loss; others use the default
    epochs: float = 1.0
    batch_size: int = 16
    learning_rate: float = 2e-5
    min_feedback: int = 20
    held_out_fraction: float = 0.2
    gate_margin: float = 0.0
    base_version: str = ""  # empty: the active version
    seed: int = 42
    max_seq_length: int = 128  # tokens per text while training (all-MiniLM-L6-v2 was trained at 128)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_proto(self) -> pb.TrainingOptions:
        return pb.TrainingOptions(**self.to_dict())


# (low, high, low inclusive) for each numeric option.
_BOUNDS: dict[str, tuple[float, float, bool]] = {
    "epochs": (0.0, 100.0, False),
    "batch_size": (2, 4096, True),
    "learning_rate": (0.0, 1.0, False),
    "min_feedback": (1, 10_000_000, True),
    "held_out_fraction": (0.0, 0.9, False),
    "gate_margin": (-1.0, 1.0, True),
    "seed": (0, 2**32 - 1, True),
    "max_seq_length": (8, 8192, True),
}


def from_proto(message: pb.TrainingOptions, field_prefix: str = "options") -> TrainingOptions:
    """The options a request set, over the defaults; ValidationError names the field and its bounds."""
    values: dict[str, Any] = {}
    for name, (low, high, inclusive) in _BOUNDS.items():
        if not message.HasField(name):
            continue
        value = getattr(message, name)
        above_low = value >= low if inclusive else value > low
        if not (math.isfinite(value) and above_low and value <= high):
            opening = "[" if inclusive else "("
            raise ValidationError(f"{field_prefix}.{name}: {value:g} is outside {opening}{low:g}, {high:g}]")
        values[name] = value
    for kind, loss in message.losses.items():
        if kind not in FEEDBACK_KINDS:
            raise ValidationError(
                f"{field_prefix}.losses: unknown feedback kind {kind!r}; kinds: {', '.join(FEEDBACK_KINDS)}"
            )
        if not loss.strip():
            raise ValidationError(f"{field_prefix}.losses[{kind!r}]: empty loss name")
    values["losses"] = dict(message.losses)
    values["base_version"] = message.base_version
    return TrainingOptions(**values)
