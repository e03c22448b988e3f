"""What an enqueue request becomes: the router's enqueue, or, while the queue is closed, its
out-of-hours decision (acd.server.out_of_hours) carried out.

- callback: a callback (channel callback, id ``<call_id>-callback``, the caller's number) is
  scheduled for the next opening in the decision's queue (``svc:callback``, service_state);
  the call itself does not enter the router.
- overflow to a queue: the call is enqueued there instead (that queue's hours were checked).
- overflow to a destination, voicemail, message: nothing enters the router; the response
  tells the adapter what to do with the call.

The decision uses the server clock (``Tenant.clock``), like every other command's time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from acd.server.journal_format import Command
from acd.server.out_of_hours import Decision, decide
from acd.v1 import common_pb2, routing_pb2

if TYPE_CHECKING:
    from acd.server.tenant import Tenant

CALLBACK_SUFFIX = "-callback"
_ACTIONS = {
    "callback": common_pb2.OUT_OF_HOURS_ACTION_CALLBACK,
    "voicemail": common_pb2.OUT_OF_HOURS_ACTION_VOICEMAIL,
    "message": common_pb2.OUT_OF_HOURS_ACTION_MESSAGE,
    "overflow": common_pb2.OUT_OF_HOURS_ACTION_OVERFLOW,
}


class Plan(NamedTuple):
    commands: list[Command]  # for the router: the enqueue, or nothing
    service: list[Command]  # a scheduled callback, or nothing
    decision: routing_pb2.OutOfHoursDecision | None
    repeat: bool = False  # the callback was scheduled already (a repeated enqueue)


def callback_command(
    call: common_pb2.Call, command: Command, call_id: str, queue_id: str
) -> Command:
    """``command`` (the call's enqueue tuple) as its callback: new id, queue, channel."""
    options = dict(command[5]) if len(command) > 5 else {}
    options["channel"] = "callback"
    options["caller"] = call.caller_number
    return ("enqueue", call_id, queue_id, command[3], command[4], options)


def plan(tenant: Tenant, call: common_pb2.Call, command: Command, now_ms: int) -> Plan:
    """The plan for ``call`` (whose router enqueue is ``command``) arriving at ``now_ms``."""
    queue = tenant.queues.get(call.queue_id)
    if queue is None or queue.options.out_of_hours is None:
        return Plan([command], [], None)  # an unknown queue is the router's to refuse
    decision = decide(tenant.config, queue, now_ms, bool(call.caller_number))
    if decision is None:
        return Plan([command], [], None)
    out = _message(decision)
    if decision.action == "overflow" and decision.target_queue:
        return Plan([(command[0], command[1], decision.target_queue, *command[3:])], [], out)
    if decision.action != "callback":
        return Plan([], [], out)
    callback_id = call.call_id + CALLBACK_SUFFIX
    out.callback_call_id = callback_id
    if callback_id in tenant.service.callbacks or callback_id in tenant.live_calls:
        return Plan([], [], out, repeat=True)
    enqueue = callback_command(call, command, callback_id, decision.target_queue)
    due = decision.next_open_ms or now_ms
    return Plan([], [("svc:callback", callback_id, due, list(enqueue), now_ms)], out)


def _message(d: Decision) -> routing_pb2.OutOfHoursDecision:
    return routing_pb2.OutOfHoursDecision(
        action=_ACTIONS[d.action],
        queue_id=d.queue_id,
        destination=d.destination,
        target_queue_id=d.target_queue if d.action in ("overflow", "callback") else "",
        message=d.message,
        next_open_ms=d.next_open_ms,
    )
