"""A queue's alert thresholds (config_alerts) as AdminService's ``QueueAlerts``, both ways. The
file counts seconds where the message counts milliseconds (``longest_wait_above_s`` is
``longest_wait_above_ms``); admin_convert names a mistake by the request's field."""

from __future__ import annotations

from acd.server.config_alerts import QueueAlerts, queue_alerts_raw
from acd.server.config_raw import Raw, seconds
from acd.server.service_base import invalid
from acd.v1 import admin_pb2

# The file's key -> the message's field, for naming mistakes.
ALERT_KEYS = {
    "longest_wait_above_s": "longest_wait_above_ms",
    "asa_above_s": "asa_above_ms",
    "min_interval_s": "min_interval_ms",
}
_SAME = (
    *("sl_below", "waiting_above", "abandon_rate_above", "ready_below", "occupancy_above"),
    *("min_calls", "hysteresis"),
)


def alerts_raw(q: admin_pb2.Queue) -> Raw:
    """The file's ``alerts`` table for ``q.alerts`` (nothing when unset)."""
    if not q.HasField("alerts"):
        return {}
    a = q.alerts
    table: Raw = {name: getattr(a, name) for name in _SAME if a.HasField(name)}  # type: ignore[arg-type]
    for key, name in ALERT_KEYS.items():
        if a.HasField(name):  # type: ignore[arg-type]
            ms = getattr(a, name)
            if ms < 0:
                raise invalid(f"queue.alerts.{name}", f"{ms} is negative")
            table[key] = seconds(ms)
    if a.severity:
        table["severity"] = a.severity
    return {"alerts": table}


def fill_alerts(out: admin_pb2.Queue, alerts: QueueAlerts) -> None:
    """Sets ``out.alerts`` from ``alerts`` (left unset when nothing is watched)."""
    raw = queue_alerts_raw(alerts).get("alerts")
    if not isinstance(raw, dict):
        return
    message = out.alerts
    for name in _SAME:
        if name in raw:
            setattr(message, name, raw[name])
    for key, name in ALERT_KEYS.items():
        if key in raw:
            setattr(message, name, round(float(raw[key]) * 1000))
    message.severity = alerts.severity
