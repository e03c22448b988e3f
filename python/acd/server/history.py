"""The contact history: one row per contact (a call detail record), in the journal's SQLite
file, per tenant like the journal's own tables.

A row is written when the router takes the call in (``enqueued_at``, queue, channel, numbers,
campaign, attributes, whether the queue was within business hours), updated when an agent
answers (``answered_at``, ``agent_id``) and completed when the call finishes (``ended_at``,
``outcome`` as the router says it: completed, abandoned, expired, overflowed-out,
transferred-out; ``wait_ms``, ``talk_ms``); the agent's wrap-up adds ``disposition``, ``notes``
and ``wrapup_ms``. The answer also stores the rule that picked the agent (``route_rule``: the
strategy name, ``preferred-agent`` or ``pick``; ``route_detail``: the offer's
``step=<escalation step> tier=<tier> level=<skill level>``); every transfer adds its target to
``transfers`` (JSON ``[[kind, target, at_ms], ...]``, kind queue, agent or destination); the PBX
adapter's recording reference is ``recording`` (acd.server.recordings).
``ended_at IS NULL`` marks a contact still live. A missed contact (see
``acd.server.missed``) carries ``missed = 1``, the automatic callback made for it and when a
later answered contact cleared it. Reports read this table; ``ended_at`` orders it.

Durability: every statement is written in the same SQLite transaction as the journal entry of
the commands whose events it records (``Journal.append(..., extra=...)``, group_commit), so a
contact is committed exactly when the commands that produced it are, and nothing is lost or
half-written by a crash. Recovery replays the journal through the router only; it never runs
these statements again, so a restart cannot duplicate a row (and the primary key
``(tenant, call_id, enqueued_at)`` would refuse one: a call id comes back only as a new
contact, after the tenant's dedup window).

Reads (screen pops, the missed list, FinishWrapUp's catalogue check) use one read connection
on the event loop's thread: WAL readers never wait for the writer, and they see exactly what
is committed, which is everything a client has been told about.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from acd.server.agent_history import AgentHistoryStore
from acd.server.quality_store import EvaluationStore

# The (tenant, caller_number, enqueued_at) index serves the screen pop (calls from a number
# in a period, the last one); (tenant, ended_at) serves the missed list's period and
# (tenant, enqueued_at) the reports (a contact counts where it entered a queue); the
# partial indexes keep the missed list, the clearing of a caller's open missed contacts on
# each answer and the start-up scan of live contacts small (acd.server.planner_stats makes
# SQLite use them).
SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    tenant TEXT NOT NULL,
    call_id TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    queue_id TEXT NOT NULL,
    first_queue_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    caller_number TEXT NOT NULL DEFAULT '',
    dialled_number TEXT NOT NULL DEFAULT '',
    campaign TEXT NOT NULL DEFAULT '',
    within_hours INTEGER NOT NULL DEFAULT 1,
    attributes TEXT NOT NULL DEFAULT '{}',
    callback_for TEXT NOT NULL DEFAULT '',
    answered_at INTEGER,
    agent_id TEXT NOT NULL DEFAULT '',
    ended_at INTEGER,
    outcome TEXT,
    wait_ms INTEGER,
    talk_ms INTEGER,
    wrapup_ms INTEGER,
    disposition TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    missed INTEGER NOT NULL DEFAULT 0,
    callback_call_id TEXT NOT NULL DEFAULT '',
    callback_due_at INTEGER,
    cleared_at INTEGER,
    cleared_by TEXT NOT NULL DEFAULT '',
    route_rule TEXT NOT NULL DEFAULT '',
    route_detail TEXT NOT NULL DEFAULT '',
    transfers TEXT NOT NULL DEFAULT '[]',
    recording TEXT NOT NULL DEFAULT '',
    recording_at INTEGER,
    callback_attempt INTEGER NOT NULL DEFAULT 0,
    callback_result TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant, call_id, enqueued_at)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS contacts_by_caller ON contacts (tenant, caller_number, enqueued_at);
-- A caller's latest answered contact (a screen pop's last agent and disposition) in one step,
-- however many unanswered contacts of the number came after it.
CREATE INDEX IF NOT EXISTS contacts_handled_by_caller
    ON contacts (tenant, caller_number, enqueued_at) WHERE answered_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS contacts_by_end ON contacts (tenant, ended_at);
CREATE INDEX IF NOT EXISTS contacts_by_start ON contacts (tenant, enqueued_at);
CREATE INDEX IF NOT EXISTS contacts_missed ON contacts (tenant, ended_at) WHERE missed = 1;
CREATE INDEX IF NOT EXISTS contacts_missed_open ON contacts (tenant, caller_number)
    WHERE missed = 1 AND cleared_at IS NULL;
CREATE INDEX IF NOT EXISTS contacts_live ON contacts (tenant) WHERE ended_at IS NULL;
"""
TABLE = "contacts"
COUNT_CAP = 1000  # a screen pop's call counts stop here (ScreenPop.calls_today, calls_30_days)
# Columns added since the table's first version, in the order they were added: ``migrate``
# adds what an older file lacks, at the end, where a new file has them too (an export copies
# rows by position).
ADDED_COLUMNS = (
    ("route_rule", "TEXT NOT NULL DEFAULT ''"),
    ("route_detail", "TEXT NOT NULL DEFAULT ''"),
    ("transfers", "TEXT NOT NULL DEFAULT '[]'"),
    ("recording", "TEXT NOT NULL DEFAULT ''"),
    ("recording_at", "INTEGER"),
    ("callback_attempt", "INTEGER NOT NULL DEFAULT 0"),
    ("callback_result", "TEXT NOT NULL DEFAULT ''"),
)


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Adds the columns an older journal file's contacts table lacks (after ``SCHEMA`` ran);
    gives their names. Old rows read them as their defaults: no rule, no transfer, no
    recording."""
    present = {row[1] for row in conn.execute(f"PRAGMA table_info({TABLE})")}
    added = []
    for name, kind in ADDED_COLUMNS:
        if name not in present:
            conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {name} {kind}")
            added.append(name)
    return added


# One statement of a journal transaction: SQL and its parameters.
Statement = tuple[str, tuple[Any, ...]]
# One transfer of a contact: kind (queue, agent, destination), target, when (ms).
Transfer = tuple[str, str, int]


@dataclass(slots=True)
class Contact:
    """One contact as the history keeps it (a live one has ``ended_at`` None)."""

    call_id: str
    enqueued_at: int
    queue_id: str
    channel: str
    priority: int = 0
    caller_number: str = ""
    dialled_number: str = ""
    campaign: str = ""
    within_hours: bool = True
    attributes: Mapping[str, str] = field(default_factory=dict)
    callback_for: str = ""  # the missed call this automatic callback is for
    first_queue_id: str = ""
    answered_at: int | None = None
    agent_id: str = ""
    ended_at: int | None = None
    outcome: str | None = None
    disposition: str = ""
    notes: str = ""
    missed: bool = False
    callback_call_id: str = ""
    callback_due_at: int | None = None
    cleared_at: int | None = None
    cleared_by: str = ""
    wrapup_ms: int | None = None  # after-call work, once the agent finished it
    route_rule: str = ""  # the rule that picked the agent who answered last
    route_detail: str = ""  # its offer's detail: "step=2 tier=1 level=7"
    transfers: tuple[Transfer, ...] = ()  # in order
    recording: str = ""  # the PBX adapter's reference (a URL or an absolute path)
    recording_at: int | None = None  # when it was attached
    callback_attempt: int = 0  # a callback: its try, 1 for the first; 0: not a callback
    callback_result: str = ""  # the adapter's EndCall: reached, no-answer, busy, failed

    @property
    def wait_ms(self) -> int:
        """Time in line until answered, or until the end for a call never answered."""
        until = self.answered_at if self.answered_at is not None else self.ended_at
        return max(0, (until if until is not None else self.enqueued_at) - self.enqueued_at)

    @property
    def talk_ms(self) -> int:
        if self.answered_at is None or self.ended_at is None:
            return 0
        return max(0, self.ended_at - self.answered_at)


_COLUMNS = (
    *("call_id", "enqueued_at", "queue_id", "channel", "priority", "caller_number"),
    *("dialled_number", "campaign", "within_hours", "attributes", "callback_for"),
    *("first_queue_id", "answered_at", "agent_id", "ended_at", "outcome", "disposition"),
    *("notes", "missed", "callback_call_id", "callback_due_at", "cleared_at", "cleared_by"),
    *("wrapup_ms", "route_rule", "route_detail", "transfers", "recording", "recording_at"),
    *("callback_attempt", "callback_result"),
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM contacts"


def _contact(row: Sequence[Any]) -> Contact:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["within_hours"] = bool(values["within_hours"])
    values["missed"] = bool(values["missed"])
    values["attributes"] = json.loads(values["attributes"] or "{}")
    values["transfers"] = tuple(
        (str(kind), str(target), int(at)) for kind, target, at in json.loads(values["transfers"])
    )
    return Contact(**values)


# One encoder for every row: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True)


def _attributes(contact: Contact) -> str:
    return _ENCODER.encode(dict(contact.attributes)) if contact.attributes else "{}"


def _transfers(contact: Contact) -> str:
    return _ENCODER.encode([list(t) for t in contact.transfers]) if contact.transfers else "[]"


# ---- statements (written by the journal's writer, in the entry's transaction) -------------

_INSERT_LIVE = (
    "INSERT OR IGNORE INTO contacts (tenant, call_id, enqueued_at, queue_id, first_queue_id,"
    " channel, priority, caller_number, dialled_number, campaign, within_hours, attributes,"
    " callback_for) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


def insert_live(tenant: str, c: Contact) -> Statement:
    """The row of a call the router just took in."""
    return (
        _INSERT_LIVE,
        (
            *(tenant, c.call_id, c.enqueued_at, c.queue_id, c.first_queue_id or c.queue_id),
            *(c.channel, c.priority, c.caller_number, c.dialled_number, c.campaign),
            *(int(c.within_hours), _attributes(c), c.callback_for),
        ),
    )


def contact_keys(statements: Sequence[Statement]) -> Iterator[tuple[str, int, str]]:
    """(caller_number, enqueued_at, call_id) of each row ``statements`` may add to contacts
    (``insert_live`` and ``finished``: both start with tenant, call_id, enqueued_at, queue ids,
    channel, priority, caller_number)."""
    for sql, params in statements:
        if sql in (_INSERT_LIVE, _FINISH):
            yield params[7], params[2], params[1]


def answered(tenant: str, c: Contact) -> Statement:
    """An agent took the call (the first answer stays: a transfer answered again is the same
    contact, its wait ended at the first answer), picked by ``c.route_rule``."""
    return (
        "UPDATE contacts SET answered_at = COALESCE(answered_at, ?), agent_id = ?,"
        " route_rule = ?, route_detail = ? WHERE tenant = ? AND call_id = ? AND enqueued_at = ?",
        (
            *(c.answered_at, c.agent_id, c.route_rule, c.route_detail),
            *(tenant, c.call_id, c.enqueued_at),
        ),
    )


def transferred(tenant: str, c: Contact) -> Statement:
    """``c.transfers`` grew by one."""
    return (
        "UPDATE contacts SET transfers = ? WHERE tenant = ? AND call_id = ? AND enqueued_at = ?",
        (_transfers(c), tenant, c.call_id, c.enqueued_at),
    )


def recording(tenant: str, c: Contact) -> Statement:
    """The PBX adapter attached ``c.recording`` (at ``c.recording_at``)."""
    return (
        "UPDATE contacts SET recording = ?, recording_at = ?"
        " WHERE tenant = ? AND call_id = ? AND enqueued_at = ?",
        (c.recording, c.recording_at, tenant, c.call_id, c.enqueued_at),
    )


# The whole row, so a contact live before the history existed (no row yet) is complete too;
# disposition and notes are the wrap-up's and stay as they are. The open contact holds its
# rule, transfers and recording as its row does, so writing them again changes nothing there.
_FINISH = (
    "INSERT INTO contacts (tenant, call_id, enqueued_at, queue_id, first_queue_id, channel,"
    " priority, caller_number, dialled_number, campaign, within_hours, attributes, callback_for,"
    " answered_at, agent_id, ended_at, outcome, wait_ms, talk_ms, missed, callback_call_id,"
    " callback_due_at, route_rule, route_detail, transfers, recording, recording_at,"
    " callback_attempt, callback_result)"
    f" VALUES ({', '.join('?' * 29)})"
    " ON CONFLICT (tenant, call_id, enqueued_at) DO UPDATE SET queue_id = excluded.queue_id,"
    " answered_at = excluded.answered_at, agent_id = excluded.agent_id,"
    " ended_at = excluded.ended_at, outcome = excluded.outcome, wait_ms = excluded.wait_ms,"
    " talk_ms = excluded.talk_ms, missed = excluded.missed,"
    " callback_call_id = excluded.callback_call_id, callback_due_at = excluded.callback_due_at,"
    " route_rule = excluded.route_rule, route_detail = excluded.route_detail,"
    " transfers = excluded.transfers, recording = excluded.recording,"
    " recording_at = excluded.recording_at, callback_attempt = excluded.callback_attempt,"
    " callback_result = excluded.callback_result"
)


def finished(tenant: str, c: Contact) -> Statement:
    """The call finished (``c.ended_at`` and ``c.outcome`` set)."""
    return (
        _FINISH,
        (
            *(tenant, c.call_id, c.enqueued_at, c.queue_id, c.first_queue_id or c.queue_id),
            *(c.channel, c.priority, c.caller_number, c.dialled_number, c.campaign),
            *(int(c.within_hours), _attributes(c), c.callback_for, c.answered_at, c.agent_id),
            *(c.ended_at, c.outcome, c.wait_ms, c.talk_ms, int(c.missed), c.callback_call_id),
            *(c.callback_due_at, c.route_rule, c.route_detail, _transfers(c), c.recording),
            *(c.recording_at, c.callback_attempt, c.callback_result),
        ),
    )


def disposition(tenant: str, call_id: str, code: str, notes: str, done_at: int) -> Statement:
    """The agent's wrap-up of ``call_id`` (its latest contact): code, notes, wrap-up time."""
    return (
        "UPDATE contacts SET disposition = ?, notes = ?, wrapup_ms = MAX(0, ? - ended_at)"
        " WHERE tenant = ? AND call_id = ? AND enqueued_at ="
        " (SELECT MAX(enqueued_at) FROM contacts WHERE tenant = ? AND call_id = ?)",
        (code, notes, done_at, tenant, call_id, tenant, call_id),
    )


def wrapup_over(tenant: str, call_id: str, done_at: int) -> Statement:
    """The end of the after-call work on ``call_id`` when no disposition recorded it (a timed
    wrap-up, or none at all): its wrap-up time, for AHT."""
    return (
        "UPDATE contacts SET wrapup_ms = MAX(0, ? - ended_at)"
        " WHERE tenant = ? AND call_id = ? AND wrapup_ms IS NULL AND enqueued_at ="
        " (SELECT MAX(enqueued_at) FROM contacts WHERE tenant = ? AND call_id = ?)",
        (done_at, tenant, call_id, tenant, call_id),
    )


def clear_missed(tenant: str, by: Contact, at: int) -> Statement:
    """``by`` was answered: the missed contacts of its caller in its queue (and the one it is
    the callback for) are done."""
    return (
        "UPDATE contacts SET cleared_at = ?, cleared_by = ? WHERE tenant = ? AND missed = 1"
        " AND cleared_at IS NULL AND caller_number = ? AND (queue_id = ? OR call_id = ?)",
        (at, by.call_id, tenant, by.caller_number, by.queue_id, by.callback_for),
    )


# ---- reads ----------------------------------------------------------------------------------


class PreviousCall(NamedTuple):
    """What a screen pop shows of a caller's earlier contact."""

    enqueued_at: int
    campaign: str
    answered_at: int | None
    agent_id: str
    disposition: str


_PREVIOUS = ", ".join(PreviousCall._fields)


class HistoryStore:
    """Reads of one tenant's contacts through one read connection (opened on first use)."""

    def __init__(self, path: str, tenant: str) -> None:
        self._path = path
        self.tenant = tenant
        self._conn: sqlite3.Connection | None = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self._conn = sqlite3.connect(self._path, isolation_level=None)
            self._conn.execute("PRAGMA busy_timeout=10000")
        return self._conn

    def agents(self) -> AgentHistoryStore:
        """The agents' history through the same read connection (reports)."""
        return AgentHistoryStore(self._db(), self.tenant)

    def evaluations(self) -> EvaluationStore:
        """The quality evaluations through the same read connection."""
        return EvaluationStore(self._db(), self.tenant)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _rows(self, where: str, args: Sequence[Any]) -> Iterator[Contact]:
        for row in self._db().execute(
            f"{_SELECT} WHERE tenant = ? AND {where}", (self.tenant, *args)
        ):
            yield _contact(row)

    def live(self) -> list[Contact]:
        """The contacts not yet finished (the calls the router holds)."""
        return list(self._rows("ended_at IS NULL ORDER BY enqueued_at", ()))

    def latest(self, call_id: str) -> Contact | None:
        """The latest contact with this call id."""
        rows = self._rows("call_id = ? ORDER BY enqueued_at DESC LIMIT 1", (call_id,))
        return next(rows, None)

    def counts_by_caller(
        self, caller_number: str, since_ms: Sequence[int], until_ms: int
    ) -> tuple[int, ...]:
        """For each start in ``since_ms``: how many contacts came in from ``caller_number`` in
        [start, until_ms], up to ``COUNT_CAP``. One walk of the caller index, newest first, for
        every window: the newest ``COUNT_CAP`` contacts of the widest window hold every
        narrower window's newest ``COUNT_CAP``. Counting walks one index entry per contact:
        uncapped, a switchboard number with 50,000 calls in 30 days cost 6.6 ms per screen pop
        on the event loop (0.2 ms at 100)."""
        if not since_ms:
            return ()
        sums = ", ".join("COALESCE(SUM(enqueued_at >= ?), 0)" for _ in since_ms)
        row = (
            self._db()
            .execute(
                f"SELECT {sums} FROM (SELECT enqueued_at FROM contacts WHERE tenant = ?"
                " AND caller_number = ? AND enqueued_at >= ? AND enqueued_at <= ?"
                " ORDER BY enqueued_at DESC LIMIT ?)",
                (*since_ms, self.tenant, caller_number, min(since_ms), until_ms, COUNT_CAP),
            )
            .fetchone()
        )
        return tuple(int(n) for n in row)

    def newest_by_caller(self, caller_number: str, since_ms: int) -> list[tuple[int, str]]:
        """(enqueued_at, call_id) of the newest ``COUNT_CAP`` contacts of ``caller_number``
        from ``since_ms`` on (``caller_counts`` loads a busy number with it)."""
        return (
            self._db()
            .execute(
                "SELECT enqueued_at, call_id FROM contacts WHERE tenant = ? AND caller_number = ?"
                " AND enqueued_at >= ? ORDER BY enqueued_at DESC LIMIT ?",
                (self.tenant, caller_number, since_ms, COUNT_CAP),
            )
            .fetchall()
        )

    def latest_by_caller(self, caller_number: str, before_ms: int, exclude: str) -> Contact | None:
        """The latest contact of ``caller_number`` that came in at or before ``before_ms``, not
        ``exclude``."""
        where = (
            "caller_number = ? AND enqueued_at <= ? AND call_id != ?"
            " ORDER BY enqueued_at DESC, call_id LIMIT 1"
        )
        return next(self._rows(where, (caller_number, before_ms, exclude)), None)

    def previous_by_caller(
        self, caller_number: str, before_ms: int, exclude: str
    ) -> PreviousCall | None:
        """``latest_by_caller``'s contact, only what a screen pop shows of it: a third of the
        cost of a whole contact (36 columns, two JSON fields) on every offer."""
        return self._previous(caller_number, before_ms, exclude, "", ", call_id")

    def last_handled(self, caller_number: str, before_ms: int, exclude: str) -> PreviousCall | None:
        """The latest answered contact of ``caller_number`` before ``before_ms`` (not
        ``exclude``)."""
        return self._previous(caller_number, before_ms, exclude, " AND answered_at IS NOT NULL")

    def _previous(
        self, caller: str, before_ms: int, exclude: str, also: str, tie: str = ""
    ) -> PreviousCall | None:
        sql = (
            f"SELECT {_PREVIOUS} FROM contacts WHERE tenant = ? AND caller_number = ?"
            f" AND enqueued_at <= ? AND call_id != ?{also} ORDER BY enqueued_at DESC{tie} LIMIT 1"
        )
        row = self._db().execute(sql, (self.tenant, caller, before_ms, exclude)).fetchone()
        return None if row is None else PreviousCall(*row)

    def entered(self, start_ms: int, end_ms: int, queue_ids: Sequence[str]) -> list[Contact]:
        """Contacts that entered one of ``queue_ids`` in [start_ms, end_ms) (reports)."""
        marks = ", ".join("?" * len(queue_ids))
        where = f"enqueued_at >= ? AND enqueued_at < ? AND queue_id IN ({marks})"
        return list(self._rows(where, (start_ms, end_ms, *queue_ids)))

    def finished_page(
        self, start_ms: int, end_ms: int, after: tuple[int, str, int] | None, limit: int
    ) -> list[Contact]:
        """Up to ``limit`` contacts that finished in [start_ms, end_ms), by (ended_at,
        call_id, enqueued_at), after the key ``after`` (keyset paging: a long export never
        holds one read open)."""
        where = "ended_at >= ? AND ended_at < ?"
        args: list[Any] = [start_ms, end_ms]
        if after is not None:
            where += " AND (ended_at, call_id, enqueued_at) > (?, ?, ?)"
            args += after
        where += f" ORDER BY ended_at, call_id, enqueued_at LIMIT {int(limit)}"
        return list(self._rows(where, args))

    def recordings_page(
        self,
        start_ms: int,
        end_ms: int,
        agent_id: str | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[Contact]:
        """Up to ``limit`` contacts with a recording that entered in [start_ms, end_ms) (of
        ``agent_id`` only, when given), by (enqueued_at, call_id), after the key ``after``."""
        where = "recording != '' AND enqueued_at >= ? AND enqueued_at < ?"
        args: list[Any] = [start_ms, end_ms]
        if agent_id is not None:
            where += " AND agent_id = ?"
            args.append(agent_id)
        if after is not None:
            where += " AND (enqueued_at, call_id) > (?, ?)"
            args += after
        where += f" ORDER BY enqueued_at, call_id LIMIT {int(limit)}"
        return list(self._rows(where, args))

    def missed(
        self, queue_ids: Sequence[str], since_ms: int, include_cleared: bool, limit: int
    ) -> list[Contact]:
        """Missed contacts that ended at or after ``since_ms`` in ``queue_ids``, newest
        first; the cleared ones too when asked."""
        marks = ", ".join("?" * len(queue_ids))
        where = f"missed = 1 AND ended_at >= ? AND queue_id IN ({marks})"
        if not include_cleared:
            where += " AND cleared_at IS NULL"
        where += " ORDER BY ended_at DESC, call_id"
        if limit:
            where += f" LIMIT {int(limit)}"
        return list(self._rows(where, (since_ms, *queue_ids)))
