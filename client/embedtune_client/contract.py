"""Facts that the proto declares once and the client reads instead of repeating them.

The server's auth and the client's choice of key derive from `admin_only` here,
so the list of admin methods cannot drift between them. The job kinds and states and
the feedback kinds are named after the proto's enums and oneof, so a state added there
is a state here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from embedtune_client.v1 import embedtune_pb2 as pb

if TYPE_CHECKING:
    from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper


def method_path(service: str, method: str) -> str:
    """The gRPC path of a method, e.g. "/embedtune.v1.IndexService/Upsert"."""
    return f"/{pb.DESCRIPTOR.package}.{service}/{method}"


def _admin_only() -> frozenset[str]:
    return frozenset(
        method_path(service.name, method.name)
        for service in pb.DESCRIPTOR.services_by_name.values()
        for method in service.methods
        if method.GetOptions().Extensions[pb.admin_only]
    )


# The methods marked `option (admin_only) = true` in embedtune.proto.
ADMIN_METHODS: frozenset[str] = _admin_only()


def _enum_names(enum: EnumTypeWrapper, prefix: str) -> dict[int, str]:
    """Wire value -> lowercase name without the prefix: JOB_STATE_QUEUED -> "queued"."""
    return {value: name.removeprefix(prefix).lower() for name, value in enum.items()}


JOB_KINDS: dict[int, str] = _enum_names(pb.JobKind, "JOB_KIND_")
JOB_STATES: dict[int, str] = _enum_names(pb.JobState, "JOB_STATE_")
# The proto lists the terminal states last, from ACTIVATED on.
TERMINAL_STATES: frozenset[str] = frozenset(
    name for value, name in JOB_STATES.items() if value >= pb.JOB_STATE_ACTIVATED
)
# The keys of TrainingOptions.losses: the cases of FeedbackItem's `item` oneof.
FEEDBACK_KINDS: tuple[str, ...] = tuple(
    field.name for field in pb.FeedbackItem.DESCRIPTOR.oneofs_by_name["item"].fields
)
