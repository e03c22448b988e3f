"""The journal's per-tenant service tables: what the service needs to run a tenant that the
router does not hold, kept in the journal's SQLite file beside the commands (see ``journal``).

- ``tenant_registry``: every tenant the service runs, with its creation time.
- ``configs``: the tenant's configuration versions (``StoredConfig``: the full service
  configuration, router part included, and the seq of the ``configure`` entry that put it
  live). ``tenants.config`` (the journal's own table) stays the config replay from seq 0
  starts from; the versions follow the ``configure`` entries (``acd.server.tenant_admin``).
- ``issued_tokens``: bearer tokens issued through the API, as hashes.
- ``audit``: the append-only audit record (``acd.server.audit``).

They are keyed by tenant like the rest, so export, import and delete carry them
(``TENANT_TABLES``). ``ServiceTables`` is the part of ``Journal`` that reads and writes them.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from contextlib import closing
from typing import NamedTuple

from acd.server import audit
from acd.server.group_commit import GroupCommitWriter
from acd.server.journal_format import TABLES, decode_command, encode_command
from acd.server.sql_transaction import transaction

# Configuration versions kept per tenant (the newest; older ones only explain the past).
KEEP_CONFIGS = 20

CONFIG_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS tenant_registry (
    tenant TEXT PRIMARY KEY,
    created_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS configs (
    tenant TEXT NOT NULL,
    version INTEGER NOT NULL,
    seq INTEGER,
    created_at_ms INTEGER NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (tenant, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS issued_tokens (
    tenant TEXT NOT NULL,
    hash TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    agent TEXT,
    created_at_ms INTEGER NOT NULL,
    PRIMARY KEY (tenant, hash)
) WITHOUT ROWID;
"""
    + audit.SCHEMA
)
# Every per-tenant table: what export, import and delete carry.
TENANT_TABLES = (*TABLES, "tenant_registry", "configs", "issued_tokens", audit.TABLE)


class StoredConfig(NamedTuple):
    """One version of a tenant's configuration. ``seq``: the journal entry (a ``configure``)
    that put it live; 0 for the one the journal starts from; None while not (yet) live."""

    version: int
    seq: int | None
    created_at_ms: int
    text: str


class IssuedToken(NamedTuple):
    """A token issued through the API: its hash and the identity it stands for."""

    tenant: str
    hash: str
    name: str
    role: str
    agent: str | None
    created_at_ms: int


class ServiceTables:
    """The service tables' operations, mixed into ``Journal`` (which provides the writer and
    the read connections)."""

    _writer: GroupCommitWriter

    def _read(self) -> closing[sqlite3.Connection]:
        raise NotImplementedError

    def register_tenant(
        self, tenant: str, created_at_ms: int, config_text: str, token: IssuedToken | None = None
    ) -> asyncio.Future[bool]:
        """Adds the tenant to the registry with its first configuration version (live from seq
        0) and, optionally, a first issued token, in one transaction. Gives False, changing
        nothing, if the tenant is registered already."""

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> bool:
            with transaction(conn):
                cursor = conn.execute(
                    "INSERT INTO tenant_registry (tenant, created_at_ms) VALUES (?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (tenant, created_at_ms),
                )
                if cursor.rowcount != 1:
                    return False
                conn.execute(
                    "INSERT OR REPLACE INTO configs (tenant, version, seq, created_at_ms, config)"
                    " VALUES (?, 1, 0, ?, ?)",
                    (tenant, created_at_ms, config_text),
                )
                if token is not None:
                    conn.execute(
                        "INSERT INTO issued_tokens (tenant, hash, name, role, agent,"
                        " created_at_ms) VALUES (?, ?, ?, ?, ?, ?)",
                        token,
                    )
                return True

        return self._writer.submit_op(op)

    def put_config(self, tenant: str, stored: StoredConfig) -> asyncio.Future[None]:
        """Stores a configuration version; refused (ValueError) if that version exists."""

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> None:
            with transaction(conn):
                try:
                    conn.execute(
                        "INSERT INTO configs (tenant, version, seq, created_at_ms, config)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (tenant, *stored),
                    )
                except sqlite3.IntegrityError as e:
                    raise ValueError(
                        f"tenant {tenant!r} has config version {stored.version}"
                    ) from e

        return self._writer.submit_op(op)

    def settle_config(self, tenant: str, version: int, seq: int | None) -> asyncio.Future[None]:
        """Records the seq that put ``version`` live, or drops the version (``seq`` None: it
        never went live); keeps the newest ``KEEP_CONFIGS`` versions."""

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> None:
            with transaction(conn):
                if seq is None:
                    conn.execute(
                        "DELETE FROM configs WHERE tenant = ? AND version = ?", (tenant, version)
                    )
                    return
                conn.execute(
                    "UPDATE configs SET seq = ? WHERE tenant = ? AND version = ?",
                    (seq, tenant, version),
                )
                conn.execute(
                    "DELETE FROM configs WHERE tenant = ? AND version <= ?",
                    (tenant, version - KEEP_CONFIGS),
                )

        return self._writer.submit_op(op)

    def issue_token(self, token: IssuedToken) -> asyncio.Future[None]:
        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> None:
            with transaction(conn):
                conn.execute(
                    "INSERT INTO issued_tokens (tenant, hash, name, role, agent, created_at_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    token,
                )

        return self._writer.submit_op(op)

    def revoke_tokens(self, tenant: str, name: str) -> asyncio.Future[int]:
        """Deletes the tenant's issued tokens of identity ``name``; gives how many."""

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> int:
            with transaction(conn):
                cursor = conn.execute(
                    "DELETE FROM issued_tokens WHERE tenant = ? AND name = ?", (tenant, name)
                )
                return cursor.rowcount

        return self._writer.submit_op(op)

    def append_audit(self, rows: Sequence[audit.AuditRecord]) -> asyncio.Future[int]:
        """Adds audit records (one transaction); gives how many."""

        def op(conn: sqlite3.Connection, last_seqs: dict[str, int]) -> int:
            with transaction(conn):
                conn.executemany(audit.INSERT, rows)
            return len(rows)

        future: asyncio.Future[int] = self._writer.submit_op(op)
        return future

    def audit_records(self, tenant: str, since_ms: int, limit: int) -> list[audit.AuditRecord]:
        """The tenant's audit records from ``since_ms`` on, oldest first, at most ``limit``."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT tenant, at_ms, identity, role, method, object, decision, code FROM audit"
                " WHERE tenant = ? AND at_ms >= ? ORDER BY at_ms, rowid LIMIT ?",
                (tenant, since_ms, limit),
            ).fetchall()
        return [audit.AuditRecord(*row) for row in rows]

    def registry(self) -> dict[str, int]:
        """Every registered tenant and when it was created (ms)."""
        with self._read() as conn:
            rows = conn.execute("SELECT tenant, created_at_ms FROM tenant_registry")
            return {t: int(at) for t, at in rows}

    def configs(self, tenant: str) -> list[StoredConfig]:
        """The tenant's stored configuration versions, oldest first."""
        with self._read() as conn:
            rows = conn.execute(
                "SELECT version, seq, created_at_ms, config FROM configs WHERE tenant = ?"
                " ORDER BY version",
                (tenant,),
            )
            return [StoredConfig(*row) for row in rows]

    def issued_tokens(self) -> list[IssuedToken]:
        with self._read() as conn:
            rows = conn.execute(
                "SELECT tenant, hash, name, role, agent, created_at_ms FROM issued_tokens"
                " ORDER BY tenant, created_at_ms, hash"
            )
            return [IssuedToken(*row) for row in rows]

    def command_seqs(self, tenant: str, name: str, after: int = 0) -> list[int]:
        """The seqs (> ``after``) of the tenant's entries that hold a command ``name``, alone
        or inside a batch entry."""
        # '["name",' cannot occur inside a JSON string (its quotes would be escaped), so only
        # a command array matches; decoding confirms it.
        marker = encode_command((name,))[:-1] + ","
        out = []
        with self._read() as conn:
            rows = conn.execute(
                "SELECT seq, command FROM entries WHERE tenant = ? AND seq > ?"
                " AND instr(command, ?) > 0 ORDER BY seq",
                (tenant, after, marker),
            )
            for seq, text in rows:
                entry = decode_command(text)
                inner = [c for c in entry[1:] if type(c) is list] if entry[0] != name else []
                if entry[0] == name or any(
                    type(c) is list and c and c[0] == name for items in inner for c in items
                ):
                    out.append(seq)
        return out
