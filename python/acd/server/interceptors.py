"""The gate every RPC passes: who is calling, may they, and are they within their limits.

In order: the bearer token in ``authorization`` metadata -> ``Identity`` (UNAUTHENTICATED when
missing or unknown), ``auth.authorize`` for the method (PERMISSION_DENIED), the identity's
token bucket (RESOURCE_EXHAUSTED), the global cap on RPCs in flight, streams included
(RESOURCE_EXHAUSTED). The handler then runs with the identity in ``current_identity``, a
context variable set inside the wrapped handler itself, so it is there whichever task grpc
runs the handler in. Health checks pass without a token and without limits.

At log level debug every RPC leaves one line on the ``acd.server.access`` logger when it ends:
method, tenant/identity name, status code and duration; a refused one names the method, the
peer and why. Never the token, nor any metadata (tests/test_server_secrets.py greps for them).
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import grpc
from grpc import aio

from acd.server.audit import AuditLog, audited, object_of
from acd.server.auth import PUBLIC_METHODS, Identity, TokenTable, authorize, bearer_token
from acd.server.config import RateLimit

# Bounds the cache of wrapped handlers (methods x identities that called them).
MAX_WRAPPED = 100_000

current_identity: contextvars.ContextVar[Identity] = contextvars.ContextVar("acd_identity")
access_log = logging.getLogger("acd.server.access")

if TYPE_CHECKING:
    Handler = grpc.RpcMethodHandler[Any, Any]
    Ctx = aio.ServicerContext[Any, Any]
else:
    Handler = grpc.RpcMethodHandler
    Ctx = aio.ServicerContext


def identity() -> Identity:
    """The caller of the RPC being handled (set by ``AuthInterceptor``)."""
    return current_identity.get()


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._clock = clock
        self._at = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


class AuthInterceptor(aio.ServerInterceptor):
    def __init__(
        self,
        tokens: TokenTable,
        rate_limit: RateLimit,
        max_concurrent_rpcs: int,
        clock: Callable[[], float] = time.monotonic,
        audit: AuditLog | None = None,
    ) -> None:
        self._audit = audit
        self._tokens = tokens
        self._rate = rate_limit
        self._max = max_concurrent_rpcs
        self._clock = clock
        self._buckets: dict[Identity, TokenBucket] = {}
        # The handler wrapped for each (method, identity): built once, not once per RPC.
        self._wrapped: dict[tuple[str, Identity], Handler] = {}
        self.in_flight = 0

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[Handler | None]],
        details: grpc.HandlerCallDetails,
    ) -> Handler | None:
        handler = await continuation(details)
        method = details.method
        if handler is None or method in PUBLIC_METHODS:
            return handler
        raw = None
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                raw = value
                break
        who = self._tokens.authenticate(bearer_token(raw if isinstance(raw, str) else None))
        sink = self._audit if self._audit is not None and audited(method) else None
        if who is None:
            return _refuse(
                handler,
                method,
                grpc.StatusCode.UNAUTHENTICATED,
                "missing or unknown token",
                _refusal_audit(sink, None, method, "unauthenticated"),
            )
        if not authorize(who, method):
            return _refuse(
                handler,
                method,
                grpc.StatusCode.PERMISSION_DENIED,
                f"role {who.role} may not call {method}",
                _refusal_audit(sink, who, method, "denied"),
            )
        if not self._bucket(who).take():
            return _refuse(
                handler,
                method,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit of {who.name!r} reached",
                _refusal_audit(sink, who, method, "rate-limited"),
            )
        if self.in_flight >= self._max:
            return _refuse(
                handler,
                method,
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "too many RPCs in flight; retry",
                _refusal_audit(sink, who, method, "rate-limited"),
            )
        wrapped = self._wrapped.get((method, who))
        if wrapped is None:
            if len(self._wrapped) >= MAX_WRAPPED:
                self._wrapped.clear()
            wrapped = self._wrapped[(method, who)] = self._wrap(handler, who, method)
        return wrapped

    def _bucket(self, who: Identity) -> TokenBucket:
        if self._rate.requests_per_second <= 0:
            return _UNLIMITED
        bucket = self._buckets.get(who)
        if bucket is None:
            bucket = TokenBucket(self._rate.requests_per_second, self._rate.burst, self._clock)
            self._buckets[who] = bucket
        return bucket

    def _wrap(self, handler: Handler, who: Identity, method: str) -> Handler:
        gate = self
        caller = f"{who.tenant or '-'}/{who.name}"
        sink = self._audit if self._audit is not None and audited(method) else None

        def done(context: Ctx, started: float, request: Any = None) -> None:
            gate.in_flight -= 1
            if access_log.isEnabledFor(logging.DEBUG):
                code = context.code() or grpc.StatusCode.OK
                ms = (time.perf_counter() - started) * 1000
                access_log.debug("%s %s %s %.1f ms", method, caller, _name(code), ms)
            if sink is not None:
                code = context.code() or grpc.StatusCode.OK
                sink.record(
                    who.tenant or "",
                    who.name,
                    str(who.role),
                    method,
                    object_of(request),
                    "allowed",
                    _name(code),
                )

        if handler.unary_unary is not None:
            inner_uu: Any = handler.unary_unary

            async def unary_unary(request: Any, context: Ctx) -> Any:
                current_identity.set(who)
                gate.in_flight += 1
                started = time.perf_counter()
                try:
                    return await inner_uu(request, context)
                finally:
                    done(context, started, request)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary, handler.request_deserializer, handler.response_serializer
            )
        if handler.unary_stream is not None:
            inner_us: Any = handler.unary_stream

            async def unary_stream(request: Any, context: Ctx) -> AsyncIterator[Any]:
                current_identity.set(who)
                gate.in_flight += 1
                started = time.perf_counter()
                try:
                    async for item in inner_us(request, context):
                        yield item
                finally:
                    done(context, started, request)

            return grpc.unary_stream_rpc_method_handler(
                unary_stream, handler.request_deserializer, handler.response_serializer
            )
        if handler.stream_stream is not None:
            inner_ss: Any = handler.stream_stream

            async def stream_stream(requests: Any, context: Ctx) -> AsyncIterator[Any]:
                current_identity.set(who)
                gate.in_flight += 1
                started = time.perf_counter()
                try:
                    async for item in inner_ss(requests, context):
                        yield item
                finally:
                    done(context, started)

            return grpc.stream_stream_rpc_method_handler(
                stream_stream, handler.request_deserializer, handler.response_serializer
            )
        return handler  # stream-unary: none in acd.v1 (reflection is stream-stream)


class _Unlimited(TokenBucket):
    def __init__(self) -> None:
        pass

    def take(self) -> bool:
        return True


_UNLIMITED = _Unlimited()


def _name(code: grpc.StatusCode) -> str:
    return str(code.name)


def _refusal_audit(
    sink: AuditLog | None, who: Identity | None, method: str, decision: str
) -> Callable[[Any, grpc.StatusCode], None] | None:
    """What writes the audit row of a refused call (None: the method is not audited)."""
    if sink is None:
        return None
    tenant = (who.tenant or "") if who is not None else ""
    name, role = (who.name, str(who.role)) if who is not None else ("-", "-")

    def write(request: Any, code: grpc.StatusCode) -> None:
        sink.record(tenant, name, role, method, object_of(request), decision, _name(code))

    return write


def _refuse(
    handler: Handler,
    method: str,
    code: grpc.StatusCode,
    message: str,
    audit: Callable[[Any, grpc.StatusCode], None] | None = None,
) -> Handler:
    """A handler of the same shape as ``handler`` that only aborts."""

    def note(context: Ctx, request: Any) -> None:
        if access_log.isEnabledFor(logging.DEBUG):
            access_log.debug(
                "%s from %s refused: %s %s", method, context.peer(), _name(code), message
            )
        if audit is not None:
            audit(request, code)

    async def abort(request: Any, context: Ctx) -> Any:
        note(context, request)
        await context.abort(code, message)

    async def abort_stream(request: Any, context: Ctx) -> Any:
        note(context, request)
        await context.abort(code, message)
        yield  # pragma: no cover - makes this an async generator

    de, se = handler.request_deserializer, handler.response_serializer
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(abort, de, se)
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(abort_stream, de, se)
    if handler.stream_stream is not None:
        return grpc.stream_stream_rpc_method_handler(abort_stream, de, se)
    return grpc.stream_unary_rpc_method_handler(abort, de, se)
