"""The service's durable journal: every state-changing command, per tenant, in SQLite.

The journal records inputs, not effects: each entry is one command exactly as the router's
batch tuple, time included (``journal_format``). The router is deterministic (DESIGN.md, I7), so
replaying a tenant's entries through a fresh router (``acd.server.recovery``) rebuilds the same
state and makes the same decisions. Snapshots (``Router.snapshot()`` bytes at a seq) bound how
much there is to replay.

Durability: one SQLite file in the service's data directory, WAL mode, ``synchronous=FULL``.
Acknowledged means committed: the future ``append`` returns resolves only after the COMMIT of
the transaction that holds the entry has returned, and a failed commit reaches every waiter as
:class:`CommitError`, never as an acknowledgement. Appends from many coroutines are grouped into
one transaction by a single writer thread (``group_commit``), so fsync never blocks the event
loop and many appends share one fsync. The converse does not hold: after a failed COMMIT (an
I/O error during fsync) the entries may still turn up after a restart; they were never
acknowledged, and clients retry with the same idempotency key (``call_id``).

Tenants: every tenant has its own gap-free sequence (1, 2, 3, ...) and its own rows, keyed by
(tenant, seq), so one tenant can be exported to a file, imported on another node and deleted
here without touching the others. Moving a tenant: stop its router, ``export_tenant``,
``import_tenant`` there, ``delete_tenant`` here.

Beside the commands, the same file keeps what the service needs to run a tenant that the router
does not hold: the tenant registry, its configuration versions and the tokens issued through
the API (``journal_service``), per tenant like the rest; and the contact history
(``acd.server.history``), whose rows an append carries and commits with its entry.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, NamedTuple

from acd.server import history, planner_stats
from acd.server.group_commit import GroupCommitWriter, JournalStats, Then
from acd.server.journal_format import (
    SCHEMA,
    Command,
    CommitError,
    CorruptEntryError,
    JournalClosedError,
    JournalError,
    decode_command,
    encode_command,
)
from acd.server.journal_service import (
    CONFIG_SCHEMA,
    KEEP_CONFIGS,
    TENANT_TABLES,
    IssuedToken,
    ServiceTables,
    StoredConfig,
)
from acd.server.sql_transaction import Statement, transaction

__all__ = [
    "CONFIG_SCHEMA",
    "KEEP_CONFIGS",
    "TENANT_TABLES",
    "Command",
    "CommitError",
    "CorruptEntryError",
    "IssuedToken",
    "Journal",
    "JournalClosedError",
    "JournalError",
    "JournalStats",
    "Snapshot",
    "StoredConfig",
]

BUSY_TIMEOUT_MS = 10_000


class Snapshot(NamedTuple):
    """A router's ``snapshot()`` bytes after the tenant's entries up to ``seq`` were applied."""

    seq: int
    data: bytes


def _connect(path: str) -> sqlite3.Connection:
    return sqlite3.connect(path, check_same_thread=False)


class Journal(ServiceTables):
    """One journal file shared by all tenants; see the module docstring.

    ``connect`` opens the writer's connection (tests pass one that fails on purpose); it must
    allow use from another thread (``check_same_thread=False``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_batch: int = 1024,
        keep_snapshots: int = 3,
        connect: Callable[[str], sqlite3.Connection] = _connect,
    ) -> None:
        if keep_snapshots < 1:
            raise ValueError(f"keep_snapshots must be >= 1, got {keep_snapshots}")
        self._path = os.fspath(path)
        self._keep = keep_snapshots
        conn = connect(self._path)
        try:
            conn.isolation_level = None  # autocommit: the writer issues BEGIN / COMMIT itself
            (mode,) = conn.execute("PRAGMA journal_mode=WAL").fetchone()
            if str(mode).lower() != "wal":
                raise JournalError(f"{self._path}: SQLite refused WAL mode (got {mode!r})")
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            conn.executescript(SCHEMA + CONFIG_SCHEMA)
            history.migrate(conn)  # a file from before the contacts' newer columns
            planner_stats.write(conn)
            last_seqs = {t: s for t, s in conn.execute("SELECT tenant, last_seq FROM tenants")}
        except BaseException:
            conn.close()
            raise
        self._writer = GroupCommitWriter(conn, self._path, last_seqs, max_batch)

    @property
    def path(self) -> str:
        return self._path

    @property
    def stats(self) -> JournalStats:
        return self._writer.stats

    async def close(self) -> None:
        """Commits everything pending, then stops the writer thread."""
        await self._writer.close()

    async def __aenter__(self) -> Journal:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- writes -----------------------------------------------------------------------

    def append(
        self,
        tenant: str,
        command: Command,
        extra: Sequence[Statement] = (),
        then: Then | None = None,
    ) -> asyncio.Future[int]:
        """Journals one command; the future gives its seq once committed, or raises
        :class:`CommitError`. A command that would not round-trip is refused at once
        (TypeError / ValueError), as is any write to a closed or failed journal. ``extra``
        statements (the contact history's rows) commit in the same transaction. ``then``
        hears the outcome, ``(seq, None)`` or ``(None, error)``, in the event loop's turn
        that settles the future (its done-callbacks run a turn later)."""
        future: asyncio.Future[int] = self._writer.submit_append(
            tenant, [encode_command(command)], many=False, extra=extra, then=then
        )
        return future

    def append_many(self, tenant: str, commands: Sequence[Command]) -> asyncio.Future[list[int]]:
        """Journals commands together (one transaction: all or none); the future gives their
        consecutive seqs once committed."""
        encoded = [encode_command(c) for c in commands]
        future: asyncio.Future[list[int]] = self._writer.submit_append(tenant, encoded, many=True)
        return future

    def set_config(self, tenant: str, config_json: str) -> asyncio.Future[None]:
        """Records the router config the tenant's journal starts from (its state at seq 0), so
        recovery and an exported tenant need nothing else. Refused once entries exist."""

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> None:
            if last_seqs.get(tenant, 0) > 0:
                raise ValueError(f"tenant {tenant!r} has entries: its initial config is fixed")
            with transaction(conn):
                conn.execute(
                    "INSERT INTO tenants (tenant, config) VALUES (?, ?) "
                    "ON CONFLICT (tenant) DO UPDATE SET config = excluded.config",
                    (tenant, config_json),
                )
            last_seqs.setdefault(tenant, 0)

        return self._writer.submit_op(op)

    def save_snapshot(
        self, tenant: str, seq: int, data: bytes, then: Command | None = None
    ) -> asyncio.Future[None]:
        """Stores the router's snapshot taken right after entry ``seq`` (0: before any) was
        applied, and drops all but the newest ``keep_snapshots`` of the tenant. ``then`` is
        journaled as entry ``seq + 1`` in the same transaction: the service's own state, which
        the snapshot does not hold, so that no crash can keep the one without the other."""
        if type(data) is not bytes or type(seq) is not int or seq < 0:
            raise TypeError("a snapshot is bytes at an int seq >= 0")
        keep = self._keep
        after = None if then is None else encode_command(then)

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> None:
            last = last_seqs.get(tenant, 0)
            if seq > last:
                raise ValueError(f"snapshot seq {seq} of tenant {tenant!r} is past its last {last}")
            with transaction(conn):
                (newest,) = conn.execute(
                    "SELECT MAX(seq) FROM snapshots WHERE tenant = ?", (tenant,)
                ).fetchone()
                if newest is not None and seq < newest:
                    raise ValueError(f"tenant {tenant!r} has a newer snapshot (seq {newest})")
                conn.execute(
                    "INSERT OR REPLACE INTO snapshots (tenant, seq, data) VALUES (?, ?, ?)",
                    (tenant, seq, data),
                )
                if after is not None:
                    if seq != last:
                        raise ValueError(f"state after snapshot {seq}: the last entry is {last}")
                    last += 1
                    conn.execute(
                        "INSERT INTO entries (tenant, seq, command) VALUES (?, ?, ?)",
                        (tenant, last, after),
                    )
                conn.execute(
                    "INSERT INTO tenants (tenant, last_seq) VALUES (?, ?)"
                    " ON CONFLICT DO UPDATE SET last_seq = excluded.last_seq",
                    (tenant, last),
                )
                conn.execute(
                    "DELETE FROM snapshots WHERE tenant = ? AND seq < (SELECT seq FROM snapshots"
                    " WHERE tenant = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
                    (tenant, tenant, keep - 1),
                )
            last_seqs[tenant] = last

        return self._writer.submit_op(op)

    def prune(self, tenant: str) -> asyncio.Future[int]:
        """Deletes the entries no kept snapshot needs (seq <= the oldest kept snapshot's);
        gives how many. Afterwards the tenant can only be recovered from a snapshot."""

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> int:
            with transaction(conn):
                (oldest,) = conn.execute(
                    "SELECT MIN(seq) FROM snapshots WHERE tenant = ?", (tenant,)
                ).fetchone()
                if oldest is None:
                    return 0
                cursor = conn.execute(
                    "DELETE FROM entries WHERE tenant = ? AND seq <= ?", (tenant, oldest)
                )
                return cursor.rowcount

        return self._writer.submit_op(op)

    def delete_tenant(self, tenant: str) -> asyncio.Future[None]:
        """Removes every row of the tenant (its sequence starts again at 1)."""

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> None:
            with transaction(conn):
                for table in TENANT_TABLES:
                    conn.execute(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))
            last_seqs.pop(tenant, None)

        return self._writer.submit_op(op)

    def import_tenant(self, path: str | os.PathLike[str]) -> asyncio.Future[str]:
        """Adds the one tenant of an ``export_tenant`` file; gives its name. Refused if this
        journal already knows that tenant."""
        source = os.fspath(path)
        tenant, last = _exported_tenant(source)

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> str:
            if tenant in last_seqs:
                raise ValueError(f"tenant {tenant!r} already exists in this journal")
            try:
                conn.execute("ATTACH DATABASE ? AS source", (source,))
            except sqlite3.Error as e:
                raise ValueError(f"{source}: {e}") from e
            try:
                present = {
                    name
                    for (name,) in conn.execute(
                        "SELECT name FROM source.sqlite_master WHERE type = 'table'"
                    )
                }
                with transaction(conn):
                    for table in TENANT_TABLES:
                        if table in present:  # an export from before a table existed
                            # By name: an older export lacks the columns added since.
                            names = ", ".join(
                                row[1] for row in conn.execute(f"PRAGMA source.table_info({table})")
                            )
                            conn.execute(
                                f"INSERT INTO main.{table} ({names})"
                                f" SELECT {names} FROM source.{table}"
                            )
            finally:
                conn.execute("DETACH DATABASE source")
            last_seqs[tenant] = last
            return tenant

        return self._writer.submit_op(op)

    # ---- reads ------------------------------------------------------------------------

    def _read(self) -> closing[sqlite3.Connection]:
        conn = sqlite3.connect(self._path, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        return closing(conn)

    def tenants(self) -> list[str]:
        with self._read() as conn:
            return [t for (t,) in conn.execute("SELECT tenant FROM tenants ORDER BY tenant")]

    def last_seq(self, tenant: str) -> int:
        """The tenant's last committed seq (0: none yet)."""
        with self._read() as conn:
            row = conn.execute("SELECT last_seq FROM tenants WHERE tenant = ?", (tenant,))
            found = row.fetchone()
            return 0 if found is None else int(found[0])

    def config(self, tenant: str) -> str | None:
        with self._read() as conn:
            found = conn.execute("SELECT config FROM tenants WHERE tenant = ?", (tenant,))
            row = found.fetchone()
            return None if row is None else row[0]

    def snapshot_seqs(self, tenant: str) -> list[int]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq FROM snapshots WHERE tenant = ? ORDER BY seq", (tenant,)
            )
            return [s for (s,) in rows]

    def latest_snapshot(self, tenant: str) -> Snapshot | None:
        with self._read() as conn:
            row = conn.execute(
                "SELECT seq, data FROM snapshots WHERE tenant = ? ORDER BY seq DESC LIMIT 1",
                (tenant,),
            ).fetchone()
            return None if row is None else Snapshot(row[0], bytes(row[1]))

    def entries(self, tenant: str, after: int = 0) -> Iterator[tuple[int, Command]]:
        """The tenant's entries with seq > ``after``, in order, decoded; a bad one raises
        :class:`CorruptEntryError` naming its seq."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq, command FROM entries WHERE tenant = ? AND seq > ? ORDER BY seq",
                (tenant, after),
            )
            for seq, text in rows:
                try:
                    if type(text) is not str:
                        raise ValueError(f"stored as {type(text).__name__}, not text")
                    command = decode_command(text)
                except ValueError as e:
                    raise CorruptEntryError(tenant, seq, f"unreadable entry: {e}") from e
                yield seq, command

    def export_tenant(self, tenant: str, path: str | os.PathLike[str]) -> None:
        """Writes the tenant's rows (config, entries, snapshots) to a new SQLite file, as one
        consistent read; the file is what ``import_tenant`` takes."""
        target = os.fspath(path)
        if Path(target).exists():
            raise FileExistsError(target)
        with closing(sqlite3.connect(target)) as out:
            out.executescript(SCHEMA + CONFIG_SCHEMA)
        try:
            with self._read() as conn:
                conn.execute("ATTACH DATABASE ? AS target", (target,))
                try:
                    self._copy_out(conn, tenant)
                finally:
                    conn.execute("DETACH DATABASE target")
        except BaseException:
            Path(target).unlink(missing_ok=True)  # no half-written export left behind
            raise

    @staticmethod
    def _copy_out(conn: sqlite3.Connection, tenant: str) -> None:
        with transaction(conn):  # one read snapshot of main for the three tables
            found = conn.execute("SELECT 1 FROM main.tenants WHERE tenant = ?", (tenant,))
            if found.fetchone() is None:
                raise KeyError(f"no tenant {tenant!r} in this journal")
            for table in TENANT_TABLES:
                conn.execute(
                    f"INSERT INTO target.{table} SELECT * FROM main.{table} WHERE tenant = ?",
                    (tenant,),
                )


def _exported_tenant(source: str) -> tuple[str, int]:
    """The one tenant (and its last seq) of an export file, or ValueError."""
    if not Path(source).is_file():
        raise FileNotFoundError(source)
    uri = Path(source).resolve().as_uri() + "?mode=ro"
    try:
        with closing(sqlite3.connect(uri, uri=True)) as conn:
            rows: list[Any] = conn.execute("SELECT tenant, last_seq FROM tenants").fetchall()
            if len(rows) != 1:
                raise ValueError(f"{source}: holds {len(rows)} tenants, not one")
            tenant, last = rows[0]
            for table in ("entries", "snapshots"):
                other = conn.execute(f"SELECT 1 FROM {table} WHERE tenant != ? LIMIT 1", (tenant,))
                if other.fetchone() is not None:
                    raise ValueError(f"{source}: {table} of another tenant")
    except sqlite3.Error as e:
        raise ValueError(f"{source}: not a journal export ({e})") from e
    return str(tenant), int(last)
