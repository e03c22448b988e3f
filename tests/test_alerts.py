"""The alert rules (acd.server.alerts) on figures set by hand: which checks apply, when an
alert is raised and cleared (hysteresis), and that a cleared alert stays quiet for the minimum
interval; the ``alerts`` table of the config, its defaults and its mistakes."""

from __future__ import annotations

import pytest

from acd.server.alerts import AlertBook, Check, breached, checks, recovered
from acd.server.config import ConfigError
from acd.server.config_alerts import QueueAlerts, queue_alerts_raw
from acd.v1 import common_pb2, supervision_pb2
from server_helpers import TEST_CONFIG, make_config

K = supervision_pb2
ALL = QueueAlerts(
    sl_below=0.8,
    waiting_above=3,
    longest_wait_above_ms=60_000,
    abandon_rate_above=0.1,
    asa_above_ms=30_000,
    ready_below=1,
    occupancy_above=0.9,
    min_calls=5,
)


def _stats(
    waiting: int = 0, longest_s: float = 0, ready: int = 0, busy: int = 0, logged_out: int = 0,
    offered: int = 0, answered: int = 0, sl: float = 0.0, abandon: float = 0.0, asa_s: float = 0,
) -> common_pb2.QueueStats:  # fmt: skip
    stats = common_pb2.QueueStats(queue_id="sales", waiting=waiting)
    stats.longest_wait_ms = int(longest_s * 1000)
    for state, count in (
        (common_pb2.AGENT_STATE_READY, ready),
        (common_pb2.AGENT_STATE_BUSY, busy),
        (common_pb2.AGENT_STATE_LOGGED_OUT, logged_out),
    ):
        stats.agents.add(state=state, count=count)
    stats.interval.offered, stats.interval.answered = offered, answered
    stats.interval.sl_offered, stats.interval.abandon_rate = sl, abandon
    stats.interval.asa_ms = int(asa_s * 1000)
    return stats


def _breached(stats: common_pb2.QueueStats, open_now: bool = True) -> set[int]:
    return {c.kind for c in checks(ALL, stats, open_now) if breached(c)}


def test_each_threshold_by_hand() -> None:
    assert _breached(_stats(ready=1, busy=1)) == set()
    assert _breached(_stats(waiting=4, longest_s=61, ready=1)) == {
        K.ALERT_KIND_WAITING_CALLS,
        K.ALERT_KIND_LONGEST_WAIT,
    }
    # Ratios of the interval count only from min_calls offered (answered, for ASA) on.
    few = _stats(offered=4, answered=4, sl=0.5, abandon=0.3, asa_s=45.0, ready=1)
    enough = _stats(offered=5, answered=5, sl=0.5, abandon=0.3, asa_s=45.0, ready=1)
    assert _breached(few) == set()
    assert _breached(enough) == {
        K.ALERT_KIND_SERVICE_LEVEL,
        K.ALERT_KIND_ABANDON_RATE,
        K.ALERT_KIND_ASA,
    }
    assert _breached(_stats(ready=0, busy=2)) == {K.ALERT_KIND_READY_AGENTS, K.ALERT_KIND_OCCUPANCY}
    assert _breached(_stats(ready=0, busy=2), open_now=False) == {K.ALERT_KIND_OCCUPANCY}
    assert _breached(_stats(waiting=1, logged_out=3)) == {
        K.ALERT_KIND_NO_AGENTS,
        K.ALERT_KIND_READY_AGENTS,
    }


def _check(kind: int, stats: common_pb2.QueueStats) -> Check:
    (found,) = [c for c in checks(ALL, stats, True) if c.kind == kind]
    return found


def test_hysteresis() -> None:
    sl = K.ALERT_KIND_SERVICE_LEVEL
    assert breached(_check(sl, _stats(offered=9, sl=0.79)))
    back = _check(sl, _stats(offered=9, sl=0.81))  # back over the target, not by enough
    assert not breached(back) and not recovered(back, 0.1)
    assert recovered(_check(sl, _stats(offered=9, sl=0.83)), 0.1)  # >= 0.8 + (1 - 0.8) x 0.1
    waits = K.ALERT_KIND_LONGEST_WAIT
    assert not recovered(_check(waits, _stats(longest_s=55)), 0.1)  # clears at <= 54 s
    assert recovered(_check(waits, _stats(longest_s=54)), 0.1)
    count = _check(K.ALERT_KIND_WAITING_CALLS, _stats(waiting=3))  # counts: at the limit
    assert not breached(count) and recovered(count, 0.1)


def test_book_raises_once_clears_with_the_same_id_and_keeps_quiet() -> None:
    book = AlertBook()
    busy = checks(ALL, _stats(waiting=5, ready=1), True)
    (raised,) = book.judge("sales", ALL, busy, 1_000)
    assert (raised.kind, raised.queue_id, raised.raised_at_ms) == (3, "sales", 1_000)
    assert raised.severity == K.ALERT_SEVERITY_WARNING
    assert raised.message == "sales: 5 calls waiting (limit 3)"
    assert book.judge("sales", ALL, busy, 2_000) == []  # still raised: no repeat
    calm = checks(ALL, _stats(waiting=3, ready=1), True)
    (cleared,) = book.judge("sales", ALL, calm, 3_000)
    assert (cleared.alert_id, cleared.cleared_at_ms) == (raised.alert_id, 3_000)
    assert book.judge("sales", ALL, busy, 3_000 + 59_999) == []  # the minimum interval
    (again,) = book.judge("sales", ALL, busy, 3_000 + 60_000)
    assert again.alert_id != raised.alert_id


def test_agent_paused_alerts() -> None:
    book = AlertBook()
    (raised,) = book.agent_state("anna", True, 10)
    assert (raised.kind, raised.agent_id, raised.queue_id) == (
        K.ALERT_KIND_AGENT_PAUSED,
        "anna",
        "",
    )
    assert book.agent_state("anna", True, 11) == []
    (cleared,) = book.agent_state("anna", False, 20)
    assert (cleared.alert_id, cleared.cleared_at_ms) == (raised.alert_id, 20)
    assert book.agent_state("ben", False, 21) == []


def test_config_alerts_table() -> None:
    text = TEST_CONFIG.replace(
        "offer_timeout_s = 60\nwrapup = 0.2\n",
        "offer_timeout_s = 60\nwrapup = 0.2\n"
        "alerts = { waiting_above = 2, sl_below = 0.9, asa_above_s = 12.5,"
        ' severity = "critical" }\n',
        1,
    )
    sales = next(q for q in make_config(text).tenants["store"].queues if q.id == "sales")
    assert (sales.alerts.waiting_above, sales.alerts.sl_below) == (2, 0.9)
    assert (sales.alerts.asa_above_ms, sales.alerts.severity) == (12_500, "critical")
    assert (sales.alerts.min_calls, sales.alerts.min_interval_ms) == (5, 60_000)
    assert queue_alerts_raw(sales.alerts)["alerts"]["asa_above_s"] == 12.5  # type: ignore[index]
    for wrong, path in [
        ("alerts = { sl_below = 1.5 }", "alerts.sl_below"),
        ("alerts = { waiting = 2 }", "alerts.waiting"),
        ('alerts = { waiting_above = 2, severity = "loud" }', "alerts.severity"),
        ("alerts = { min_calls = 3 }", "alerts.sl_below"),  # no threshold at all
    ]:
        bad = TEST_CONFIG.replace(
            "offer_timeout_s = 60\nwrapup = 0.2\n",
            f"offer_timeout_s = 60\nwrapup = 0.2\n{wrong}\n",
            1,
        )
        with pytest.raises(ConfigError) as e:
            make_config(bad)
        assert path in str(e.value)


def test_config_alert_notify_mistakes() -> None:
    for wrong, path in [
        ('webhook = "ftp://hooks.example/x"', "alert_notify.webhook"),
        ('email_to = ["not an address"]', "alert_notify.email_to[0]"),
        ("smtp_port = 0", "alert_notify.smtp_port"),
        ('min_severity = "loud"', "alert_notify.min_severity"),
    ]:
        with pytest.raises(ConfigError) as e:
            make_config(TEST_CONFIG + f"\n[tenants.store.alert_notify]\n{wrong}\n")
        assert path in str(e.value)
    ok = make_config(TEST_CONFIG + '\n[tenants.store.alert_notify]\nemail_to = ["a@b.test"]\n')
    notify = ok.tenants["store"].alert_notify
    assert (notify.any, notify.webhook, notify.smtp_port, notify.min_severity) == (
        True,
        None,
        25,
        "warning",
    )
