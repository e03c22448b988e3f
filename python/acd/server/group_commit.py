"""The journal's single writer: a dedicated thread that owns the SQLite write connection and
gathers concurrent appends into one transaction (group commit).

Why a thread: a commit with ``synchronous=FULL`` waits for fsync, which must never block the
event loop. Why one writer: SQLite allows one writer at a time anyway, and a single thread that
hands out sequence numbers keeps every tenant's sequence gap-free and in submission order.

While one transaction is committing, new appends pile up in ``_pending``; the next transaction
takes them all at once (up to ``max_batch`` entries), so the cost of an fsync is shared by every
append that arrived during the previous one. Each waiting future is resolved, on its own event
loop, only after the COMMIT of the transaction holding its entries has returned.

An append may carry extra statements (the contact history's rows, ``acd.server.history``):
they run in the same transaction right after its entries, so they commit exactly when the
entries do. A statement that fails fails the whole transaction, like a failed insert.

The appends' transactions run on a second, native connection to the same file, from BEGIN to
COMMIT without the GIL (``sql_transaction.native_transactions``); operations (snapshots,
imports...) run on ``conn``, in the same thread, so both keep the order they were submitted in.

A failed append transaction poisons the writer: every waiter of that batch, every append still
pending and every later one gets :class:`CommitError`. Retrying after a failed fsync is not safe
(the kernel may have dropped the dirty pages), and the router behind the journal has already
applied the commands that were lost, so the service must reopen the journal and recover.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from acd.server.journal_format import CommitError, JournalClosedError
from acd.server.sql_transaction import Statement, native_transactions, transaction

# An administrative operation (snapshot, prune, delete, import) runs alone, in the writer thread,
# with the connection and the writer's table of last sequence numbers per tenant.
Op = Callable[[sqlite3.Connection, dict[str, int]], Any]
_INSERT_ENTRY = "INSERT INTO entries (tenant, seq, command) VALUES (?, ?, ?)"
_SET_LAST_SEQ = (
    "INSERT INTO tenants (tenant, last_seq) VALUES (?, ?) "
    "ON CONFLICT (tenant) DO UPDATE SET last_seq = excluded.last_seq"
)


@dataclass(frozen=True)
class JournalStats:
    """Counters since the journal was opened: ``entries`` appended and ``commits`` (append
    transactions) committed; ``largest_batch`` is the most entries one commit held."""

    entries: int
    commits: int
    largest_batch: int


# Called with (value, error) on the event loop in the same turn as its future is settled,
# before the future's own callbacks (which run a turn later).
Then = Callable[[Any, BaseException | None], None]


@dataclass
class _Append:
    tenant: str
    encoded: list[str]
    many: bool  # resolve with the list of seqs (append_many) rather than the one seq
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop
    extra: Sequence[Statement] = ()
    then: Then | None = None


@dataclass
class _Op:
    op: Op
    future: asyncio.Future[Any]
    loop: asyncio.AbstractEventLoop


def _sql(statement: Statement) -> str:
    return statement[0]


def _settle(
    future: asyncio.Future[Any], value: Any, error: BaseException | None, then: Then | None = None
) -> None:
    # The caller may have been cancelled meanwhile; the outcome (committed or not) stands,
    # and ``then`` hears it either way.
    if not future.done():
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)
    if then is not None:
        try:
            then(value, error)
        except Exception as e:  # a bug there must not keep the other waiters waiting
            future.get_loop().call_exception_handler(
                {"message": "journal commit continuation failed", "exception": e}
            )


def _resolve(item: _Append | _Op, value: Any, error: BaseException | None = None) -> None:
    # RuntimeError: that loop is closed, so nobody is waiting any more.
    with suppress(RuntimeError):
        item.loop.call_soon_threadsafe(_settle, item.future, value, error)


def _settle_all(
    outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None, Then | None]],
) -> None:
    for future, value, error, then in outcomes:
        _settle(future, value, error, then)


def _resolve_all(outcomes: list[tuple[_Append, Any, BaseException | None]]) -> None:
    """Settles the futures of one commit with one wake-up per event loop (each wake-up of a
    loop from this thread is a system call and a turn of that loop)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
    for item, value, error in outcomes:
        then = item.then if isinstance(item, _Append) else None
        by_loop.setdefault(item.loop, []).append((item.future, value, error, then))
    for loop, settled in by_loop.items():
        with suppress(RuntimeError):  # that loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_settle_all, settled)


def _commit_error(cause: BaseException) -> CommitError:
    error = CommitError(f"journal commit failed: {cause}")
    error.__cause__ = cause  # each waiter gets its own exception, all chained to the cause
    return error


class GroupCommitWriter:
    """Owns ``conn`` (opened in autocommit mode, ``check_same_thread=False``, on the file at
    ``path``) from now on."""

    def __init__(
        self, conn: sqlite3.Connection, path: str, last_seqs: dict[str, int], max_batch: int
    ):
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._conn = conn
        self._native = native_transactions(conn, path)
        self._last_seqs = last_seqs  # touched only by the writer thread from now on
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._pending: deque[_Append | _Op] = deque()
        self._closing = False
        self._failure: BaseException | None = None
        self._entries = 0
        self._commits = 0
        self._largest = 0
        self._thread = threading.Thread(target=self._run, name="journal-writer", daemon=True)
        self._thread.start()

    @property
    def stats(self) -> JournalStats:
        with self._cond:
            return JournalStats(self._entries, self._commits, self._largest)

    def submit_append(
        self,
        tenant: str,
        encoded: list[str],
        many: bool,
        extra: Sequence[Statement] = (),
        then: Then | None = None,
    ) -> asyncio.Future[Any]:
        """Queues the entries now (so their order is the order of the calls) and returns the
        future of their seq (or list of seqs), resolved once committed together with
        ``extra``; ``then`` (if given) is called with the outcome as the future is settled."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not encoded:
            future.set_result([])
            if then is not None:
                then([], None)
            return future
        self._submit(_Append(tenant, encoded, many, future, loop, extra, then))
        return future

    def submit_op(self, op: Op) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._submit(_Op(op, future, loop))
        return future

    def _submit(self, item: _Append | _Op) -> None:
        with self._cond:
            if self._closing:
                raise JournalClosedError("the journal is closed")
            if self._failure is not None:
                raise CommitError("the journal failed to commit earlier") from self._failure
            self._pending.append(item)
            self._cond.notify()

    async def close(self) -> None:
        """Commits what is pending, then stops the thread and closes the connection."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        await asyncio.to_thread(self._thread.join)

    # ---- the writer thread ------------------------------------------------------------

    def _run(self) -> None:
        try:
            while (batch := self._take()) is not None:
                try:
                    if isinstance(batch, _Op):
                        self._run_op(batch)
                    else:
                        self._commit(batch)
                except Exception as e:
                    # A bug here must not leave anyone waiting forever: fail the batch (already
                    # settled futures stay as they are) and the journal, and keep draining.
                    with self._cond:
                        self._failure = self._failure or e
                    for item in [batch] if isinstance(batch, _Op) else batch:
                        _resolve(item, None, _commit_error(e))
        finally:
            if self._native is not None:
                self._native.close()
            self._conn.close()

    def _take(self) -> _Op | list[_Append] | None:
        """The next op alone, or a run of consecutive appends up to ``max_batch`` entries (at
        least one append, however large); None once closing and drained."""
        with self._cond:
            while not self._pending and not self._closing:
                self._cond.wait()
            if not self._pending:
                return None
            head = self._pending[0]
            if isinstance(head, _Op):
                self._pending.popleft()
                return head
            batch: list[_Append] = []
            count = 0
            while self._pending:
                item = self._pending[0]
                if not isinstance(item, _Append):
                    break
                if batch and count + len(item.encoded) > self._max_batch:
                    break
                batch.append(item)
                count += len(item.encoded)
                self._pending.popleft()
            return batch

    def _commit(self, batch: list[_Append]) -> None:
        if self._failure is not None:
            self._fail(batch, self._failure)
            return
        last = dict(self._last_seqs)  # tentative until COMMIT returns
        rows: list[tuple[str, int, str]] = []
        results: list[Any] = []
        for item in batch:
            first = last.get(item.tenant, 0) + 1
            rows.extend((item.tenant, first + i, text) for i, text in enumerate(item.encoded))
            last[item.tenant] = first + len(item.encoded) - 1
            seqs = list(range(first, first + len(item.encoded)))
            results.append(seqs if item.many else first)
        touched = {item.tenant for item in batch}
        statements: list[Statement] = [(_INSERT_ENTRY, row) for row in rows]
        statements.extend((_SET_LAST_SEQ, (tenant, last[tenant])) for tenant in sorted(touched))
        for item in batch:
            statements.extend(item.extra)
        try:
            if self._native is not None:
                self._native.run(statements)  # all or nothing, committed when it returns
            else:
                with transaction(self._conn):
                    # Runs of the same statement (a batch's history rows) go in one call.
                    for sql, run in itertools.groupby(statements, key=_sql):
                        self._conn.executemany(sql, [params for _, params in run])
        except Exception as e:
            with self._cond:
                self._failure = e
            self._fail(batch, e)
            return
        self._last_seqs.update((tenant, last[tenant]) for tenant in touched)
        with self._cond:
            self._entries += len(rows)
            self._commits += 1
            self._largest = max(self._largest, len(rows))
        _resolve_all([(item, result, None) for item, result in zip(batch, results, strict=True)])

    def _fail(self, batch: list[_Append], cause: BaseException) -> None:
        _resolve_all([(item, None, _commit_error(cause)) for item in batch])

    def _run_op(self, item: _Op) -> None:
        if self._failure is not None:
            _resolve(item, None, _commit_error(self._failure))
            return
        try:
            result = item.op(self._conn, self._last_seqs)
        except (ValueError, KeyError) as e:
            # The op refused its arguments before writing anything: only the caller hears.
            _resolve(item, None, e)
            return
        except Exception as e:
            with self._cond:
                self._failure = e
            _resolve(item, None, _commit_error(e))
            return
        _resolve(item, result)
