"""A queue's service-side options: the break guard, the out-of-hours decision and the wait
estimate's default handle time. The router knows none of them (they are not in its JSON
config); the service applies them around the router's commands.

```toml
[[tenants.store.queues]]
id = "sales"
hours = "store"
break_guard = "defer"               # "off" (default) | "refuse" | "defer"
break_reasons = ["break", "lunch"]  # the not-ready reasons that count as a break (default: any)
out_of_hours = { action = "callback", queue = "callbacks" }
default_handle_s = 240              # handle time the wait estimate assumes with no history
```

``out_of_hours`` (only with ``hours``; without it a call outside hours waits as any other):
- ``action = "callback"``: the caller is called back when the queue opens; ``queue`` is where
  the callback waits (default: this queue). A call without a caller number cannot be called
  back: the caller hears ``message`` instead.
- ``action = "voicemail"``: the PBX sends the call to ``destination`` (a voicemail box).
- ``action = "message"``: the PBX plays ``message`` (an announcement id or text) and hangs up.
- ``action = "overflow"``: the call goes to ``queue`` (another queue, whose own hours apply)
  or out to ``destination``; exactly one of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from acd.server.config_fields import ConfigError, Table, check_id

BREAK_GUARDS = ("off", "refuse", "defer")
OUT_OF_HOURS_ACTIONS = ("callback", "voicemail", "message", "overflow")
OUT_OF_HOURS_KEYS = ("action", "destination", "queue", "message")
QUEUE_OPTION_KEYS = ("break_guard", "break_reasons", "out_of_hours", "default_handle_s")
DEFAULT_HANDLE_MS = 180_000


@dataclass(frozen=True, slots=True)
class OutOfHours:
    """What happens to a call that arrives while its queue is closed."""

    action: str
    destination: str | None = None
    queue: str | None = None
    message: str = ""


@dataclass(frozen=True, slots=True)
class QueueOptions:
    break_guard: str = "off"
    break_reasons: tuple[str, ...] = ()  # empty: every not-ready reason is a break
    out_of_hours: OutOfHours | None = None
    default_handle_ms: int = DEFAULT_HANDLE_MS


def _out_of_hours(t: Table) -> OutOfHours | None:
    if not t.has("out_of_hours"):
        return None
    o = t.table("out_of_hours", OUT_OF_HOURS_KEYS)
    action = o.choice("action", None, OUT_OF_HOURS_ACTIONS)
    destination = o.optional_string("destination")
    if destination is not None:
        check_id(o.key("destination"), destination)
    queue = o.optional_string("queue")
    if queue is not None:
        check_id(o.key("queue"), queue)
    message = o.string("message", "")
    if action == "voicemail" and destination is None:
        raise ConfigError(o.key("destination"), "voicemail needs a destination (the mailbox)")
    if action == "overflow" and (queue is None) == (destination is None):
        raise ConfigError(o.key("action"), "overflow names exactly one of queue or destination")
    if action in ("callback", "message") and destination is not None:
        raise ConfigError(o.key("destination"), f"not used by {action!r}")
    if action == "voicemail" and queue is not None:
        raise ConfigError(o.key("queue"), "not used by 'voicemail'")
    return OutOfHours(action, destination, queue, message)


def parse_queue_options(t: Table) -> QueueOptions:
    """The options of the queue table ``t`` (its other keys are config_tenant's)."""
    reasons = []
    for i, item in enumerate(t.array("break_reasons")):
        reasons.append(check_id(f"{t.key('break_reasons')}[{i}]", item))
    return QueueOptions(
        break_guard=t.choice("break_guard", "off", BREAK_GUARDS),
        break_reasons=tuple(reasons),
        out_of_hours=_out_of_hours(t),
        default_handle_ms=t.millis("default_handle_s", DEFAULT_HANDLE_MS, minimum_s=0.001),
    )


def check_queue_options(
    t: Table, options: QueueOptions, queue_id: str, has_hours: bool, queue_ids: set[str]
) -> None:
    """What needs the tenant's other queues: an out-of-hours queue must exist."""
    ooh = options.out_of_hours
    if ooh is None:
        return
    if not has_hours:
        raise ConfigError(t.key("out_of_hours"), "needs hours (the schedule it applies outside)")
    if ooh.queue is not None and ooh.queue not in queue_ids:
        raise ConfigError(t.key("out_of_hours") + ".queue", f"unknown queue {ooh.queue!r}")
    if ooh.action == "overflow" and ooh.queue == queue_id:
        raise ConfigError(t.key("out_of_hours") + ".queue", "a queue cannot overflow to itself")


def options_raw(options: QueueOptions) -> dict[str, object]:
    """The file's keys for ``options`` (the inverse of ``parse_queue_options``)."""
    out: dict[str, object] = {}
    if options.break_guard != "off":
        out["break_guard"] = options.break_guard
    if options.break_reasons:
        out["break_reasons"] = list(options.break_reasons)
    ooh = options.out_of_hours
    if ooh is not None:
        table: dict[str, object] = {"action": ooh.action}
        if ooh.destination is not None:
            table["destination"] = ooh.destination
        if ooh.queue is not None:
            table["queue"] = ooh.queue
        if ooh.message:
            table["message"] = ooh.message
        out["out_of_hours"] = table
    if options.default_handle_ms != DEFAULT_HANDLE_MS:
        ms = options.default_handle_ms
        out["default_handle_s"] = ms // 1000 if ms % 1000 == 0 else ms / 1000
    return out
