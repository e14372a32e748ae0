"""Facts about the RPCs that the proto declares once and both sides read.

The server's auth and the client's choice of key derive from `admin_only` here,
so the list of admin methods cannot drift between them.
"""

from __future__ import annotations

from embedtune_client.v1 import embedtune_pb2 as pb


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
