"""StreamAlerts through the API: queue thresholds raised and cleared as calls come and go, an
agent paused by the no-answer policy, filters, and the stream starting with what is raised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc

from acd.v1 import admin_pb2, agent_pb2, routing_pb2, supervision_pb2
from server_helpers import TEST_CONFIG, StreamReader, Stubs, error_of, make_config, md, running
from test_server_lifecycle import enqueue, login_ready, offer_of

T = 5.0
K = supervision_pb2
SUP = md("t-supervisor")
CONFIG = TEST_CONFIG.replace(
    "offer_timeout_s = 60\nwrapup = 0.2\n",
    "offer_timeout_s = 60\nwrapup = 0.2\nalerts = { waiting_above = 1, min_interval_s = 0 }\n",
    1,
)


def _alerts(s: Stubs, **fields: Any) -> StreamReader:
    request = supervision_pb2.StreamAlertsRequest(**fields)
    return StreamReader(s.supervision.StreamAlerts(request, metadata=SUP))


def _is(kind: int, cleared: bool) -> Any:
    return lambda m: m.alert.kind == kind and (m.alert.cleared_at_ms > 0) == cleared


def _cancel(s: Stubs, call_id: str) -> None:
    request = routing_pb2.CancelCallRequest(call_id=call_id)
    s.routing.CancelCall(request, metadata=md("t-adapter"), timeout=T)


def test_queue_alerts_are_raised_and_cleared(tmp_path: Path) -> None:
    with running(tmp_path, make_config(CONFIG), stats_period_s=0.05) as (_, s):
        stream = _alerts(s, queue_ids=["sales"])
        enqueue(s, "a1")  # nobody is logged in
        no_agents = stream.until(_is(K.ALERT_KIND_NO_AGENTS, False)).alert
        assert (no_agents.queue_id, no_agents.severity) == ("sales", K.ALERT_SEVERITY_WARNING)
        assert no_agents.message == "sales: 1 calls wait and no agent is logged in"
        enqueue(s, "a2")
        waiting = stream.until(_is(K.ALERT_KIND_WAITING_CALLS, False)).alert
        assert waiting.message == "sales: 2 calls waiting (limit 1)"
        # A stream opened now starts with both, still raised.
        late = _alerts(s)
        first = {late.next().alert.alert_id, late.next().alert.alert_id}
        assert first == {no_agents.alert_id, waiting.alert_id}
        _cancel(s, "a1")
        _cancel(s, "a2")
        cleared = stream.until(_is(K.ALERT_KIND_WAITING_CALLS, True))
        assert cleared.alert.alert_id == waiting.alert_id
        assert stream.until(_is(K.ALERT_KIND_NO_AGENTS, True)).alert.alert_id == no_agents.alert_id
        for reader in (stream, late):
            reader.close()


def test_an_agent_paused_for_missed_offers(tmp_path: Path) -> None:
    with running(tmp_path, make_config(CONFIG), stats_period_s=0.05) as (_, s):
        stream = _alerts(s, queue_ids=["sales"])
        anna = login_ready(s, "anna")
        enqueue(s, "q1", queue="quick")  # offer timeout 0.3 s, paused after one miss
        assert anna.until(offer_of).offer.offer.call_id == "q1"
        paused = stream.until(_is(K.ALERT_KIND_AGENT_PAUSED, False)).alert
        assert (paused.agent_id, paused.queue_id) == ("anna", "")
        ready = agent_pb2.SetStateRequest(
            agent_id="anna", availability=agent_pb2.AVAILABILITY_READY
        )
        s.agent.SetState(ready, metadata=md("t-anna"), timeout=T)
        back = stream.until(_is(K.ALERT_KIND_AGENT_PAUSED, True)).alert
        assert back.alert_id == paused.alert_id
        bad = supervision_pb2.StreamAlertsRequest(queue_ids=["nope"])
        e = error_of(lambda: next(iter(s.supervision.StreamAlerts(bad, metadata=SUP))))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        anna.close()
        stream.close()


def test_alert_thresholds_through_the_admin_api(tmp_path: Path) -> None:
    admin = md("t-admin")
    with running(tmp_path, make_config(CONFIG), stats_period_s=0.05) as (_, s):
        listed = s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=admin, timeout=T)
        sales = next(q for q in listed.queues if q.queue_id == "sales")
        assert sales.alerts.waiting_above == 1 and sales.alerts.min_interval_ms == 0
        assert not sales.alerts.HasField("sl_below") and sales.alerts.severity == "warning"
        support = next(q for q in listed.queues if q.queue_id == "support")
        assert not support.HasField("alerts")
        support.alerts.CopyFrom(
            admin_pb2.QueueAlerts(longest_wait_above_ms=30_500, sl_below=0.9, severity="critical")
        )
        stored = s.admin.UpsertQueue(
            admin_pb2.UpsertQueueRequest(queue=support), metadata=admin, timeout=T
        ).queue
        assert (stored.alerts.longest_wait_above_ms, stored.alerts.sl_below) == (30_500, 0.9)
        assert (stored.alerts.severity, stored.alerts.min_calls) == ("critical", 5)
        support.alerts.sl_below = 1.5
        e = error_of(
            lambda: s.admin.UpsertQueue(
                admin_pb2.UpsertQueueRequest(queue=support), metadata=admin, timeout=T
            )
        )
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "queue.alerts.sl_below" in (e.details() or "")
        support.alerts.sl_below = 0.9
        support.alerts.asa_above_ms = -1
        e = error_of(
            lambda: s.admin.UpsertQueue(
                admin_pb2.UpsertQueueRequest(queue=support), metadata=admin, timeout=T
            )
        )
        assert "queue.alerts.asa_above_ms" in (e.details() or "")
