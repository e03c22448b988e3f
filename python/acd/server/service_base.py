"""What every servicer shares: the tenants, the caller's tenant, request checks, refusals.

Tenant scoping happens here and only here: a handler gets the runtime of the caller's own
tenant (``Shared.tenant()``), so an id of another tenant is simply unknown (NOT_FOUND).
"""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import grpc
from grpc import aio

from acd.server.auth import Identity, Role
from acd.server.clock import Clock
from acd.server.commands import Refusal
from acd.server.config import Config
from acd.server.interceptors import identity
from acd.server.tenant import Tenant

if TYPE_CHECKING:
    Context = aio.ServicerContext[Any, Any]
else:
    Context = aio.ServicerContext
S = TypeVar("S")
Req = TypeVar("Req")
Resp = TypeVar("Resp")

MAX_ID_CHARS = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class Shared:
    """The service's state that every servicer reads."""

    def __init__(self, config: Config, tenants: Mapping[str, Tenant], clock: Clock) -> None:
        self.config = config
        self.tenants = tenants
        self.clock = clock
        self.closing = asyncio.Event()

    def tenant(self) -> Tenant:
        who = identity()
        if who.tenant is None or who.tenant not in self.tenants:
            raise Refusal(grpc.StatusCode.PERMISSION_DENIED, "this token belongs to no tenant")
        return self.tenants[who.tenant]


def guarded(
    method: Callable[[S, Req, Context], Awaitable[Resp]],
) -> Callable[[S, Req, Context], Awaitable[Resp]]:
    """Answers a :class:`Refusal` raised by a unary handler with its status."""

    @functools.wraps(method)
    async def wrapper(self: S, request: Req, context: Context) -> Resp:
        try:
            return await method(self, request, context)
        except Refusal as r:
            await context.abort(r.code, r.message)
            raise  # unreachable: abort raises

    return wrapper


def invalid(field: str, message: str) -> Refusal:
    return Refusal(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {message}", field)


def not_found(field: str, value: str, what: str) -> Refusal:
    return Refusal(grpc.StatusCode.NOT_FOUND, f"{field} {value!r}: unknown {what}", field)


def valid_id(value: str) -> bool:
    """Whether ``require_id`` would take ``value``."""
    return 0 < len(value) <= MAX_ID_CHARS and _CONTROL.search(value) is None


def require_id(value: str, field: str) -> str:
    """An id the request must carry: 1..256 characters, no control characters."""
    if not value:
        raise invalid(field, "required")
    if len(value) > MAX_ID_CHARS or _CONTROL.search(value) is not None:
        raise invalid(field, f"must be 1..{MAX_ID_CHARS} characters without control characters")
    return value


def own_agent(agent_id: str, field: str = "agent_id") -> Identity:
    """An agent token acts only as its own agent (auth.OWN_ONLY): another agent's id is
    PERMISSION_DENIED, exactly as a method the role may not call."""
    require_id(agent_id, field)
    who = identity()
    if who.role is Role.AGENT and who.agent_id != agent_id:
        raise Refusal(
            grpc.StatusCode.PERMISSION_DENIED,
            f"{field}: an agent token acts only for its own agent",
            field,
        )
    return who


def own_call(tenant: Tenant, who: Identity, call_id: str, field: str = "call_id") -> None:
    """An agent sees only its own calls: any other (live or not) is NOT_FOUND to it."""
    if who.role is not Role.AGENT or who.agent_id is None:
        return
    info = tenant.router.agent_info(who.agent_id)
    if call_id not in info["calls"]:
        raise not_found(field, call_id, "call")


def known_agent(tenant: Tenant, agent_id: str, field: str = "agent_id") -> None:
    if agent_id not in tenant.agents:
        raise not_found(field, agent_id, "agent")


def queue_ids_of(tenant: Tenant, requested: Sequence[str]) -> list[str]:
    """The queues a request names (each one known, else NOT_FOUND naming ``queue_ids[i]``), or
    every queue of the tenant when it names none."""
    for i, queue_id in enumerate(requested):
        if queue_id not in tenant.queues:
            raise not_found(f"queue_ids[{i}]", queue_id, "queue")
    return list(requested) if requested else list(tenant.queues)
