"""Rebuilding a tenant's router from the journal, and the rule that makes it exact.

The rule the service follows for every state-changing request of a tenant:

1. apply the command to the tenant's router (``apply_batch``), which gives its events;
2. append it to the journal right away, with no ``await`` in between, so the journal's order
   is the router's order (``journal_commands`` says what to append, see below);
3. await the append's future, i.e. the commit;
4. only then acknowledge the request and publish the events.

So nothing a client or subscriber has seen is missing after a crash (it was committed before it
was shown), and nothing shown was never committed. If the commit fails (:class:`CommitError`)
the request is answered with an error, the events are dropped, and the router, which has
already applied a command the journal does not hold, is thrown away: the service reopens the
journal and recovers the tenant. Events of commands committed just before a crash may never
have been published; subscribers resynchronise from the recovered state, not from the events.

A command the router refused (an ``error`` event) is not journaled as such: replaying it would
only repeat the refusal. But the router moved its clock to the refused command's ``now_ms``
and fired the timers due by then before refusing, and those effects are real (their events
were published). ``journal_commands`` therefore journals a refused command as
``("timeout", now_ms)`` when the refusal came after the clock moved, and drops it when the
clock did not move (time went backwards), so replay reproduces the router byte for byte.

One journal entry may hold several commands: the service journals the commands applied in
one turn of its event loop as one ``("batch", [command, ...])`` entry (``batch_entry``; each
command a JSON array), so requests that arrive together cost one row. Replay expands it
(``commands_of``) into the same commands in the same order.

``recover`` loads the latest snapshot (or builds a fresh router from the tenant's config),
replays every later entry through ``apply_batch`` in chunks and returns the router with the
last seq it holds. An entry that cannot be decoded, is not a command the router knows, is
missing, or that the router refuses on replay raises :class:`CorruptEntryError` naming the
tenant and the seq: the journal and the router no longer agree, and guessing would break I7.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol, TypeVar

from acd._core import AcdError, Event, Router
from acd.server.journal import Journal
from acd.server.journal_format import Command, CorruptEntryError

__all__ = [
    "Recovered",
    "batch_entry",
    "commands_of",
    "journal_commands",
    "recover",
    "refused_by_index",
]

# Where each batch command carries its now_ms (acd_core/ROUTING.md, "Batch commands").
NOW_INDEX = {
    "enqueue": 3,
    "abandon": 2,
    "login": 2,
    "logout": 2,
    "ready": 2,
    "not_ready": 3,
    "accept": 3,
    "reject": 3,
    "end": 2,
    "wrapup_done": 3,
    "transfer": 4,
    "pick": 3,
    "withdraw": 4,
    "request_callback": 4,
    "timeout": 1,
    "configure": 2,
}

_ERROR_DETAIL = re.compile(r"command (\d+): ")


class EventLike(Protocol):
    """What ``journal_commands`` reads of an event (``Event`` or the service's copy of one)."""

    @property
    def kind(self) -> str: ...
    @property
    def at_ms(self) -> int: ...
    @property
    def detail(self) -> str: ...


BATCH = "batch"


def batch_entry(commands: Sequence[Command]) -> Command:
    """The journal entry for ``commands`` applied in this order: the command itself when there
    is one, else one ``("batch", [...])`` entry."""
    if len(commands) == 1:
        return commands[0]
    return (BATCH, [list(c) for c in commands])


def commands_of(entry: Command) -> list[Command]:
    """The commands a journal entry holds, in order (``batch_entry`` undone)."""
    if entry[0] != BATCH:
        return [entry]
    if len(entry) != 2 or type(entry[1]) is not list:
        raise ValueError("a batch entry is ('batch', [command, ...])")
    out: list[Command] = []
    for item in entry[1]:
        if type(item) is not list or not item or type(item[0]) is not str:
            raise ValueError(f"not a command in a batch entry: {str(item)[:80]}")
        out.append(tuple(item))
    return out


class Recovered(NamedTuple):
    router: Router
    seq: int  # the last seq applied (0: none); the next append of the tenant gets seq + 1


E = TypeVar("E", bound=EventLike)


def refused_by_index(events: Sequence[E]) -> dict[int, E]:
    """The error events of one ``apply_batch``, by the index of the command they refused (an
    error event's detail starts ``command N: ``): the one reading of that index."""
    out: dict[int, E] = {}
    for event in events:
        if event.kind == "error" and (m := _ERROR_DETAIL.match(event.detail)):
            out[int(m.group(1))] = event
    return out


def journal_commands(
    commands: Sequence[Command], refused: Mapping[int, EventLike]
) -> list[Command]:
    """What to journal for ``commands`` after ``router.apply_batch(list(commands))``, given its
    error events by the index of the command each refused (``refused_by_index``): the accepted
    commands as they are, each refused one replaced by the clock movement it caused, if any
    (see the module docstring)."""
    out: list[Command] = []
    for i, command in enumerate(commands):
        error = refused.get(i)
        if error is None:
            out.append(command)
            continue
        at = NOW_INDEX.get(command[0])
        # The error's at_ms is the router's clock after the refusal: equal to the command's
        # now_ms exactly when the clock moved there (and fired what was due) before refusing.
        if at is not None and at < len(command) and command[at] == error.at_ms:
            out.append(("timeout", error.at_ms))
    return out


def recover(
    journal: Journal,
    tenant: str,
    config_json: str | None = None,
    *,
    use_snapshot: bool = True,
    chunk: int = 1024,
    service: list[Command] | None = None,
) -> Recovered:
    """The tenant's router as of its last committed entry. ``config_json`` (default: the one
    ``Journal.set_config`` stored) builds the router when there is no snapshot to start from;
    ``use_snapshot=False`` replays the whole journal (it must not have been pruned).
    The service's own commands (``acd.server.service_state``, names ``svc:...``) are not the
    router's: they go to ``service``, in order, when given, and are skipped otherwise."""
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    last = journal.last_seq(tenant)  # read first: appends meanwhile could only add to it
    snapshot = journal.latest_snapshot(tenant) if use_snapshot else None
    if snapshot is not None:
        try:
            router = Router.from_snapshot(snapshot.data)
        except (AcdError, ValueError) as e:
            raise CorruptEntryError(tenant, snapshot.seq, f"unreadable snapshot: {e}") from e
        start = snapshot.seq
    else:
        config = config_json if config_json is not None else journal.config(tenant)
        if config is None:
            raise CorruptEntryError(tenant, 0, "no snapshot and no config to start from")
        router = Router(config)
        start = 0

    expected = start + 1
    batch: list[Command] = []
    seqs: list[int] = []  # the entry of each command in ``batch``
    for seq, entry in journal.entries(tenant, after=start):
        if seq != expected:
            raise CorruptEntryError(tenant, expected, f"entry missing (the next is seq {seq})")
        try:
            commands = commands_of(entry)
        except ValueError as e:
            raise CorruptEntryError(tenant, seq, str(e)) from e
        if any(c[0].startswith("svc:") for c in commands):
            if service is not None:
                service += [c for c in commands if c[0].startswith("svc:")]
            commands = [c for c in commands if not c[0].startswith("svc:")]
        batch += commands
        seqs += [seq] * len(commands)
        expected += 1
        if len(batch) >= chunk:
            _replay(router, tenant, seqs, batch)
            batch, seqs = [], []
    _replay(router, tenant, seqs, batch)
    if expected - 1 < last:
        raise CorruptEntryError(tenant, expected, f"entries missing up to seq {last}")
    return Recovered(router, expected - 1)


def _replay(router: Router, tenant: str, seqs: list[int], batch: list[Command]) -> None:
    if not batch:
        return
    try:
        events = router.apply_batch(batch)
    except ValueError:
        # The batch is parsed before anything is applied, so nothing happened: go one by one
        # to apply the good commands and name the bad one's entry.
        for i, command in enumerate(batch):
            try:
                one = router.apply_batch([command])
            except ValueError as e:
                raise CorruptEntryError(tenant, seqs[i], f"not a command: {e}") from e
            _check(one, tenant, seqs[i : i + 1])
        raise  # unreachable unless the router's parsing depends on more than one tuple
    _check(events, tenant, seqs)


def _check(events: Sequence[Event], tenant: str, seqs: list[int]) -> None:
    refused = refused_by_index(events)
    if refused:
        index = min(refused)
        detail = refused[index].detail
        raise CorruptEntryError(tenant, seqs[index], f"refused on replay: {detail}")
    if any(e.kind == "error" for e in events):  # an error event in an unknown format
        raise CorruptEntryError(tenant, seqs[0], "refused on replay")
