"""Business hours: open/closed at an instant (time zone, DST, exceptions, holidays), the next
opening, and the out-of-hours decision on enqueue through the gRPC API (callback at the next
opening, voicemail, message, overflow), with the journal and a restart in between."""

from __future__ import annotations

import datetime
import zoneinfo
from pathlib import Path
from typing import Any

import grpc
import pytest

from acd.server.clock import Clock
from acd.server.config import Config
from acd.server.config_fields import ConfigError
from acd.server.config_raw import tenant_raw
from acd.server.config_tenant import TenantConfig, parse_tenant
from acd.server.out_of_hours import decide, next_opening, open_at, within_hours
from acd.v1 import admin_pb2, common_pb2, routing_pb2
from server_helpers import TEST_CONFIG, Stubs, error_of, make_config, md, running
from test_server_lifecycle import adapter_stream, login_ready, offer_of
from test_server_queue_kpis import FakeWall

T = 5.0

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def ms(text: str, zone: datetime.tzinfo = BERLIN) -> int:
    """Ms since the epoch of a local time "YYYY-MM-DD HH:MM" in ``zone``."""
    local = datetime.datetime.fromisoformat(text).replace(tzinfo=zone)
    return int(local.timestamp() * 1000)


def tenant(extra_queue: str = "") -> TenantConfig:
    import tomllib

    text = f"""
skills = ["sales"]
[[hours]]
id = "store"
timezone = "Europe/Berlin"
mon = ["08:00-12:00", "13:00-20:00"]
tue = ["08:00-20:00"]
wed = ["08:00-20:00"]
thu = ["08:00-20:00"]
fri = ["08:00-20:00"]
sat = ["10:00-16:00"]
exceptions = {{ "2025-12-24" = ["08:00-12:00"] }}
holidays = ["2025-12-25", "2025-12-26", "2026-01-01..2026-01-02"]
[[queues]]
id = "sales"
skills = {{ sales = 1 }}
hours = "store"
{extra_queue}
[[queues]]
id = "late"
skills = {{ sales = 1 }}
[[agents]]
id = "anna"
skills = {{ sales = 5 }}
"""
    return parse_tenant(tomllib.loads(text), "store")


def test_open_at_follows_the_local_week_exceptions_and_holidays() -> None:
    hours = tenant().hours[0]
    assert open_at(hours, ms("2025-12-22 08:00"))  # Monday
    assert not open_at(hours, ms("2025-12-22 07:59"))
    assert not open_at(hours, ms("2025-12-22 12:30"))  # the lunch gap
    assert open_at(hours, ms("2025-12-22 19:59"))
    assert not open_at(hours, ms("2025-12-22 20:00"))  # close is exclusive
    assert not open_at(hours, ms("2025-12-21 12:00"))  # Sunday: not listed, closed
    assert open_at(hours, ms("2025-12-24 11:00"))  # the exception's morning
    assert not open_at(hours, ms("2025-12-24 14:00"))
    assert not open_at(hours, ms("2025-12-25 10:00"))  # holidays, a Thursday and a Friday
    assert not open_at(hours, ms("2025-12-26 10:00"))
    assert not open_at(hours, ms("2026-01-02 10:00"))  # the end of a range is included
    assert open_at(hours, ms("2026-01-05 10:00"))
    # The same instant read in UTC: 07:30 UTC on a winter Monday is 08:30 in Berlin.
    assert open_at(hours, ms("2025-12-22 07:30", datetime.UTC))


def test_within_hours_of_a_queue_without_hours_is_always() -> None:
    config = tenant()
    assert within_hours(config, "late", ms("2025-12-25 03:00"))
    assert not within_hours(config, "sales", ms("2025-12-25 03:00"))
    assert within_hours(config, "sales", ms("2025-12-23 09:00"))


def test_a_dst_change_week_keeps_local_opening_times() -> None:
    """Europe/Berlin leaves summer time on Sunday 2025-10-26 (03:00 CEST -> 02:00 CET): the
    Monday after opens at 08:00 local, which is 07:00 UTC instead of the Friday's 06:00."""
    hours = tenant().hours[0]
    friday_open = next_opening(hours, ms("2025-10-24 07:00"))
    monday_open = next_opening(hours, ms("2025-10-25 16:30"))  # after Saturday's close
    assert friday_open == ms("2025-10-24 06:00", datetime.UTC)
    assert monday_open == ms("2025-10-27 07:00", datetime.UTC)
    assert not open_at(hours, ms("2025-10-27 06:30", datetime.UTC))  # 07:30 local
    assert open_at(hours, ms("2025-10-27 07:00", datetime.UTC))
    # Spring forward (2026-03-29 02:00 -> 03:00): a Monday 08:00 opening is 06:00 UTC again.
    assert next_opening(hours, ms("2026-03-28 18:00")) == ms("2026-03-30 06:00", datetime.UTC)


def test_next_opening_skips_gaps_holidays_and_is_now_when_open() -> None:
    hours = tenant().hours[0]
    assert next_opening(hours, ms("2025-12-22 12:15")) == ms("2025-12-22 13:00")
    assert next_opening(hours, ms("2025-12-22 09:00")) == ms("2025-12-22 09:00")
    # Wednesday 24th after noon: 25th, 26th holidays, then Saturday the 27th at 10:00.
    assert next_opening(hours, ms("2025-12-24 12:00")) == ms("2025-12-27 10:00")


def test_holidays_are_checked_and_kept_as_closed_exceptions() -> None:
    config = tenant()
    exceptions = config.hours[0].exceptions
    assert exceptions["2025-12-25"] == () and exceptions["2026-01-02"] == ()
    assert parse_tenant(tenant_raw(config), "store") == config  # round trip via exceptions
    bad = {
        'holidays = ["2025-13-01"]': "holidays[0]: '2025-13-01' is not a date",
        'holidays = ["2025-12-31..2025-12-01"]': "holidays[0]: '2025-12-31..2025-12-01'",
        'holidays = ["2025-12-24"]': "2025-12-24 is also an exception with opening hours",
        "holidays = [20251224]": "holidays[0]: expected a date or 'FIRST..LAST'",
    }
    for line, message in bad.items():
        with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace(".", r"\.")):
            tenant_with_hours_line(line)


def tenant_with_hours_line(line: str) -> TenantConfig:
    import tomllib

    raw = tomllib.loads(
        f"""
skills = ["sales"]
[[hours]]
id = "store"
timezone = "Europe/Berlin"
exceptions = {{ "2025-12-24" = ["08:00-12:00"] }}
{line}
"""
    )
    return parse_tenant(raw, "store")


def test_out_of_hours_options_are_checked() -> None:
    ok = tenant('out_of_hours = { action = "overflow", queue = "late" }')
    assert ok.queues[0].options.out_of_hours is not None
    assert parse_tenant(tenant_raw(ok), "store") == ok
    bad = {
        'out_of_hours = { action = "nap" }': "out_of_hours.action: 'nap' is not one of",
        'out_of_hours = { action = "voicemail" }': "out_of_hours.destination: voicemail needs",
        'out_of_hours = { action = "overflow" }': "out_of_hours.action: overflow names exactly",
        'out_of_hours = { action = "callback", queue = "gone" }': "unknown queue 'gone'",
        'out_of_hours = { action = "overflow", queue = "sales" }': "cannot overflow to itself",
        'out_of_hours = { action = "message", colour = "red" }': "out_of_hours.colour: unknown",
    }
    for line, message in bad.items():
        with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
            tenant(line)


def test_decide_follows_the_option_and_chains_overflow() -> None:
    config = tenant('out_of_hours = { action = "callback", message = "closed-prompt" }')
    sales = config.queues[0]
    night = ms("2025-12-22 21:00")
    assert decide(config, sales, ms("2025-12-22 10:00"), has_caller=True) is None
    callback = decide(config, sales, night, has_caller=True)
    assert callback is not None
    assert (callback.action, callback.target_queue) == ("callback", "sales")
    assert callback.next_open_ms == ms("2025-12-23 08:00")
    anonymous = decide(config, sales, night, has_caller=False)
    assert anonymous is not None and anonymous.action == "message"
    assert anonymous.message == "closed-prompt"


# ---- through the gRPC API ------------------------------------------------------------------

SERVER_HOURS = """
[[tenants.store.hours]]
id = "store"
timezone = "Europe/Berlin"
mon = ["08:00-20:00"]
tue = ["08:00-20:00"]
wed = ["08:00-20:00"]
thu = ["08:00-20:00"]
fri = ["08:00-20:00"]

[[tenants.store.queues]]
id = "late"
skills = { sales = 1 }
"""
OPTIONS = {
    "sales": 'hours = "store"\nout_of_hours = { action = "callback", message = "closed" }\n',
    "support": 'hours = "store"\nout_of_hours = { action = "voicemail", destination = "vm:9" }\n',
    "quick": 'hours = "store"\nout_of_hours = { action = "overflow", queue = "late" }\n',
}
ADAPTER = md("t-adapter")
MONDAY_NIGHT = ms("2025-12-22 21:00")
TUESDAY_OPEN = ms("2025-12-23 08:00")


def hours_config() -> Config:
    text = TEST_CONFIG
    for queue, options in OPTIONS.items():
        line = f'id = "{queue}"\n'
        text = text.replace(line, line + options, 1)
    return make_config(text + SERVER_HOURS)


def enqueue_call(s: Stubs, call_id: str, queue: str, caller: str = "") -> Any:
    call = common_pb2.Call(call_id=call_id, queue_id=queue, caller_number=caller)
    request = routing_pb2.EnqueueCallRequest(call=call)
    return s.routing.EnqueueCall(request, metadata=ADAPTER, timeout=T)


def status(s: Stubs, call_id: str) -> routing_pb2.GetCallStatusResponse:
    request = routing_pb2.GetCallStatusRequest(call_id=call_id)
    response: routing_pb2.GetCallStatusResponse = s.routing.GetCallStatus(
        request, metadata=ADAPTER, timeout=T
    )
    return response


def test_out_of_hours_callback_is_scheduled_and_queued_at_opening(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_NIGHT)
    config = hours_config()
    with running(tmp_path, config, clock=Clock(wall)) as (_, s):
        response = enqueue_call(s, "c1", "sales", caller="+4930111")
        decision = response.out_of_hours
        assert decision.action == common_pb2.OUT_OF_HOURS_ACTION_CALLBACK
        assert (decision.queue_id, decision.target_queue_id) == ("sales", "sales")
        assert decision.next_open_ms == TUESDAY_OPEN
        assert decision.callback_call_id == "c1-callback"
        assert (response.position, response.estimated_wait_ms) == (0, 0)  # it does not wait
        assert enqueue_call(s, "c1", "sales", caller="+4930111").duplicate  # a repeat
        scheduled = status(s, "c1-callback")
        assert (scheduled.scheduled_at_ms, scheduled.queue_id) == (TUESDAY_OPEN, "sales")
        assert scheduled.state == common_pb2.CALL_STATE_UNSPECIFIED
        missing = error_of(lambda: status(s, "c1"))  # the call itself never waited
        assert missing.code() == grpc.StatusCode.NOT_FOUND
        # A caller without a number cannot be called back: the message instead.
        anonymous = enqueue_call(s, "c2", "sales").out_of_hours
        assert anonymous.action == common_pb2.OUT_OF_HOURS_ACTION_MESSAGE
        assert anonymous.message == "closed"

    wall.ms = TUESDAY_OPEN + 1_000  # the service was down over night; it restarts after 8:00
    with running(tmp_path, config, clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        offer = anna.until(offer_of).offer.offer
        assert offer.call_id == "c1-callback"
        assert offer.channel == common_pb2.CHANNEL_CALLBACK
        assert status(s, "c1-callback").state == common_pb2.CALL_STATE_OFFERED
        anna.close()


def test_voicemail_message_and_overflow_decisions(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_NIGHT)
    with running(tmp_path, hours_config(), clock=Clock(wall)) as (_, s):
        voicemail = enqueue_call(s, "v1", "support").out_of_hours
        assert voicemail.action == common_pb2.OUT_OF_HOURS_ACTION_VOICEMAIL
        assert voicemail.destination == "vm:9"
        assert voicemail.next_open_ms == TUESDAY_OPEN
        overflow = enqueue_call(s, "o1", "quick")
        assert overflow.out_of_hours.action == common_pb2.OUT_OF_HOURS_ACTION_OVERFLOW
        assert overflow.out_of_hours.target_queue_id == "late"
        assert overflow.position == 1  # it waits in "late", which has no hours
        assert status(s, "o1").queue_id == "late"

        # The adapter stream's answer carries the decision too.
        adapter, commands = adapter_stream(s)
        commands.put(
            routing_pb2.AdapterStreamRequest(
                correlation_id="m1",
                enqueue_call=routing_pb2.EnqueueCallRequest(
                    call=common_pb2.Call(call_id="v2", queue_id="support")
                ),
            )
        )
        ack = adapter.until(lambda m: m.HasField("ack")).ack
        assert ack.correlation_id == "m1"
        assert ack.out_of_hours.action == common_pb2.OUT_OF_HOURS_ACTION_VOICEMAIL

        # EnqueueCalls decides per call.
        batch = s.routing.EnqueueCalls(
            routing_pb2.EnqueueCallsRequest(
                calls=[
                    common_pb2.Call(call_id="v3", queue_id="support"),
                    common_pb2.Call(call_id="l1", queue_id="late"),
                ]
            ),
            metadata=ADAPTER,
            timeout=T,
        ).results
        assert batch[0].out_of_hours.action == common_pb2.OUT_OF_HOURS_ACTION_VOICEMAIL
        assert not batch[1].HasField("out_of_hours")
        commands.put(None)
        adapter.close()

        wall.ms = ms("2025-12-23 09:00")  # open: the call waits as any other
        within = enqueue_call(s, "v4", "support")
        assert not within.HasField("out_of_hours") and within.position == 1


def test_request_callback_for_later(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_NIGHT)
    with running(tmp_path, hours_config(), clock=Clock(wall)) as (_, s):
        callback = common_pb2.Call(call_id="cb1", queue_id="late", caller_number="+4930222")
        request = routing_pb2.RequestCallbackRequest(callback=callback, not_before_ms=TUESDAY_OPEN)
        answer = s.routing.RequestCallback(request, metadata=ADAPTER, timeout=T)
        assert (answer.duplicate, answer.scheduled_at_ms) == (False, TUESDAY_OPEN)
        assert s.routing.RequestCallback(request, metadata=ADAPTER, timeout=T).duplicate
        assert status(s, "cb1").scheduled_at_ms == TUESDAY_OPEN
        unknown = common_pb2.Call(call_id="cb2", queue_id="nowhere", caller_number="+49")
        bad = routing_pb2.RequestCallbackRequest(callback=unknown, not_before_ms=TUESDAY_OPEN)
        error = error_of(lambda: s.routing.RequestCallback(bad, metadata=ADAPTER, timeout=T))
        assert error.code() == grpc.StatusCode.NOT_FOUND
        assert "callback.queue_id" in (error.details() or "")


def test_out_of_hours_through_the_admin_api(tmp_path: Path) -> None:
    with running(tmp_path, hours_config()) as (_, s):
        rule = admin_pb2.OutOfHoursRule(
            action=common_pb2.OUT_OF_HOURS_ACTION_OVERFLOW, queue_id="nowhere"
        )
        queue = admin_pb2.Queue(
            queue_id="sales",
            skills={"sales": 3},
            hours_id="store",
            out_of_hours=rule,
            break_guard=admin_pb2.BREAK_GUARD_DEFER,
        )
        error = error_of(
            lambda: s.admin.UpsertQueue(
                admin_pb2.UpsertQueueRequest(queue=queue), metadata=md("t-admin"), timeout=T
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert (error.details() or "").startswith("queue.out_of_hours.queue_id: unknown queue")
        queue.out_of_hours.queue_id = "late"
        stored = s.admin.UpsertQueue(
            admin_pb2.UpsertQueueRequest(queue=queue), metadata=md("t-admin"), timeout=T
        ).queue
        assert stored.out_of_hours.queue_id == "late"
        assert stored.break_guard == admin_pb2.BREAK_GUARD_DEFER
