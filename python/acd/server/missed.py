"""Missed calls: which finished contacts count as missed, their automatic callbacks, and the
supervisors' list (DESIGN.md, KPI "missed": calls not answered during business hours).

A contact is missed when it ended ``abandoned`` (the caller hung up, waiting or ringing) or
``expired`` (its time to live ran out) without an agent having answered it, and it came in
while its queue was within business hours (a queue without hours always is; the contact's
``within_hours`` is taken at arrival, so a call that came in at 17:59 and was given up at
18:01 is missed). Not missed: calls the router sent on to a destination (overflowed-out,
transferred-out: someone else handles them) and callbacks themselves (an unanswered callback
leaves the call it was for in the list, which is the entry that matters).

An entry clears when a later contact of the same caller number is answered in that queue, or
when its callback is answered (``history.clear_missed``, written with the ``connected``
event).

Automatic callbacks (queue option ``missed_callback_within_s``): a missed call with a caller
number becomes a callback at once, as a follow-up command of the batch that finished it
(``history_events``), so it is journaled and replayed like any enqueue. Its id is derived from
the missed call's (``<call_id>:callback``), so it is the same on every run and a repeat is a
duplicate the router ignores. Its priority makes it reachable within the time: with the queue's
default order (``aging_s`` 0) priority comes strictly first, so priority 1 puts the callback
ahead of every normal inbound call and it goes to the first agent with callback capacity that
frees up; with ``aging_s`` = A, priority ceil(within / A) ranks it as if it had already waited
the whole allowance, ahead of every inbound call that has waited less. Whether an agent frees
up in time is staffing: ``callback_due_at`` in the list shows the supervisor which callbacks
are late.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from acd.server import convert
from acd.server.config import TenantConfig
from acd.server.history import Contact
from acd.server.journal_format import Command
from acd.v1 import common_pb2, supervision_pb2

__all__ = ["CALLBACK_FOR", "MISSED_OUTCOMES", "callback_priority", "missed_call", "on_finished"]

MISSED_OUTCOMES = frozenset({"abandoned", "expired"})
# The attribute that ties an automatic callback to the call it is for (shown in screen pops).
CALLBACK_FOR = "callback_for"
CALLBACK_SUFFIX = ":callback"
MAX_PRIORITY = 1_000_000  # the router's bound


def callback_priority(within_ms: int, aging_ms: int) -> int:
    """The priority that ranks a callback as if it had waited ``within_ms`` already."""
    if aging_ms <= 0:
        return 1
    return max(1, min(MAX_PRIORITY, -(-within_ms // aging_ms)))


def on_finished(config: TenantConfig, contact: Contact, now: int) -> Command | None:
    """Marks a contact that just finished as missed when it is one; gives the automatic
    callback's enqueue command when its queue asks for one."""
    if (
        contact.outcome not in MISSED_OUTCOMES
        or contact.answered_at is not None
        or not contact.within_hours
        or contact.channel == "callback"
    ):
        return None
    contact.missed = True
    queue = next((q for q in config.queues if q.id == contact.queue_id), None)
    within = queue.contacts.missed_callback_within_ms if queue is not None else 0
    if queue is None or not within or not contact.caller_number:
        return None
    call_id = contact.call_id + CALLBACK_SUFFIX
    contact.callback_call_id = call_id
    contact.callback_due_at = (contact.ended_at or now) + within
    attributes = {**contact.attributes, CALLBACK_FOR: contact.call_id}
    priority = callback_priority(within, queue.aging_ms)
    return callback_enqueue(
        call_id, queue.id, now, priority, contact.caller_number, contact.dialled_number, attributes
    )


def callback_enqueue(
    call_id: str,
    queue_id: str,
    at: int,
    priority: int,
    caller: str,
    dialled: str,
    attributes: Mapping[str, str],
) -> Command:
    """The router's enqueue of a callback (channel callback) to ``caller``: a missed call's,
    or the next attempt of one not reached (acd.server.callbacks)."""
    options: dict[str, object] = {"channel": "callback", "attributes": dict(attributes)}
    if caller:
        options["caller"] = caller
    if dialled:
        options["dialled"] = dialled
    return ("enqueue", call_id, queue_id, at, priority, options)


def missed_call(c: Contact) -> supervision_pb2.MissedCall:
    return supervision_pb2.MissedCall(
        call_id=c.call_id,
        queue_id=c.queue_id,
        channel=convert.CHANNEL_ENUM.get(c.channel, common_pb2.CHANNEL_UNSPECIFIED),
        caller_number=c.caller_number,
        dialled_number=c.dialled_number,
        campaign=c.campaign,
        enqueued_at_ms=c.enqueued_at,
        ended_at_ms=c.ended_at or 0,
        wait_ms=c.wait_ms,
        outcome=convert.OUTCOMES.get(c.outcome or "", common_pb2.CALL_OUTCOME_UNSPECIFIED),
        callback_call_id=c.callback_call_id,
        callback_due_at_ms=c.callback_due_at or 0,
        cleared_at_ms=c.cleared_at or 0,
        cleared_by_call_id=c.cleared_by,
    )


def missed_calls(contacts: Sequence[Contact]) -> list[supervision_pb2.MissedCall]:
    return [missed_call(c) for c in contacts]
