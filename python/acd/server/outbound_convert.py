"""Work lists between the API (outbound.proto) and the service's state (outbound_store): the
request checks, each mistake named by its request field, and the views of lists and entries.

Limits (README "Outbound work lists"): 50 lists per tenant, 10000 entries per list, 1000 per
AddEntries; ids 1..64 (lists) and 1..128 (entries) characters without control characters or
':' (a task's call id is ``ob:<list>:<entry>:<n>``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import grpc

from acd.server.commands import Refusal
from acd.server.outbound import RESERVED_PREFIX
from acd.server.outbound_store import (
    COMPLETED,
    DEFAULT_RETRY_ON,
    FAILED,
    IN_LINE,
    OUTCOMES,
    PENDING,
    Entry,
    WorkList,
    WorkListDef,
)
from acd.server.service_base import invalid, not_found, require_id, valid_id
from acd.v1 import outbound_pb2 as ob

if TYPE_CHECKING:
    from acd.server.tenant import Tenant

MAX_LISTS = 50
MAX_ENTRIES = 10_000
MAX_ENTRIES_PER_REQUEST = 1_000
MAX_LIST_ID_CHARS = 64
MAX_ENTRY_ID_CHARS = 128
MAX_NAME_CHARS = 128
MAX_ATTRIBUTES = 16
MAX_KEY_CHARS, MAX_VALUE_CHARS = 64, 256
MIN_PRIORITY = -1_000_000
MAX_IN_LINE = 1_000
MAX_PER_MINUTE = 10_000
DEFAULT_ATTEMPTS, MAX_ATTEMPTS = 3, 20
DEFAULT_GAP_S, MAX_GAP_S = 1_800, 30 * 86_400
DEFAULT_MIN_SERVICE_LEVEL = 0.8
_NUMBER_CHARS = "digits (at least 3), a leading '+', spaces, '-', '(', ')', '.'"
_NUMBER = re.compile(r"\+?[0-9 ().\-]{3,32}")

OUTCOME_ENUM = {
    name: ob.OutboundOutcome.Value("OUTBOUND_OUTCOME_" + name.upper().replace("-", "_"))
    for name in OUTCOMES
}
OUTCOME_NAME = {v: k for k, v in OUTCOME_ENUM.items()}
STATE_ENUM = {
    PENDING: ob.ENTRY_STATE_PENDING,
    IN_LINE: ob.ENTRY_STATE_IN_LINE,
    COMPLETED: ob.ENTRY_STATE_COMPLETED,
    FAILED: ob.ENTRY_STATE_FAILED,
}
HOLD_ENUM = {
    "": ob.RELEASE_HOLD_UNSPECIFIED,
    "no-queue": ob.RELEASE_HOLD_NO_QUEUE,
    "paused": ob.RELEASE_HOLD_PAUSED,
    "nothing-due": ob.RELEASE_HOLD_NOTHING_DUE,
    "calling-hours": ob.RELEASE_HOLD_CALLING_HOURS,
    "pacing": ob.RELEASE_HOLD_PACING,
    "service-level": ob.RELEASE_HOLD_SERVICE_LEVEL,
}


def check_id(value: str, field: str, limit: int) -> str:
    require_id(value, field)
    if len(value) > limit or ":" in value:
        raise invalid(field, f"at most {limit} characters, no ':'")
    return value


def _text(value: str, field: str, limit: int) -> str:
    if value and (len(value) > limit or not valid_id(value)):
        raise invalid(field, f"at most {limit} characters without control characters")
    return value


def definition(tenant: Tenant, wl: ob.WorkList) -> WorkListDef:
    """The definition UpsertWorkList asks for, defaults filled in (fields under ``list.``)."""
    list_id = check_id(wl.id, "list.id", MAX_LIST_ID_CHARS)
    _text(wl.name, "list.name", MAX_NAME_CHARS)
    require_id(wl.queue_id, "list.queue_id")
    queue = tenant.queues.get(wl.queue_id)
    if queue is None:
        raise not_found("list.queue_id", wl.queue_id, "queue")
    priority = wl.priority or MIN_PRIORITY
    if not MIN_PRIORITY <= priority <= -1:
        raise invalid("list.priority", f"must be {MIN_PRIORITY}..-1 (below inbound calls)")
    if queue.aging_ms and -priority * queue.aging_ms <= queue.ttl_ms:
        most = -(queue.ttl_ms // queue.aging_ms + 1)
        raise invalid(
            "list.priority",
            f"with queue {queue.id!r}'s aging a task could overtake an inbound call within"
            f" its time-to-live; use at most {most}",
        )
    max_in_line = wl.pacing.max_in_line or 1
    if max_in_line > MAX_IN_LINE:
        raise invalid("list.pacing.max_in_line", f"at most {MAX_IN_LINE}")
    if wl.pacing.max_per_minute > MAX_PER_MINUTE:
        raise invalid("list.pacing.max_per_minute", f"at most {MAX_PER_MINUTE}")
    attempts = wl.retry.max_attempts or DEFAULT_ATTEMPTS
    if attempts > MAX_ATTEMPTS:
        raise invalid("list.retry.max_attempts", f"at most {MAX_ATTEMPTS}")
    gap_s = wl.retry.min_gap_s or DEFAULT_GAP_S
    if gap_s > MAX_GAP_S:
        raise invalid("list.retry.min_gap_s", f"at most {MAX_GAP_S} (30 days)")
    retry_on: list[str] = []
    for code in wl.retry.retry_on:
        name = OUTCOME_NAME.get(code)
        if name is None or name == "contacted":
            raise invalid("list.retry.retry_on", f"{code} is not an outcome that can be retried")
        if name not in retry_on:
            retry_on.append(name)
    if wl.hours_id and all(h.id != wl.hours_id for h in tenant.config.hours):
        raise not_found("list.hours_id", wl.hours_id, "hours")
    level = wl.min_service_level if wl.HasField("min_service_level") else DEFAULT_MIN_SERVICE_LEVEL
    if not math.isfinite(level) or not 0 <= level <= 1:
        raise invalid("list.min_service_level", "must be 0..1")
    return WorkListDef(
        id=list_id,
        name=wl.name,
        queue_id=wl.queue_id,
        priority=priority,
        max_in_line=max_in_line,
        max_per_minute=wl.pacing.max_per_minute,
        max_attempts=attempts,
        retry_gap_ms=gap_s * 1000,
        retry_on=tuple(retry_on) or DEFAULT_RETRY_ON,
        hours_id=wl.hours_id,
        min_service_level=float(level),
    )


def entry_rows(entries: Iterable[ob.WorkListEntry]) -> list[list[object]]:
    """AddEntries' entries as ``svc:ob-entries`` rows (fields under ``entries[i].``)."""
    rows: list[list[object]] = []
    for i, e in enumerate(entries):
        at = f"entries[{i}]"
        check_id(e.entry_id, f"{at}.entry_id", MAX_ENTRY_ID_CHARS)
        if (
            not _NUMBER.fullmatch(e.customer_number)
            or sum(c.isdigit() for c in e.customer_number) < 3
        ):
            raise invalid(f"{at}.customer_number", f"3..32 characters of {_NUMBER_CHARS}")
        _text(e.customer_name, f"{at}.customer_name", MAX_NAME_CHARS)
        if len(e.attributes) > MAX_ATTRIBUTES:
            raise invalid(f"{at}.attributes", f"at most {MAX_ATTRIBUTES}")
        for key, value in sorted(e.attributes.items()):
            if not valid_id(key) or len(key) > MAX_KEY_CHARS or key.startswith(RESERVED_PREFIX):
                why = f"1..{MAX_KEY_CHARS} characters, not starting with {RESERVED_PREFIX!r}"
                raise invalid(f"{at}.attributes", f"key {key[:MAX_KEY_CHARS]!r}: {why}")
            _text(value, f"{at}.attributes[{key}]", MAX_VALUE_CHARS)
        rows.append([e.entry_id, e.customer_number, e.customer_name, dict(e.attributes)])
    return rows


def known_list(tenant: Tenant, list_id: str, field: str = "list_id") -> WorkList:
    require_id(list_id, field)
    work_list = tenant.service.outbound.lists.get(list_id)
    if work_list is None:
        raise not_found(field, list_id, "work list")
    return work_list


def too_many(what: str, field: str) -> Refusal:
    return Refusal(grpc.StatusCode.RESOURCE_EXHAUSTED, f"{field}: {what}", field)


# ---- views ---------------------------------------------------------------------------------


def work_list_message(d: WorkListDef) -> ob.WorkList:
    return ob.WorkList(
        id=d.id,
        name=d.name,
        queue_id=d.queue_id,
        priority=d.priority,
        pacing=ob.Pacing(max_in_line=d.max_in_line, max_per_minute=d.max_per_minute),
        retry=ob.RetryRules(
            max_attempts=d.max_attempts,
            min_gap_s=d.retry_gap_ms // 1000,
            retry_on=[OUTCOME_ENUM[o] for o in d.retry_on],
        ),
        hours_id=d.hours_id,
        min_service_level=d.min_service_level,
    )


def status(tenant: Tenant, work_list: WorkList, now: int) -> ob.WorkListStatus:
    counts: Mapping[str, int] = work_list.counts
    progress = ob.WorkListProgress(
        entries=len(work_list.entries),
        pending=counts[PENDING],
        in_line=counts[IN_LINE],
        completed=counts[COMPLETED],
        failed=counts[FAILED],
        attempts=sum(work_list.outcomes.values()),
        by_outcome=[
            ob.OutcomeCount(outcome=OUTCOME_ENUM[name], count=n)
            for name, n in sorted(work_list.outcomes.items(), key=lambda o: OUTCOME_ENUM[o[0]])
            if n
        ],
        released_last_minute=work_list.released_within_minute(now),
    )
    hold, _ = tenant.outbound.hold(work_list, now)
    return ob.WorkListStatus(
        list=work_list_message(work_list.definition),
        paused=work_list.paused,
        progress=progress,
        hold=HOLD_ENUM[hold],
    )


def entry_status(entry: Entry) -> ob.EntryStatus:
    return ob.EntryStatus(
        entry=ob.WorkListEntry(
            entry_id=entry.entry_id,
            customer_number=entry.number,
            customer_name=entry.name,
            attributes=entry.attributes,
        ),
        state=STATE_ENUM[entry.state],
        attempts=[
            ob.Attempt(
                call_id=a.call_id,
                agent_id=a.agent_id,
                outcome=OUTCOME_ENUM[a.outcome],
                at_ms=a.at_ms,
            )
            for a in entry.attempts
        ],
        not_before_ms=entry.not_before_ms if entry.state == PENDING else 0,
        call_id=entry.call_id,
    )
