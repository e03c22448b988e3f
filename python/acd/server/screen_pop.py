"""The screen pop: who is calling and what happened before, from the contact history.

By call (the agent's offer, CrmService.GetScreenPop by call_id) or by caller number alone
(a CRM looking a customer up). Every field of ``acd.v1.ScreenPop``:

- ``calls_today``: contacts from the number since midnight of the tenant's local day (in the
  time zone of the queue's business hours, UTC for a queue without: as the queue's "today"
  KPIs), this one included; ``calls_30_days``: the same over the last 30 days.
- ``first_time_caller``: no earlier contact from the number within the tenant's
  ``repeat_caller_window_days`` (default 30); the proto's "30 days" is that default.
- ``last_agent_id`` / ``last_disposition``: the latest earlier contact an agent answered;
  ``last_campaign`` / ``last_call_at_ms``: the latest earlier contact of any outcome.
- ``open_callbacks``: callbacks for the number still waiting in the router.
- ``knowledge_base_links``: the tenant's links whose queue, topic (the call's ``topic``
  attribute) and campaign all match (an unset one matches any).

A lookup by number has no call: its links follow the queue and topic of the number's latest
contact.
A withheld number (empty) has no history: only the call's own data is filled in.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Iterable

from acd.server.caller_counts import Count
from acd.server.config import TenantConfig
from acd.server.history import Contact, HistoryStore
from acd.server.out_of_hours import hours_of
from acd.v1 import common_pb2

__all__ = ["TOPIC_ATTRIBUTE", "day_start", "screen_pop"]

DAY_MS = 86_400_000
# The call attribute the knowledge base matches topics against (set by the IVR or adapter).
TOPIC_ATTRIBUTE = "topic"


def day_start(config: TenantConfig, queue_id: str, now_ms: int) -> int:
    """Midnight of ``now_ms``'s day in the queue's business-hours time zone (UTC without)."""
    hours = hours_of(config, queue_id)
    zone: datetime.tzinfo = zoneinfo.ZoneInfo(hours.timezone) if hours else datetime.UTC
    local = datetime.datetime.fromtimestamp(now_ms / 1000, zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return int(midnight.timestamp() * 1000)


def _links(config: TenantConfig, contact: Contact | None) -> list[common_pb2.KnowledgeLink]:
    if contact is None:
        return []
    topic = contact.attributes.get(TOPIC_ATTRIBUTE)
    return [
        common_pb2.KnowledgeLink(title=link.title, url=link.url)
        for link in config.contacts.knowledge_base
        if link.queue in (None, contact.queue_id)
        and link.topic in (None, topic)
        and link.campaign in (None, contact.campaign)
    ]


def _callbacks(caller: str, live: Iterable[Contact]) -> list[common_pb2.OpenCallback]:
    return [
        common_pb2.OpenCallback(
            call_id=c.call_id,
            queue_id=c.queue_id,
            requested_at_ms=c.enqueued_at,
            callback_number=c.caller_number,
        )
        for c in live
        if c.channel == "callback" and c.caller_number == caller
    ]


def screen_pop(
    config: TenantConfig,
    store: HistoryStore,
    live: Iterable[Contact],
    now_ms: int,
    call: Contact | None,
    caller_number: str = "",
    counts: Count | None = None,
) -> common_pb2.ScreenPop:
    """The pop for ``call`` (a live or finished contact), or for ``caller_number`` alone;
    ``live`` are the tenant's open callbacks (the ones of this number are listed)."""
    caller = call.caller_number if call is not None else caller_number
    pop = common_pb2.ScreenPop(call_id=call.call_id if call else "", caller_number=caller)
    if call is not None:
        pop.dialled_number = call.dialled_number
        pop.campaign = call.campaign
        pop.attributes.update(call.attributes)
    if not caller:
        pop.first_time_caller = True
        pop.knowledge_base_links.extend(_links(config, call))
        return pop
    window_days = config.contacts.repeat_caller_window_days
    this = call.call_id if call is not None else ""
    # A finished call is looked at as of its arrival: what came after it is not "before".
    before = call.enqueued_at if call is not None else now_ms
    previous = store.previous_by_caller(caller, before, this)
    anchor = call if call is not None else store.latest_by_caller(caller, now_ms, "")
    today = day_start(config, anchor.queue_id, now_ms) if anchor is not None else now_ms
    # Counts and single rows from the (tenant, caller_number, enqueued_at) index: a number
    # that called thousands of times (a withheld one, a switchboard) costs no more per offer.
    windows = (today, now_ms - 30 * DAY_MS)
    pop.calls_today, pop.calls_30_days = (counts or store.counts_by_caller)(caller, windows, now_ms)
    repeat_since = before - window_days * DAY_MS
    pop.first_time_caller = previous is None or previous.enqueued_at < repeat_since
    if previous is not None:
        pop.last_campaign = previous.campaign
        pop.last_call_at_ms = previous.enqueued_at
    answered = previous is not None and previous.answered_at is not None
    handled = previous if answered else store.last_handled(caller, before, this)
    if handled is not None:
        pop.last_agent_id = handled.agent_id
        pop.last_disposition = handled.disposition
    pop.open_callbacks.extend(_callbacks(caller, live))
    pop.knowledge_base_links.extend(_links(config, anchor))
    return pop
