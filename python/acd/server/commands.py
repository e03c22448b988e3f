"""Commands as the router's batch tuples, applied in one place, and refusals as gRPC statuses.

Every state-changing request becomes one or more batch tuples (acd_core/ROUTING.md, "Batch
commands"); ``apply`` runs them through ``Router.apply_batch`` and says what to journal
(``recovery.journal_commands``). A refused command comes back as an ``error`` event whose
``rule`` is the error's kind; ``refusal`` turns it into a :class:`Refusal` carrying the gRPC
status code and the request field at fault.

Until the router's batch parser knows the newer tuples (enqueue with options, transfer, pick,
withdraw), ``apply`` falls back to the per-call methods for them: it first moves the clock with
a journaled ``("timeout", now_ms)`` and then calls the method, so the journal still holds
exactly the inputs that changed the router. ``NATIVE_BATCH`` says which path is live.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import grpc

from acd._core import (
    AcdError,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
    Router,
)
from acd.server.journal_format import Command
from acd.server.recovery import journal_commands

__all__ = [
    "NATIVE_BATCH",
    "Applied",
    "Refusal",
    "RouterEvent",
    "apply",
    "refusal",
]


class RouterEvent(NamedTuple):
    """One router event as plain values (``Event.as_tuple()``), so the shell can also build
    the error events of its fallback path."""

    kind: str
    call_id: str
    agent_id: str
    queue_id: str
    at_ms: int
    expires_at_ms: int
    rule: str
    detail: str


class Refusal(Exception):
    """A request refused with a gRPC status; ``field`` names the request field at fault."""

    def __init__(self, code: grpc.StatusCode, message: str, field: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class Applied(NamedTuple):
    events: list[RouterEvent]
    journal: list[Command]


_KIND_CODES = {
    "invalid-argument": grpc.StatusCode.INVALID_ARGUMENT,
    "not-found": grpc.StatusCode.NOT_FOUND,
    "illegal-transition": grpc.StatusCode.FAILED_PRECONDITION,
}
_EXCEPTION_KINDS: tuple[tuple[type[AcdError], str], ...] = (
    (InvalidArgumentError, "invalid-argument"),
    (NotFoundError, "not-found"),
    (IllegalTransitionError, "illegal-transition"),
)
_DETAIL = re.compile(r"command (\d+): (.*)", re.DOTALL)
# "queue_id 'x': unknown queue" / "priority: 2000000 out of range ..." -> the leading field.
_FIELD = re.compile(r"([a-z_][a-z0-9_.\[\]]*)(?: '[^']*')?: ")


def _probe() -> bool:
    router = Router('{"queues": [], "agents": []}')
    try:
        router.apply_batch([("pick", "a", "c", 0), ("enqueue", "c", "q", 0, 0, {})])
    except ValueError:
        return False
    return True


NATIVE_BATCH = _probe()


def _guess_kind(message: str) -> str:
    """The error kind from the message alone (a router older than the ``rule`` field)."""
    if "unknown " in message or "no such" in message:
        return "not-found"
    if " cannot " in message or "has no open offer" in message or " is " in message:
        return "illegal-transition"
    return "invalid-argument"


def refusal(event: RouterEvent, fields: Mapping[str, str] | None = None) -> Refusal:
    """The gRPC refusal for an ``error`` event. ``fields`` renames the router's argument
    names to request field paths (``{"priority": "call.priority"}``)."""
    match = _DETAIL.fullmatch(event.detail)
    message = match.group(2) if match else event.detail
    kind = event.rule if event.rule in _KIND_CODES else _guess_kind(message)
    field = ""
    if (found := _FIELD.match(message)) is not None:
        field = found.group(1)
        if fields and field in fields:
            renamed = fields[field]
            message = renamed + message[len(field) :]
            field = renamed
    return Refusal(_KIND_CODES[kind], message, field)


def _events(router_events: Sequence[Any]) -> list[RouterEvent]:
    return [RouterEvent(*e.as_tuple()) for e in router_events]


def apply(router: Router, commands: Sequence[Command]) -> Applied:
    """Applies ``commands`` in order (a refused one does not stop the rest); gives the events
    and the commands to journal. Synchronous: the caller appends to the journal at once."""
    if NATIVE_BATCH:
        events = _events(router.apply_batch(list(commands)))
        return Applied(events, journal_commands(commands, events))
    return _apply_fallback(router, commands)


_FALLBACK = frozenset({"enqueue", "transfer", "pick", "withdraw"})


def _apply_fallback(router: Router, commands: Sequence[Command]) -> Applied:
    events: list[RouterEvent] = []
    journal: list[Command] = []
    for i, command in enumerate(commands):
        name = command[0]
        if name not in _FALLBACK or (name == "enqueue" and len(command) == 5):
            one = _events(router.apply_batch([command]))
            journal.extend(journal_commands([command], one))
            events.extend(_renumber(one, i))
            continue
        now = int(command[3] if name in ("enqueue", "pick") else command[4])
        tick = _events(router.apply_batch([("timeout", now)]))
        events.extend(tick)
        if any(e.kind == "error" for e in tick):  # time went backwards: refused as such
            events.extend(_renumber(tick, i))
            continue
        journal.append(("timeout", now))
        try:
            _call(router, command)
        except AcdError as e:
            kind = next((k for t, k in _EXCEPTION_KINDS if isinstance(e, t)), "invalid-argument")
            events.append(RouterEvent("error", "", "", "", now, 0, kind, f"command {i}: {e}"))
            continue
        journal.append(command)
        events.extend(_events(router.drain()))
    return Applied(events, journal)


def _renumber(events: list[RouterEvent], index: int) -> list[RouterEvent]:
    return [
        e._replace(detail=_DETAIL.sub(lambda m: f"command {index}: {m.group(2)}", e.detail))
        if e.kind == "error"
        else e
        for e in events
    ]


def _call(router: Router, command: Command) -> None:
    name = command[0]
    if name == "enqueue":
        _, call_id, queue_id, now, priority, options = command
        router.enqueue(call_id, queue_id, now, priority, **options)
    elif name == "transfer":
        _, call_id, kind, target, now = command
        router.transfer(call_id, now, **{kind: target})
    elif name == "pick":
        _, agent_id, call_id, now = command
        router.pick(agent_id, call_id, now)
    else:
        # withdraw needs the router's own method; without it nothing can be done safely.
        raise InvalidArgumentError(f"command {name!r}: this router cannot apply it yet")
