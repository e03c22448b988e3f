"""The audit record: every supervisor and admin action and every screen-pop read, allowed or
refused, one row each (who, role, method, object, decision, status), append-only.

Audited: every method of AdminService and PlatformService, SupervisionService.ForceAgentState,
AgentService.PickCall, CrmService.GetScreenPop, ReportService.ExportCdrs and
QualityService.GetRecording, ListRecordings and CreateEvaluation (the calls that change what
others see, or read a customer's data). A recording handed out is a row of its own too, with
``object`` ``call_id=...`` (acd.server.recordings). The interceptor writes a row when such a
call ends (``decision`` allowed, with the handler's status) or is refused before it runs
(unauthenticated, denied, rate-limited). ``object`` is the request's first id among agent,
call, caller number, queue, tenant or account name.

Rows go to the journal's SQLite file through its writer thread, gathered per turn of the event
loop into one transaction, so auditing never blocks a handler; a trigger refuses any UPDATE
(there is no API to change or delete a row; a tenant's rows go only with the tenant).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:  # the journal's schema includes this module's
    from acd.server.journal import Journal

log = logging.getLogger("acd.server.audit")

SCHEMA = """
CREATE TABLE IF NOT EXISTS audit (
    tenant TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    identity TEXT NOT NULL,
    role TEXT NOT NULL,
    method TEXT NOT NULL,
    object TEXT NOT NULL,
    decision TEXT NOT NULL,
    code TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_time ON audit (tenant, at_ms);
CREATE TRIGGER IF NOT EXISTS audit_append_only BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit record is append-only'); END;
"""
TABLE = "audit"
INSERT = (
    "INSERT INTO audit (tenant, at_ms, identity, role, method, object, decision, code)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_PREFIXES = ("/acd.v1.AdminService/", "/acd.v1.PlatformService/")
_METHODS = frozenset(
    {
        "/acd.v1.SupervisionService/ForceAgentState",
        "/acd.v1.AgentService/PickCall",
        "/acd.v1.CrmService/GetScreenPop",
        "/acd.v1.ReportService/ExportCdrs",
        "/acd.v1.QualityService/GetRecording",
        "/acd.v1.QualityService/ListRecordings",
        "/acd.v1.QualityService/CreateEvaluation",
    }
)
# Where a request names what it acts on, in this order (nested: the upserted object's id).
_ID_FIELDS = ("agent_id", "call_id", "caller_number", "queue_id", "tenant_id", "name")
_NESTED = {
    "queue": "queue_id",
    "agent": "agent_id",
    "group": "group_id",
    "hours": "hours_id",
    "skill": "skill_id",
}


class AuditRecord(NamedTuple):
    tenant: str
    at_ms: int
    identity: str
    role: str
    method: str
    object: str
    decision: str  # allowed, denied, unauthenticated, rate-limited
    code: str  # the status the caller got


def audited(method: str) -> bool:
    return method in _METHODS or method.startswith(_PREFIXES)


def object_of(request: Any) -> str:
    """The id the request acts on, as ``field=value``; empty when it names none."""
    fields = getattr(request, "DESCRIPTOR", None)
    if fields is None:
        return ""
    names = fields.fields_by_name
    for name in _ID_FIELDS:
        if name in names and getattr(request, name):
            return f"{name}={getattr(request, name)}"[:300]
    for name, inner in _NESTED.items():
        if name in names and request.HasField(name) and getattr(getattr(request, name), inner):
            return f"{name}.{inner}={getattr(getattr(request, name), inner)}"[:300]
    return ""


class AuditLog:
    """Buffers records and hands them to the journal's writer once per turn of the loop."""

    def __init__(
        self, journal: Journal, now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
    ) -> None:
        self._journal = journal
        self._now_ms = now_ms
        self._buffer: list[AuditRecord] = []
        self._scheduled = False
        self.written = 0
        self.failed = 0

    def record(
        self, tenant: str, identity: str, role: str, method: str, obj: str, decision: str, code: str
    ) -> None:
        at = self._now_ms()
        self._buffer.append(AuditRecord(tenant, at, identity, role, method, obj, decision, code))
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        rows, self._buffer = self._buffer, []
        if not rows:
            return

        try:
            future = self._journal.append_audit(rows)
        except Exception as e:  # a closed or failed journal: the log says what was lost
            self.failed += len(rows)
            log.warning("audit: %d records not written: %s", len(rows), e)
            return
        future.add_done_callback(self._done)

    def _done(self, future: asyncio.Future[Any]) -> None:
        if future.cancelled() or future.exception() is not None:
            log.warning("audit: records not written: %s", future.exception())
            return
        self.written += int(future.result())
