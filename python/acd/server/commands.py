"""Commands as the router's batch tuples, applied in one place, and refusals as gRPC statuses.

Every state-changing request becomes one or more batch tuples (acd_core/ROUTING.md, "Batch
commands"); ``apply`` runs them through ``Router.apply_batch`` and says what to journal
(``recovery.journal_commands``). A refused command comes back as an ``error`` event whose
``rule`` is the error's kind; ``refusal`` turns it into a :class:`Refusal` carrying the gRPC
status code and the request field at fault.

Every request the service accepts has a batch form (enqueue with options, transfer, pick and
withdraw included), so the journal holds exactly the tuples the router applied.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import grpc

from acd._core import Events, Router
from acd.server.journal_format import Command
from acd.server.recovery import journal_commands, refused_by_index

__all__ = [
    "Applied",
    "Refusal",
    "RouterEvent",
    "apply",
    "refusal",
]


class RouterEvent(NamedTuple):
    """One router event as plain values (``Event.as_tuple()``)."""

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
    refused: dict[int, RouterEvent]  # the error events, by the index of the command refused


_KIND_CODES = {
    "invalid-argument": grpc.StatusCode.INVALID_ARGUMENT,
    "not-found": grpc.StatusCode.NOT_FOUND,
    "illegal-transition": grpc.StatusCode.FAILED_PRECONDITION,
}
_DETAIL = re.compile(r"command (\d+): (.*)", re.DOTALL)
# "queue_id 'x': unknown queue" / "priority: 2000000 out of range ..." -> the leading field.
_FIELD = re.compile(r"([a-z_][a-z0-9_.\[\]]*)(?: '[^']*')?: ")


def refusal(event: RouterEvent, fields: Mapping[str, str] | None = None) -> Refusal:
    """The gRPC refusal for an ``error`` event. ``fields`` renames the router's argument
    names to request field paths (``{"priority": "call.priority"}``)."""
    match = _DETAIL.fullmatch(event.detail)
    message = match.group(2) if match else event.detail
    kind = event.rule if event.rule in _KIND_CODES else "invalid-argument"
    field = ""
    if (found := _FIELD.match(message)) is not None:
        field = found.group(1)
        if fields and field in fields:
            renamed = fields[field]
            message = renamed + message[len(field) :]
            field = renamed
    return Refusal(_KIND_CODES[kind], message, field)


def _events(router_events: Events) -> list[RouterEvent]:
    # One native call for the whole batch instead of an Event object and a tuple per event.
    return [RouterEvent(*row) for row in router_events.as_tuples()]


def apply(router: Router, commands: Sequence[Command]) -> Applied:
    """Applies ``commands`` in order (a refused one does not stop the rest); gives the events
    and the commands to journal. Synchronous: the caller appends to the journal at once."""
    events = _events(router.apply_batch(list(commands)))
    refused = refused_by_index(events)  # read once here for every reader of the batch
    return Applied(events, journal_commands(commands, refused), refused)
