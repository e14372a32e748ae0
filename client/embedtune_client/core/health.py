"""The two grpc.health.v1 messages, built at import from a private descriptor.

The health stubs live in grpcio-health-checking, a server dependency; the client
needs only `Check`, whose messages are one field each, so it declares them itself in
its own descriptor pool (no clash with a process that also imports grpc_health).
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

CHECK_METHOD = "/grpc.health.v1.Health/Check"
# grpc.health.v1.HealthCheckResponse.ServingStatus, by wire value.
SERVING_STATUS_NAMES = ("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")


def _build_messages() -> tuple[type, type]:
    fields = descriptor_pb2.FieldDescriptorProto
    file = descriptor_pb2.FileDescriptorProto(
        name="embedtune_client/grpc_health_v1.proto", package="grpc.health.v1", syntax="proto3"
    )
    request = file.message_type.add(name="HealthCheckRequest")
    request.field.add(name="service", number=1, type=fields.TYPE_STRING, label=fields.LABEL_OPTIONAL)
    response = file.message_type.add(name="HealthCheckResponse")
    status = response.enum_type.add(name="ServingStatus")
    for number, name in enumerate(SERVING_STATUS_NAMES):
        status.value.add(name=name, number=number)
    response.field.add(
        name="status",
        number=1,
        type=fields.TYPE_ENUM,
        type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
        label=fields.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")),
    )


HealthCheckRequest, HealthCheckResponse = _build_messages()


def status_name(value: int) -> str:
    """The ServingStatus name for a wire value ("UNKNOWN" for values newer than this client)."""
    return SERVING_STATUS_NAMES[value] if 0 <= value < len(SERVING_STATUS_NAMES) else "UNKNOWN"
