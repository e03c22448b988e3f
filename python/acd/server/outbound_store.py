"""Outbound work lists as the service keeps them: definitions, entries and their progress.

This is pure state, durable the way the service's other state is (acd.server.service_state):
every change is a ``svc:ob-*`` command journaled in the same journal entry, and in the same
order, as the router commands it goes with, and replay applies the same commands to rebuild
it. The whole state rides in the ``svc:state`` command written after each snapshot. So a
release (the router's enqueue of a task and the ``svc:ob-release`` of its entry share one
entry) is either committed with its task or not at all: a restart neither loses nor doubles
one. Applying a command is a pure function of the state and the command.

Commands (times in ms since the epoch):

- ``("svc:ob-list", definition, now)``: creates or replaces a list (``WorkListDef.dump``);
- ``("svc:ob-pause", list_id, paused, now)``;
- ``("svc:ob-entries", list_id, [[entry_id, number, name, attributes], ...], now)``: new
  entries (the service leaves out the ids the list has), pending at once;
- ``("svc:ob-release", list_id, entry_id, call_id, now)``: the entry's task entered the line;
- ``("svc:ob-return", call_id, now)``: the task left the line before an agent took it
  (taken back, expired, overflowed out): the entry is pending again, no attempt counted;
- ``("svc:ob-attempt", call_id, agent_id, outcome, now)``: an agent's attempt ended with
  ``outcome``; the list's retry rules (as defined at that moment) decide what follows.

Entry states: ``pending`` -> (release) ``in-line`` -> (return) ``pending``, or (attempt)
``pending`` (a retryable outcome with attempts left: not before now + the gap),
``completed`` or ``failed``.
"""

from __future__ import annotations

import heapq
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from acd.server.journal_format import Command

PREFIX = "svc:ob-"
MINUTE_MS = 60_000

OUTCOMES = (
    "contacted",
    "no-answer",
    "busy",
    "voicemail",
    "wrong-number",
    "declined",
    "unrecorded",
)
FAILING = frozenset({"wrong-number", "declined"})
DEFAULT_RETRY_ON = ("no-answer", "busy", "unrecorded")

PENDING, IN_LINE, COMPLETED, FAILED = "pending", "in-line", "completed", "failed"


@dataclass(frozen=True, slots=True)
class WorkListDef:
    """A list's definition with every default filled in."""

    id: str
    name: str
    queue_id: str
    priority: int
    max_in_line: int
    max_per_minute: int  # 0: no limit
    max_attempts: int
    retry_gap_ms: int
    retry_on: tuple[str, ...]
    hours_id: str  # "": the queue's hours
    min_service_level: float  # 0: no condition

    def dump(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "queue_id": self.queue_id,
            "priority": self.priority,
            "max_in_line": self.max_in_line,
            "max_per_minute": self.max_per_minute,
            "max_attempts": self.max_attempts,
            "retry_gap_ms": self.retry_gap_ms,
            "retry_on": list(self.retry_on),
            "hours_id": self.hours_id,
            "min_service_level": self.min_service_level,
        }

    @staticmethod
    def load(data: Mapping[str, Any]) -> WorkListDef:
        values = dict(data)
        values["retry_on"] = tuple(values["retry_on"])
        return WorkListDef(**values)


@dataclass(frozen=True, slots=True)
class Attempt:
    call_id: str
    agent_id: str
    outcome: str
    at_ms: int


@dataclass(slots=True)
class Entry:
    entry_id: str
    number: str
    name: str
    attributes: dict[str, str]
    seq: int  # loading order within the list
    state: str = PENDING
    not_before_ms: int = 0
    releases: int = 0  # tasks released so far (each has its own call id)
    call_id: str = ""  # the task in line
    attempts: list[Attempt] = field(default_factory=list)

    def dump(self) -> list[Any]:
        attempts = [[a.call_id, a.agent_id, a.outcome, a.at_ms] for a in self.attempts]
        return [
            *(self.entry_id, self.number, self.name, self.attributes, self.seq, self.state),
            *(self.not_before_ms, self.releases, self.call_id, attempts),
        ]

    @staticmethod
    def load(row: Sequence[Any]) -> Entry:
        entry_id, number, name, attributes, seq, state, not_before, releases, call_id = row[:9]
        attempts = [Attempt(*a) for a in row[9]]
        return Entry(
            entry_id, number, name, dict(attributes), seq, state, not_before, releases, call_id,
            attempts,
        )  # fmt: skip


class WorkList:
    """One list: its definition, entries (in loading order) and the pending ones by due time."""

    def __init__(self, definition: WorkListDef) -> None:
        self.definition = definition
        self.paused = False
        self.entries: dict[str, Entry] = {}
        self.in_line: set[str] = set()
        self.releases: deque[int] = deque()  # release times within the last minute
        self.counts: Counter[str] = Counter()  # entries per state
        self.outcomes: Counter[str] = Counter()  # attempts per outcome
        self._due: list[tuple[int, int, str]] = []  # (not_before, seq, entry), may be stale

    def add(self, entry: Entry) -> None:
        self.entries[entry.entry_id] = entry
        self.counts[entry.state] += 1
        if entry.state == PENDING:
            heapq.heappush(self._due, (entry.not_before_ms, entry.seq, entry.entry_id))
        elif entry.state == IN_LINE:
            self.in_line.add(entry.entry_id)
        for attempt in entry.attempts:
            self.outcomes[attempt.outcome] += 1

    def move(self, entry: Entry, state: str) -> None:
        self.counts[entry.state] -= 1
        self.counts[state] += 1
        entry.state = state
        if state == IN_LINE:
            self.in_line.add(entry.entry_id)
        else:
            self.in_line.discard(entry.entry_id)
        if state == PENDING:
            heapq.heappush(self._due, (entry.not_before_ms, entry.seq, entry.entry_id))

    def next_pending(self) -> Entry | None:
        """The pending entry released next: the earliest due, then the first loaded."""
        while self._due:
            not_before, _, entry_id = self._due[0]
            entry = self.entries[entry_id]
            if entry.state == PENDING and entry.not_before_ms == not_before:
                return entry
            heapq.heappop(self._due)  # released or rescheduled since
        return None

    def due_entries(self, now_ms: int, limit: int) -> list[Entry]:
        """Up to ``limit`` pending entries due by ``now_ms``, in release order."""
        out: list[Entry] = []
        while len(out) < limit and (entry := self.next_pending()) is not None:
            if entry.not_before_ms > now_ms:
                break
            heapq.heappop(self._due)
            out.append(entry)
        for entry in out:  # still pending until their release is applied
            heapq.heappush(self._due, (entry.not_before_ms, entry.seq, entry.entry_id))
        return out

    def released_within_minute(self, now_ms: int) -> int:
        while self.releases and self.releases[0] <= now_ms - MINUTE_MS:
            self.releases.popleft()
        return len(self.releases)

    def after(self, entry_id: str) -> Iterator[Entry]:
        """The entries after ``entry_id`` in loading order (all of them for "")."""
        found = not entry_id
        for entry in self.entries.values():
            if found:
                yield entry
            found = found or entry.entry_id == entry_id


class OutboundState:
    """Every work list of one tenant, and which list and entry each task in line belongs to."""

    def __init__(self) -> None:
        self.lists: dict[str, WorkList] = {}
        self.tasks: dict[str, tuple[str, str]] = {}  # call id -> (list id, entry id)

    def __bool__(self) -> bool:
        return bool(self.lists)

    def entry_of(self, call_id: str) -> tuple[WorkList, Entry] | None:
        found = self.tasks.get(call_id)
        if found is None:
            return None
        work_list = self.lists[found[0]]
        return work_list, work_list.entries[found[1]]

    # ---- applying commands ----------------------------------------------------------------

    def apply(self, command: Command) -> None:
        name = command[0]
        if name == "svc:ob-list":
            definition = WorkListDef.load(command[1])
            known = self.lists.get(definition.id)
            if known is None:
                self.lists[definition.id] = WorkList(definition)
            else:
                known.definition = definition
        elif name == "svc:ob-pause":
            self.lists[command[1]].paused = bool(command[2])
        elif name == "svc:ob-entries":
            work_list = self.lists[command[1]]
            for entry_id, number, name_, attributes in command[2]:
                if entry_id not in work_list.entries:
                    seq = len(work_list.entries)
                    work_list.add(Entry(entry_id, number, name_, dict(attributes), seq))
        elif name == "svc:ob-release":
            self._release(command[1], command[2], command[3], command[4])
        elif name == "svc:ob-return":
            found = self.entry_of(command[1])
            if found is not None:
                del self.tasks[command[1]]
                found[1].call_id = ""
                found[0].move(found[1], PENDING)
        elif name == "svc:ob-attempt":
            self._attempt(command[1], command[2], command[3], command[4])
        else:
            raise ValueError(f"not an outbound command: {name!r}")

    def _release(self, list_id: str, entry_id: str, call_id: str, now: int) -> None:
        work_list = self.lists[list_id]
        entry = work_list.entries[entry_id]
        entry.releases += 1
        entry.call_id = call_id
        entry.not_before_ms = 0
        work_list.move(entry, IN_LINE)
        work_list.releases.append(now)
        work_list.released_within_minute(now)
        self.tasks[call_id] = (list_id, entry_id)

    def _attempt(self, call_id: str, agent_id: str, outcome: str, now: int) -> None:
        found = self.entry_of(call_id)
        if found is None:
            return
        work_list, entry = found
        del self.tasks[call_id]
        entry.call_id = ""
        entry.attempts.append(Attempt(call_id, agent_id, outcome, now))
        work_list.outcomes[outcome] += 1
        rules = work_list.definition
        if outcome in rules.retry_on and len(entry.attempts) < rules.max_attempts:
            entry.not_before_ms = now + rules.retry_gap_ms
            work_list.move(entry, PENDING)
        elif outcome in FAILING or outcome in rules.retry_on:
            work_list.move(entry, FAILED)  # a final failure, or the attempts ran out
        else:
            work_list.move(entry, COMPLETED)

    # ---- the whole state (svc:state) --------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            list_id: {
                "definition": w.definition.dump(),
                "paused": w.paused,
                "releases": list(w.releases),
                "entries": [e.dump() for e in w.entries.values()],
            }
            for list_id, w in self.lists.items()
        }

    def load(self, data: Mapping[str, Any]) -> None:
        self.lists, self.tasks = {}, {}
        for list_id, saved in data.items():
            work_list = WorkList(WorkListDef.load(saved["definition"]))
            work_list.paused = bool(saved["paused"])
            work_list.releases = deque(saved["releases"])
            for row in saved["entries"]:
                entry = Entry.load(row)
                work_list.add(entry)
                if entry.state == IN_LINE:
                    self.tasks[entry.call_id] = (list_id, entry.entry_id)
            self.lists[list_id] = work_list
