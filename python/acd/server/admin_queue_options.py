"""The service's queue options as AdminService's ``Queue`` fields, both ways:

- config_queue_options: ``break_guard``, ``break_reasons``, ``out_of_hours`` (an
  ``OutOfHoursRule``) and ``default_handle_ms``; what the file calls ``out_of_hours.queue`` the
  message calls ``out_of_hours.queue_id``;
- config_alerts: ``alerts`` (a ``QueueAlerts``);
- config_contacts: ``dispositions``, ``disposition_required``, ``missed_callback_within_ms``,
  the ``callback_*`` options.

The file counts seconds where the messages count milliseconds (``longest_wait_above_s`` is
``longest_wait_above_ms``); admin_convert names a mistake by the request's field."""

from __future__ import annotations

from acd.server.config_alerts import QueueAlerts, queue_alerts_raw
from acd.server.config_contacts import QueueContacts
from acd.server.config_queue_options import DEFAULT_HANDLE_MS, QueueOptions
from acd.server.config_raw import Raw, seconds
from acd.server.service_base import invalid
from acd.v1 import admin_pb2, common_pb2

BREAK_GUARD_ENUM = {
    "off": admin_pb2.BREAK_GUARD_OFF,
    "refuse": admin_pb2.BREAK_GUARD_REFUSE,
    "defer": admin_pb2.BREAK_GUARD_DEFER,
}
_BREAK_GUARD_NAMES = {v: k for k, v in BREAK_GUARD_ENUM.items()}
ACTION_ENUM = {
    "callback": common_pb2.OUT_OF_HOURS_ACTION_CALLBACK,
    "voicemail": common_pb2.OUT_OF_HOURS_ACTION_VOICEMAIL,
    "message": common_pb2.OUT_OF_HOURS_ACTION_MESSAGE,
    "overflow": common_pb2.OUT_OF_HOURS_ACTION_OVERFLOW,
}
_ACTION_NAMES = {v: k for k, v in ACTION_ENUM.items()}
# The file's key -> the message's field, for naming mistakes (admin_convert's _QUEUE_KEYS).
OPTION_KEYS = {
    "default_handle_s": "default_handle_ms",
    "queue": "queue_id",
    "missed_callback_within_s": "missed_callback_within_ms",
}


def options_raw(q: admin_pb2.Queue) -> Raw:
    """The file's keys for the options set in ``q``."""
    raw: Raw = {}
    if q.break_guard != admin_pb2.BREAK_GUARD_UNSPECIFIED:
        if q.break_guard not in _BREAK_GUARD_NAMES:
            raise invalid("queue.break_guard", f"unknown break guard {q.break_guard}")
        raw["break_guard"] = _BREAK_GUARD_NAMES[q.break_guard]
    if q.break_reasons:
        raw["break_reasons"] = list(q.break_reasons)
    if q.HasField("out_of_hours"):
        rule = q.out_of_hours
        if rule.action not in _ACTION_NAMES:
            raise invalid("queue.out_of_hours.action", "required: callback, voicemail, ...")
        table: Raw = {"action": _ACTION_NAMES[rule.action]}
        for name, key in (("destination", "destination"), ("queue_id", "queue")):
            if value := getattr(rule, name):
                table[key] = value
        if rule.message:
            table["message"] = rule.message
        raw["out_of_hours"] = table
    if q.HasField("default_handle_ms"):
        if q.default_handle_ms < 0:
            raise invalid("queue.default_handle_ms", f"{q.default_handle_ms} is negative")
        raw["default_handle_s"] = seconds(q.default_handle_ms)
    return raw


def fill_options(out: admin_pb2.Queue, options: QueueOptions) -> None:
    """Sets ``out``'s option fields from ``options``."""
    out.break_guard = BREAK_GUARD_ENUM[options.break_guard]
    out.break_reasons.extend(options.break_reasons)
    ooh = options.out_of_hours
    if ooh is not None:
        out.out_of_hours.CopyFrom(
            admin_pb2.OutOfHoursRule(
                action=ACTION_ENUM[ooh.action],
                destination=ooh.destination or "",
                queue_id=ooh.queue or "",
                message=ooh.message,
            )
        )
    if options.default_handle_ms != DEFAULT_HANDLE_MS:
        out.default_handle_ms = options.default_handle_ms


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


def contacts_raw(q: admin_pb2.Queue) -> Raw:
    """The file's contact keys for ``q``."""
    raw: Raw = {}
    if q.dispositions:
        raw["dispositions"] = list(q.dispositions)
    if q.disposition_required:
        raw["disposition_required"] = True
    if q.missed_callback_within_ms:
        if q.missed_callback_within_ms < 0:
            ms = q.missed_callback_within_ms
            raise invalid("queue.missed_callback_within_ms", f"{ms} is negative")
        raw["missed_callback_within_s"] = seconds(q.missed_callback_within_ms)
    if q.callback_max_attempts:
        raw["callback_max_attempts"] = q.callback_max_attempts
    for name in _CALLBACK_MILLIS:
        ms = getattr(q, name)
        if ms < 0:
            raise invalid(f"queue.{name}", f"{ms} is negative")
        if ms:
            raw[name.removesuffix("_ms") + "_s"] = seconds(ms)
    return raw


def fill_contacts(out: admin_pb2.Queue, contacts: QueueContacts) -> None:
    out.dispositions.extend(contacts.dispositions)
    out.disposition_required = contacts.disposition_required
    out.missed_callback_within_ms = contacts.missed_callback_within_ms
    out.callback_max_attempts = contacts.callback_max_attempts
    out.callback_retry_gap_ms = contacts.callback_retry_gap_ms
    out.callback_offer_after_ms = contacts.callback_offer_after_ms
    out.callback_offer_ewt_above_ms = contacts.callback_offer_ewt_above_ms


# The queue's callback durations (ms in acd.v1, seconds in the file: the same name, _s).
_CALLBACK_MILLIS = (
    "callback_retry_gap_ms",
    "callback_offer_after_ms",
    "callback_offer_ewt_above_ms",
)
