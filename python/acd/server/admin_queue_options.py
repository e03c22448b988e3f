"""The queue options of config_queue_options as AdminService's ``Queue`` fields, both ways:
``break_guard``, ``break_reasons``, ``out_of_hours`` (an ``OutOfHoursRule``) and
``default_handle_ms``. What the file calls ``out_of_hours.queue`` the message calls
``out_of_hours.queue_id`` (admin_convert names a mistake by the request's field)."""

from __future__ import annotations

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
OPTION_KEYS = {"default_handle_s": "default_handle_ms", "queue": "queue_id"}


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
