"""Blocking helpers for the outbound work-list tests (acd.server.outbound): the contact-history
test tenant (history_helpers: queue "sales" with office hours in Berlin, until-done wrap-up),
a clock the test sets, and short calls to OutboundService. Every wait is bounded."""

from __future__ import annotations

from typing import Any

from acd.v1 import outbound_pb2 as ob
from history_helpers import SUP, T
from server_helpers import ServerThread, Stubs, md


def upsert(s: Stubs, list_id: str = "carts", **fields: Any) -> ob.UpsertWorkListResponse:
    fields.setdefault("queue_id", "sales")
    request = ob.UpsertWorkListRequest(list=ob.WorkList(id=list_id, **fields))
    response: ob.UpsertWorkListResponse = s.outbound.UpsertWorkList(
        request, metadata=SUP, timeout=T
    )
    return response


def entry(entry_id: str, number: str = "", name: str = "", **attributes: str) -> ob.WorkListEntry:
    number = number or f"+4930{sum(map(ord, entry_id)):06d}"
    return ob.WorkListEntry(
        entry_id=entry_id, customer_number=number, customer_name=name, attributes=attributes
    )


def add(s: Stubs, *entries: ob.WorkListEntry, list_id: str = "carts") -> ob.AddEntriesResponse:
    request = ob.AddEntriesRequest(list_id=list_id, entries=entries)
    response: ob.AddEntriesResponse = s.outbound.AddEntries(request, metadata=SUP, timeout=T)
    return response


def get(
    s: Stubs, list_id: str = "carts", limit: int = 0, after: str = ""
) -> ob.GetWorkListResponse:
    request = ob.GetWorkListRequest(list_id=list_id, entry_limit=limit, after_entry_id=after)
    response: ob.GetWorkListResponse = s.outbound.GetWorkList(request, metadata=SUP, timeout=T)
    return response


def progress(s: Stubs, list_id: str = "carts") -> ob.WorkListProgress:
    return get(s, list_id).list.progress


def entries(s: Stubs, list_id: str = "carts") -> dict[str, ob.EntryStatus]:
    return {e.entry.entry_id: e for e in get(s, list_id, limit=1000).entries}


def record(
    s: Stubs, agent: str, call_id: str, outcome: ob.OutboundOutcome.ValueType, notes: str = ""
) -> ob.RecordOutcomeResponse:
    request = ob.RecordOutcomeRequest(agent_id=agent, call_id=call_id, outcome=outcome, notes=notes)
    response: ob.RecordOutcomeResponse = s.outbound.RecordOutcome(
        request, metadata=md(f"t-{agent}"), timeout=T
    )
    return response


def release_due(server: ServerThread, tenant: str = "store") -> None:
    """Lets the tenant's release gate look now (after the test moved its clock on)."""
    assert server.server is not None
    server.call(server.server.tenants[tenant].outbound.release_due)
