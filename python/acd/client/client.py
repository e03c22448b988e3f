"""``connect()`` and ``AcdClient``: one channel, one token, typed methods for every role."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

from acd.client.agents import AgentMethods
from acd.client.connection import auth_metadata
from acd.client.quality import QualityMethods
from acd.client.routing import RoutingMethods
from acd.client.supervision import SupervisionMethods

DEFAULT_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class TlsOptions:
    """TLS for the channel. PEM bytes; None means the default (system roots, no client cert).

    ``certificate_chain`` + ``private_key`` present a client certificate (mutual TLS);
    ``server_name`` checks the server's certificate against this name instead of the target's
    host (e.g. when connecting by IP address).
    """

    root_certificates: bytes | None = None
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    server_name: str | None = None


class AcdClient(RoutingMethods, AgentMethods, SupervisionMethods, QualityMethods):
    """A connection to the ACD service, acting as the identity of its token.

    Methods return the generated acd.v1 messages (their ``.pyi`` stubs type every field)
    where a message is the answer, or the one field that is: ``login`` returns the
    ``AgentStatus``, ``accept_offer`` the ``CallConnected``, ``cancel_call`` the
    ``CallOutcome`` value. Every failure raises ``ServiceError`` with the gRPC status code.
    Use it as ``async with connect(...) as client:`` or call ``close()``.
    """

    def with_token(self, token: str) -> AcdClient:
        """A client on the same channel acting as another identity (e.g. one per agent).

        It shares the channel: closing it does nothing, closing this client closes both.
        """
        return AcdClient(self.channel, token, timeout_s=self.timeout_s, owns_channel=False)

    async def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Waits until the channel is connected (``TimeoutError`` after ``timeout_s``)."""
        await asyncio.wait_for(self.channel.channel_ready(), timeout_s)

    async def close(self, grace_s: float | None = None) -> None:
        """Closes the channel (if this client opened it); open calls are cancelled."""
        if self._owns_channel:
            await self.channel.close(grace_s)

    async def __aenter__(self) -> AcdClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def connect(
    target: str,
    token: str,
    *,
    tls: TlsOptions | None = None,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    options: Sequence[tuple[str, Any]] = (),
) -> AcdClient:
    """A client for ``target`` (``host:port``, ``unix:path``) acting as ``token``'s identity.

    Without ``tls`` the channel is plaintext (loopback, or behind a TLS-terminating proxy).
    ``timeout_s`` is the deadline of each unary call (None: none); ``options`` are grpc
    channel arguments. Call it from a coroutine: the channel belongs to the running loop.
    """
    auth_metadata(token)  # refuse a bad token before a channel exists
    channel_options = list(options)
    if tls is None:
        channel = grpc.aio.insecure_channel(target, options=channel_options)
    else:
        if tls.server_name is not None:
            channel_options.append(("grpc.ssl_target_name_override", tls.server_name))
        credentials = grpc.ssl_channel_credentials(
            root_certificates=tls.root_certificates,
            private_key=tls.private_key,
            certificate_chain=tls.certificate_chain,
        )
        channel = grpc.aio.secure_channel(target, credentials, options=channel_options)
    return AcdClient(channel, token, timeout_s=timeout_s, owns_channel=True)
