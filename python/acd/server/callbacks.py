"""Callbacks: RequestCallback (at once in the caller's place, or scheduled), and the retries of
a callback whose customer was not reached (EndCall's ``callback_result``).

- In place: a waiting (or ringing) call whose caller asks to be called back becomes the
  callback in its place in line (the router's ``request_callback``, ROUTING.md): the call ends
  with outcome ``callback-requested`` (neither answered nor abandoned) and the callback is
  offered exactly when the call would have been. Its history row says which call it replaces
  (``callback_for``).
- Scheduled (``not_before_ms`` in the future): the caller cannot keep a place; the original
  call ends as abandoned and the callback enters its queue at that time (``svc:callback``,
  service_state), surviving a restart.
- Retries: a callback connected to an agent is dialled by the PBX (``CallConnected.dial_number``).
  EndCall with ``NO_ANSWER`` or ``BUSY`` schedules the next attempt after the queue's
  ``callback_retry_gap_s``, up to ``callback_max_attempts`` tries in all; the attempt number
  travels in the call's attributes (``callback_attempt``, shown to the agent in the offer) and
  the first callback's id in ``callback_first``, so the retries are ``<first>-retry<n>``. The end
  and the next attempt are journaled in one entry: a crash keeps both or neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from acd.server.commands import refusal
from acd.server.convert import ATTEMPT, attempt_of
from acd.server.journal_format import Command
from acd.server.missed import CALLBACK_FOR, callback_enqueue
from acd.server.service_base import invalid, not_found, require_id
from acd.v1 import common_pb2, routing_pb2

if TYPE_CHECKING:
    from acd.server.tenant import Tenant

FIRST = "callback_first"
RETRY_RESULTS = frozenset({common_pb2.CALLBACK_RESULT_NO_ANSWER, common_pb2.CALLBACK_RESULT_BUSY})
RESULT_NAMES = {
    common_pb2.CALLBACK_RESULT_REACHED: "reached",
    common_pb2.CALLBACK_RESULT_NO_ANSWER: "no-answer",
    common_pb2.CALLBACK_RESULT_BUSY: "busy",
    common_pb2.CALLBACK_RESULT_FAILED: "failed",
}


def in_place(tenant: Tenant, request: routing_pb2.RequestCallbackRequest, now: int) -> Command:
    """The router command for a callback taking ``original_call_id``'s place; refuses what the
    router would refuse by a field of the request, before anything is applied."""
    original = request.original_call_id
    callback = request.callback
    callback_id = require_id(callback.call_id, "callback.call_id")
    info = tenant.router.call_info(original)
    if info is None:
        raise not_found("original_call_id", original, "call")
    if callback.queue_id and callback.queue_id != info["queue_id"]:
        why = f"a callback in place stays in the call's queue {info['queue_id']!r}"
        raise invalid("callback.queue_id", why)
    number = callback.caller_number
    if number:
        require_id(number, "callback.caller_number")
    elif not info["caller"]:
        raise invalid("callback.caller_number", "required: the call has no caller number")
    return ("request_callback", original, callback_id, number, now)


async def request_callback(
    tenant: Tenant, request: routing_pb2.RequestCallbackRequest, now: int
) -> routing_pb2.RequestCallbackResponse:
    """RequestCallback with ``original_call_id`` and no future ``not_before_ms``."""
    callback_id = request.callback.call_id
    original = request.original_call_id
    if callback_id in tenant.live_calls and tenant.router.call_info(original) is None:
        return routing_pb2.RequestCallbackResponse(duplicate=True)  # a repeated request
    command = in_place(tenant, request, now)
    outcome = await tenant.execute([command])
    for e in outcome.events:
        if e.kind == "error":
            fields = {"call_id": "original_call_id", "callback_id": "callback.call_id"}
            raise refusal(e, {**fields, "number": "callback.caller_number"})
    tenant.waits.enter(tenant, [command[2]], now)  # it waits without an event of its own
    return routing_pb2.RequestCallbackResponse()


def retry(
    tenant: Tenant, info: dict[str, Any], result: int, now: int
) -> tuple[Command, str, int] | None:
    """The next attempt of callback ``info`` whose customer was not reached: its scheduling
    service command, id and due time; None when the result or the queue allows none."""
    if info.get("channel") != "callback" or result not in RETRY_RESULTS:
        return None
    queue = tenant.queues.get(info["queue_id"])
    if queue is None:
        return None
    options = queue.contacts
    attempt = attempt_of(info["attributes"])
    if attempt >= options.callback_max_attempts:
        return None
    attributes = dict(info.get("attributes", {}))
    contact = tenant.contacts.open_callbacks.get(info["id"])
    if contact is not None and contact.callback_for:  # the call the callbacks are for
        attributes[CALLBACK_FOR] = contact.callback_for
    first = attributes.get(FIRST) or info["id"]
    attributes[FIRST] = first
    attributes[ATTEMPT] = str(attempt + 1)
    call_id = f"{first}-retry{attempt + 1}"
    due = now + options.callback_retry_gap_ms
    enqueue = callback_enqueue(
        call_id,
        info["queue_id"],
        now,
        info["priority"],
        info["caller"],
        info["dialled"],
        attributes,
    )
    return ("svc:callback", call_id, due, list(enqueue), now), call_id, due


async def end_call(
    tenant: Tenant, request: routing_pb2.EndCallRequest, now: int
) -> routing_pb2.EndCallResponse:
    """EndCall: the connected call ends; a callback not reached may get its next attempt."""
    call_id = require_id(request.call_id, "call_id")
    result = request.callback_result
    if result and result not in RESULT_NAMES:
        raise invalid("callback_result", f"unknown callback result {result}")
    answer = routing_pb2.EndCallResponse(outcome=common_pb2.CALL_OUTCOME_COMPLETED)
    info = tenant.router.call_info(call_id) if result else None
    if info is not None and info["state"] != "connected":
        info = None  # the router refuses the end below; nothing may be scheduled for it
    planned = retry(tenant, info, result, now) if info is not None else None
    if info is not None and info["channel"] == "callback":
        tenant.contacts.expect_callback_result(call_id, RESULT_NAMES[result])
    service: list[Command] = []
    if planned is not None:
        command, answer.retry_call_id, answer.retry_at_ms = planned
        service.append(command)
    outcome = await tenant.execute([("end", call_id, now)], service)
    for e in outcome.events:
        if e.kind == "error":
            raise refusal(e)
    return answer
