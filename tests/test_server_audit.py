"""The audit record through the API: supervisor and admin actions and screen-pop reads are
recorded allowed or refused (who, role, method, object, decision, status), other calls are not,
ListAuditRecords shows the tenant's own, and the table refuses changes."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import grpc
import pytest

from acd.v1 import admin_pb2, agent_pb2, common_pb2, crm_pb2, supervision_pb2
from server_helpers import Stubs, error_of, md, running
from test_server_lifecycle import enqueue

T = 5.0
WAIT_S = 10.0
ADMIN = md("t-admin")


def _records(s: Stubs, at_least: int) -> list[admin_pb2.AuditRecord]:
    """The tenant's records once there are ``at_least`` (they are written asynchronously)."""
    deadline = time.monotonic() + WAIT_S
    while True:
        records = list(
            s.admin.ListAuditRecords(
                admin_pb2.ListAuditRecordsRequest(), metadata=ADMIN, timeout=T
            ).records
        )
        if len(records) >= at_least:
            return records
        assert time.monotonic() < deadline, f"only {len(records)} audit records"
        time.sleep(0.02)


def test_actions_and_reads_are_recorded_allowed_or_refused(tmp_path: Path) -> None:
    with running(tmp_path) as (server, s):
        s.agent.Login(agent_pb2.LoginRequest(agent_id="anna"), metadata=md("t-anna"), timeout=T)
        force = supervision_pb2.ForceAgentStateRequest(
            agent_id="anna", state=common_pb2.AGENT_STATE_LOGGED_OUT
        )
        s.supervision.ForceAgentState(force, metadata=md("t-supervisor"), timeout=T)
        e = error_of(lambda: s.supervision.ForceAgentState(force, metadata=md("t-anna")))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED
        pop = crm_pb2.GetScreenPopRequest(call_id="nobody-called")
        e = error_of(lambda: s.crm.GetScreenPop(pop, metadata=md("t-crm"), timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        enqueue(s, "not-audited")
        e = error_of(lambda: s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=md("x")))
        assert e.code() == grpc.StatusCode.UNAUTHENTICATED
        records = _records(s, 3)
        too_many = admin_pb2.ListAuditRecordsRequest(limit=10_001)
        e = error_of(lambda: s.admin.ListAuditRecords(too_many, metadata=ADMIN, timeout=T))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT and "limit" in (e.details() or "")
        assert server.server is not None
        path = server.server.journal.path
    mine = [
        (r.identity, r.role, r.method.rsplit("/", 1)[1], r.object, r.decision, r.code)
        for r in records
        if r.method != "/acd.v1.AdminService/ListAuditRecords"
    ]
    assert mine == [
        ("sup", "supervisor", "ForceAgentState", "agent_id=anna", "allowed", "OK"),
        ("anna", "agent", "ForceAgentState", "agent_id=anna", "denied", "PERMISSION_DENIED"),
        ("crm", "crm", "GetScreenPop", "call_id=nobody-called", "allowed", "NOT_FOUND"),
    ]
    assert all(r.at_ms > 0 for r in records)
    with sqlite3.connect(path) as conn:
        anonymous = conn.execute(
            "SELECT identity, role, method, decision FROM audit WHERE tenant = ''"
        ).fetchall()
        assert anonymous == [("-", "-", "/acd.v1.AdminService/ListQueues", "unauthenticated")]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE audit SET decision = 'allowed'")
