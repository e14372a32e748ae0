"""How a client reaches the server: target, keys, TLS, timeouts, retries, concurrency.

`ClientBase` is what the sync and asyncio clients share apart from the transport:
the settings, the operation plans, per-call metadata and the retry decision.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from typing import Any

import grpc

from embedtune_client.core.calls import Call, Rpc
from embedtune_client.core.operations import Operations
from embedtune_client.core.retry import RetryPolicy
from embedtune_client.errors import error_from_rpc

# Responses with many large embeddings pass gRPC's default 4 MiB receive limit.
MAX_RECEIVE_BYTES = 256 * 1024 * 1024
TlsSetting = bool | bytes | str | os.PathLike | grpc.ChannelCredentials


def _user_agent() -> str:
    from embedtune_client import __version__

    return f"embedtune-client/{__version__}"


@dataclass(frozen=True)
class ClientSettings:
    """Everything a client is configured with.

    `tls`: False for plaintext, True for TLS with the system's root certificates, the
    PEM bytes or the path of a root certificate (for a self-signed server), or ready
    `grpc.ChannelCredentials`. `timeout`: seconds per attempt of a unary call (None: no
    deadline); `wait()` takes its own, since a job can take far longer.
    `max_in_flight`: how many chunks of one large call are sent concurrently.
    `options`: extra gRPC channel options.
    """

    target: str = "127.0.0.1:50051"
    api_key: str | None = None
    admin_key: str | None = None
    tls: TlsSetting = False
    timeout: float | None = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_in_flight: int = 4
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if not self.target:
            raise ValueError("target must be host:port, got an empty string")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be positive or None, got {self.timeout}")
        if self.max_in_flight < 1:
            raise ValueError(f"max_in_flight must be at least 1, got {self.max_in_flight}")

    def credentials(self) -> grpc.ChannelCredentials | None:
        """TLS credentials, or None for a plaintext channel."""
        tls = self.tls
        if isinstance(tls, grpc.ChannelCredentials):
            return tls
        if tls is False:
            return None
        if tls is True:
            return grpc.ssl_channel_credentials()
        if isinstance(tls, bytes):
            return grpc.ssl_channel_credentials(root_certificates=tls)
        try:
            with open(tls, "rb") as file:
                return grpc.ssl_channel_credentials(root_certificates=file.read())
        except OSError as exc:
            raise ValueError(
                f"tls: cannot read root certificate {os.fspath(tls)!r}: {exc.strerror}"
            ) from None

    def channel_options(self) -> list[tuple[str, Any]]:
        defaults = {
            "grpc.max_receive_message_length": MAX_RECEIVE_BYTES,
            "grpc.primary_user_agent": _user_agent(),
        }
        return list({**defaults, **dict(self.options)}.items())

    def metadata(self, rpc: Rpc) -> tuple[tuple[str, str], ...]:
        """`authorization: Bearer <key>`: the admin key for admin methods when set, else the api key."""
        key = (self.admin_key or self.api_key) if rpc.admin else self.api_key
        return (("authorization", f"Bearer {key}"),) if key else ()


class ClientBase:
    """Settings, plans and retry decisions shared by `Client` and `AsyncClient`."""

    def __init__(
        self,
        target: str = "127.0.0.1:50051",
        api_key: str | None = None,
        admin_key: str | None = None,
        tls: TlsSetting = False,
        timeout: float | None = 30.0,
        *,
        retry: RetryPolicy | None = None,
        max_in_flight: int = 4,
        options: tuple[tuple[str, Any], ...] = (),
    ) -> None:
        self.settings = ClientSettings(
            target=target,
            api_key=api_key,
            admin_key=admin_key,
            tls=tls,
            timeout=timeout,
            retry=retry or RetryPolicy(),
            max_in_flight=max_in_flight,
            options=tuple(options),
        )
        self._rng = random.Random()
        self._operations = Operations(self.settings.retry, self._rng)
        self._closed = False
        self._connect()

    def _connect(self) -> None:
        """Create the transport's channel (or prepare to, for asyncio)."""
        raise NotImplementedError

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"{type(self).__name__} for {self.settings.target} is closed")

    def _retry_delay(self, call: Call, exc: grpc.RpcError, attempt: int) -> float:
        """Seconds to wait before the next attempt; raises the typed error when there is none."""
        code = exc.code() if hasattr(exc, "code") else None
        delay = self.settings.retry.next_delay(call.rpc.idempotent, code, attempt, self._rng)
        if delay is None:
            raise error_from_rpc(exc, call.rpc.name) from None
        return delay

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"{type(self).__name__}({self.settings.target!r}, {state})"
