"""Server streams that resume where they left off (``StreamOffers``, ``StreamQueueStats``, ...).

Every server stream of acd.v1 numbers its messages (``sequence``, strictly increasing, never
reused), and its request takes the last sequence seen. ``ResumableStream`` keeps that number,
drops repeats, and with ``reconnect=True`` reopens the stream after UNAVAILABLE (server restart,
failover, a dropped connection) with the last sequence, a bounded number of times in a row.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any, Generic, Protocol, TypeVar

import grpc

from acd.client.errors import ServiceError

# Codes after which reopening the stream can help; anything else is the caller's business.
RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE})


class Sequenced(Protocol):
    @property
    def sequence(self) -> int: ...


M = TypeVar("M", bound=Sequenced)
Opener = Callable[[int], "grpc.aio.UnaryStreamCall[Any, M]"]


class ResumableStream(Generic[M]):
    """An async iterator over a server stream's messages; ``last_sequence`` is the newest seen.

    ``open_stream(last_sequence)`` starts the RPC. Iterate once; ``cancel()`` (or leaving
    ``async with``) ends it, and the iteration then simply stops. A stream ending with an
    error raises ``ServiceError``; one the server ends normally stops the iteration.
    """

    def __init__(
        self,
        open_stream: Opener[M],
        *,
        last_sequence: int = 0,
        reconnect: bool = False,
        max_reconnects: int = 10,
        backoff_s: float = 0.1,
    ) -> None:
        self._open = open_stream
        self.last_sequence = last_sequence
        self._reconnect = reconnect
        self._max_reconnects = max_reconnects
        self._backoff_s = backoff_s
        self._call: grpc.aio.UnaryStreamCall[Any, M] | None = None
        self._cancelled = False
        self.reconnects = 0

    def __aiter__(self) -> AsyncIterator[M]:
        return self._messages()

    async def __aenter__(self) -> ResumableStream[M]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cancel()

    def cancel(self) -> None:
        """Ends the stream; an iteration in progress stops without an error."""
        self._cancelled = True
        if self._call is not None:
            self._call.cancel()

    async def _messages(self) -> AsyncIterator[M]:
        failures = 0
        while not self._cancelled:
            self._call = call = self._open(self.last_sequence)
            try:
                async for message in call:
                    if message.sequence <= self.last_sequence:
                        continue  # sent again after a resume
                    self.last_sequence = message.sequence
                    failures = 0
                    yield message
                return
            except asyncio.CancelledError:
                if self._cancelled:
                    return
                raise
            except grpc.aio.AioRpcError as err:
                if self._cancelled:
                    return
                if not (self._reconnect and err.code() in RETRYABLE):
                    raise ServiceError.from_rpc_error(err) from None
                if failures >= self._max_reconnects:
                    raise ServiceError.from_rpc_error(err) from None
                failures += 1
                self.reconnects += 1
                await asyncio.sleep(min(self._backoff_s * 2 ** (failures - 1), 5.0))
            finally:
                call.cancel()
