"""What the client's two bidirectional streams share (``AdapterStream``, ``AgentSession``):
commands written with a correlation id, each awaited until the server answers that id, and
one reader task that settles the answers and hands everything else out.

A subclass says what an answer is (``_dispatch`` resolves ``_pending`` futures) and what to do
when the stream ends (``_ended``). Every command still waiting when the stream ends fails with
the stream's error (or CANCELLED once it was closed).
"""

from __future__ import annotations

import asyncio
from types import TracebackType
from typing import Generic, Self, TypeVar

import grpc

from acd.client.errors import ServiceError
from acd.v1 import agent_pb2, routing_pb2

Req = TypeVar("Req")
# The server's messages of the two streams: both may come packed (their ``more``).
Resp = TypeVar("Resp", agent_pb2.SessionResponse, routing_pb2.AdapterStreamResponse)
Answer = TypeVar("Answer")


class CorrelatedStream(Generic[Req, Resp, Answer]):
    """``messages_sent`` and ``messages_received`` count the stream's gRPC messages (a packed
    response is one message, whatever its ``more`` holds): what the stream cost the transport,
    for an adapter's own metrics and for the benchmarks."""

    NAME = "stream"  # in error messages

    def __init__(self, call: grpc.aio.StreamStreamCall[Req, Resp]) -> None:
        self._call: grpc.aio.StreamStreamCall[Req, Resp] = call
        self.messages_sent = 0
        self.messages_received = 0
        self._pending: dict[str, asyncio.Future[Answer]] = {}
        self._write_lock = asyncio.Lock()
        self._error: ServiceError | None = None
        self._closed = False
        self._reader = asyncio.create_task(self._read(), name=f"acd-{self.NAME}")

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _closed_error(self) -> ServiceError:
        return ServiceError(grpc.StatusCode.CANCELLED, f"{self.NAME} is closed")

    async def _send(self, key: str, request: Req) -> Answer:
        """Writes ``request`` (correlation id ``key``) and waits for its answer."""
        if self._error is not None:
            raise self._error
        if self._closed:
            raise self._closed_error()
        if key in self._pending:
            raise ValueError(f"correlation_id {key!r} is already in flight")
        future: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            await self._before_write()
            await self._write(request)
            return await future
        except grpc.aio.AioRpcError as err:
            raise ServiceError.from_rpc_error(err) from None
        except grpc.aio.UsageError:
            # The stream already ended (the reader saw why) or was closed.
            raise self._error or self._closed_error() from None
        finally:
            self._pending.pop(key, None)

    async def _write(self, request: Req) -> None:
        async with self._write_lock:
            await self._call.write(request)
            self.messages_sent += 1

    async def _before_write(self) -> None:
        """Waits for what must be written before any command (AgentSession: its open)."""

    def _settle(self, key: str, answer: Answer | None, error: ServiceError | None) -> None:
        future = self._pending.get(key)
        if future is None or future.done():
            return
        if error is None:
            future.set_result(answer)  # type: ignore[arg-type]
        else:
            future.set_exception(error)

    async def _read(self) -> None:
        error: ServiceError | None = None
        try:
            async for response in self._call:
                self.messages_received += 1
                self._dispatch(response)
                for follower in response.more:  # packed: the ones ready with it, in order
                    self._dispatch(follower)
        except grpc.aio.AioRpcError as err:
            error = ServiceError.from_rpc_error(err)
        except asyncio.CancelledError:
            error = self._closed_error()
            raise
        finally:
            self._error = error
            ended = error or ServiceError(grpc.StatusCode.CANCELLED, f"{self.NAME} ended")
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(ended)
            self._ended()

    def _dispatch(self, response: Resp) -> None:
        raise NotImplementedError

    def _ended(self) -> None:
        raise NotImplementedError

    async def close(self, timeout_s: float = 5.0) -> None:
        """Says no more commands are coming and waits, bounded, for the server to end the
        stream (it does once every command is answered)."""
        if self._closed:
            return
        self._closed = True
        if not self._reader.done():
            try:
                async with self._write_lock:
                    await self._call.done_writing()
                await asyncio.wait_for(asyncio.shield(self._reader), timeout_s)
            except (TimeoutError, grpc.aio.AioRpcError, grpc.aio.UsageError):
                pass
        self._call.cancel()
        if not self._reader.done():
            self._reader.cancel()
        await asyncio.gather(self._reader, return_exceptions=True)
