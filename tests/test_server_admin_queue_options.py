"""UpsertQueue / ListQueues carry the queue's contact options (dispositions, automatic
callbacks of missed calls) like its other settings, so an upsert through the API keeps them."""

from __future__ import annotations

from pathlib import Path

import grpc

from acd.v1 import admin_pb2
from server_helpers import error_of, md, running

T = 5.0
ADMIN = md("t-admin")


def test_contact_options_round_trip_through_upsert(tmp_path: Path) -> None:
    with running(tmp_path) as (server, s):
        listed = s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=ADMIN, timeout=T)
        support = next(q for q in listed.queues if q.queue_id == "support")
        assert list(support.dispositions) == [] and support.missed_callback_within_ms == 0
        support.dispositions.extend(["fixed", "escalated"])
        support.disposition_required = True
        support.missed_callback_within_ms = 180_000
        stored = s.admin.UpsertQueue(
            admin_pb2.UpsertQueueRequest(queue=support), metadata=ADMIN, timeout=T
        ).queue
        assert list(stored.dispositions) == ["fixed", "escalated"]
        assert (stored.disposition_required, stored.missed_callback_within_ms) == (True, 180_000)
        assert server.server is not None
        live = server.server.tenants["store"].queues["support"].contacts
        assert (live.dispositions, live.missed_callback_within_ms) == (
            ("fixed", "escalated"),
            180_000,
        )
        # An upsert that leaves them out drops them, as for every other field of the queue.
        support.ClearField("dispositions")
        support.missed_callback_within_ms = -5
        e = error_of(
            lambda: s.admin.UpsertQueue(
                admin_pb2.UpsertQueueRequest(queue=support), metadata=ADMIN, timeout=T
            )
        )
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "queue.missed_callback_within_ms" in (e.details() or "")
        support.dispositions.append("x" * 65)  # codes are at most 64 characters
        support.missed_callback_within_ms = 0
        e = error_of(
            lambda: s.admin.UpsertQueue(
                admin_pb2.UpsertQueueRequest(queue=support), metadata=ADMIN, timeout=T
            )
        )
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "queue.dispositions[0]" in (e.details() or "")


def test_callback_options_round_trip_through_upsert(tmp_path: Path) -> None:
    with running(tmp_path) as (server, s):
        listed = s.admin.ListQueues(admin_pb2.ListQueuesRequest(), metadata=ADMIN, timeout=T)
        sales = next(q for q in listed.queues if q.queue_id == "sales")
        assert (sales.callback_max_attempts, sales.callback_retry_gap_ms) == (1, 300_000)
        sales.callback_max_attempts = 4
        sales.callback_retry_gap_ms = 120_000
        sales.callback_offer_after_ms = 45_500
        sales.callback_offer_ewt_above_ms = 0
        request = admin_pb2.UpsertQueueRequest(queue=sales)
        stored = s.admin.UpsertQueue(request, metadata=ADMIN, timeout=T).queue
        assert (stored.callback_max_attempts, stored.callback_retry_gap_ms) == (4, 120_000)
        assert (stored.callback_offer_after_ms, stored.callback_offer_ewt_above_ms) == (45_500, 0)
        assert server.server is not None
        live = server.server.tenants["store"].queues["sales"].contacts
        assert (live.callback_max_attempts, live.callback_offer_after_ms) == (4, 45_500)
        sales.callback_offer_ewt_above_ms = -1
        request = admin_pb2.UpsertQueueRequest(queue=sales)
        e = error_of(lambda: s.admin.UpsertQueue(request, metadata=ADMIN, timeout=T))
        assert e.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "queue.callback_offer_ewt_above_ms" in (e.details() or "")
        sales.callback_offer_ewt_above_ms = 0
        sales.callback_max_attempts = 11
        too_many = admin_pb2.UpsertQueueRequest(queue=sales)
        e = error_of(lambda: s.admin.UpsertQueue(too_many, metadata=ADMIN, timeout=T))
        assert "callback_max_attempts" in (e.details() or "")
