"""OutboundService: outbound work lists (acd.v1 outbound.proto).

Admins and supervisors manage a tenant's lists; an agent records the outcome of its own tasks
(another agent's id: PERMISSION_DENIED; a task that is not its own: NOT_FOUND), a supervisor
for any agent. Every change is a ``svc:ob-*`` command executed (journaled) by the tenant like
a router command (acd.server.outbound_store); a change that may let a list release (new
entries, a new definition, resume) is followed by a look at every list at once, so the
response already counts what was released (acd.server.outbound, the release gate).
"""

from __future__ import annotations

from acd.server.dispositions import MAX_NOTES_CHARS
from acd.server.outbound_convert import (
    MAX_ENTRIES,
    MAX_ENTRIES_PER_REQUEST,
    MAX_LISTS,
    OUTCOME_NAME,
    definition,
    entry_rows,
    entry_status,
    known_list,
    status,
    too_many,
)
from acd.server.outbound_store import Entry
from acd.server.service_base import (
    Context,
    Shared,
    guarded,
    invalid,
    known_agent,
    not_found,
    own_agent,
    own_call,
    require_id,
)
from acd.server.tenant import Tenant
from acd.v1 import outbound_pb2 as ob
from acd.v1 import outbound_pb2_grpc

MAX_PAGE = 1_000


class OutboundService(outbound_pb2_grpc.OutboundServiceServicer):
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    async def _changed(self, tenant: Tenant, service: list[tuple[object, ...]]) -> None:
        """Executes the list changes, then releases what they allow."""
        tenant.outbound.poke()
        await tenant.execute([], service)
        await tenant.outbound.release_due()

    @guarded
    async def UpsertWorkList(
        self, request: ob.UpsertWorkListRequest, context: Context
    ) -> ob.UpsertWorkListResponse:
        tenant = self._shared.tenant()
        if not request.HasField("list"):
            raise invalid("list", "required")
        new = definition(tenant, request.list)
        lists = tenant.service.outbound.lists
        created = new.id not in lists
        if created and len(lists) >= MAX_LISTS:
            raise too_many(f"a tenant holds at most {MAX_LISTS} work lists", "list.id")
        await self._changed(tenant, [("svc:ob-list", new.dump(), tenant.clock.now())])
        now = tenant.clock.now()
        return ob.UpsertWorkListResponse(list=status(tenant, lists[new.id], now), created=created)

    @guarded
    async def AddEntries(
        self, request: ob.AddEntriesRequest, context: Context
    ) -> ob.AddEntriesResponse:
        tenant = self._shared.tenant()
        work_list = known_list(tenant, request.list_id)
        if not request.entries:
            raise invalid("entries", "at least one entry")
        if len(request.entries) > MAX_ENTRIES_PER_REQUEST:
            raise invalid("entries", f"at most {MAX_ENTRIES_PER_REQUEST} per request")
        rows = entry_rows(request.entries)
        new: dict[str, list[object]] = {}
        for row in rows:
            entry_id = str(row[0])
            if entry_id not in work_list.entries and entry_id not in new:
                new[entry_id] = row
        if len(work_list.entries) + len(new) > MAX_ENTRIES:
            raise too_many(
                f"the list would hold {len(work_list.entries) + len(new)} entries (at most"
                f" {MAX_ENTRIES})",
                "entries",
            )
        if new:
            command = ("svc:ob-entries", work_list.definition.id, list(new.values()))
            await self._changed(tenant, [(*command, tenant.clock.now())])
        return ob.AddEntriesResponse(
            added=len(new),
            duplicates=len(rows) - len(new),
            list=status(tenant, work_list, tenant.clock.now()),
        )

    @guarded
    async def PauseWorkList(
        self, request: ob.PauseWorkListRequest, context: Context
    ) -> ob.PauseWorkListResponse:
        tenant = self._shared.tenant()
        work_list = known_list(tenant, request.list_id)
        now = tenant.clock.now()
        if not work_list.paused:
            # Tasks still waiting are taken back with it (their entries are pending again).
            back = [
                ("abandon", work_list.entries[e].call_id, now)
                for e in sorted(work_list.in_line)
                if (info := tenant.router.call_info(work_list.entries[e].call_id)) is not None
                and info["state"] == "waiting"
            ]
            await tenant.execute(back, [("svc:ob-pause", work_list.definition.id, True, now)])
            tenant.outbound.poke()  # ringing ones are taken back once they return to line
        return ob.PauseWorkListResponse(list=status(tenant, work_list, tenant.clock.now()))

    @guarded
    async def ResumeWorkList(
        self, request: ob.ResumeWorkListRequest, context: Context
    ) -> ob.ResumeWorkListResponse:
        tenant = self._shared.tenant()
        work_list = known_list(tenant, request.list_id)
        if work_list.paused:
            list_id = work_list.definition.id
            await self._changed(tenant, [("svc:ob-pause", list_id, False, tenant.clock.now())])
        return ob.ResumeWorkListResponse(list=status(tenant, work_list, tenant.clock.now()))

    @guarded
    async def ListWorkLists(
        self, request: ob.ListWorkListsRequest, context: Context
    ) -> ob.ListWorkListsResponse:
        tenant = self._shared.tenant()
        await tenant.committed_view()
        now = tenant.clock.now()
        lists = tenant.service.outbound.lists
        return ob.ListWorkListsResponse(
            lists=[status(tenant, lists[list_id], now) for list_id in sorted(lists)]
        )

    @guarded
    async def GetWorkList(
        self, request: ob.GetWorkListRequest, context: Context
    ) -> ob.GetWorkListResponse:
        tenant = self._shared.tenant()
        work_list = known_list(tenant, request.list_id)
        if request.entry_limit > MAX_PAGE:
            raise invalid("entry_limit", f"at most {MAX_PAGE}")
        after = request.after_entry_id
        if after and after not in work_list.entries:
            raise not_found("after_entry_id", after, "entry of this list")
        await tenant.committed_view()
        response = ob.GetWorkListResponse(list=status(tenant, work_list, tenant.clock.now()))
        if request.entry_limit:
            page: list[Entry] = []
            for entry in work_list.after(after):
                if len(page) == request.entry_limit:
                    response.next_after_entry_id = page[-1].entry_id
                    break
                page.append(entry)
            response.entries.extend(entry_status(e) for e in page)
        return response

    @guarded
    async def RecordOutcome(
        self, request: ob.RecordOutcomeRequest, context: Context
    ) -> ob.RecordOutcomeResponse:
        tenant = self._shared.tenant()
        who = own_agent(request.agent_id)
        known_agent(tenant, request.agent_id)
        require_id(request.call_id, "call_id")
        own_call(tenant, who, request.call_id)
        outcome = OUTCOME_NAME.get(request.outcome)
        if outcome is None or outcome == "unrecorded":
            raise invalid("outcome", "required: an outcome other than UNRECORDED")
        if len(request.notes) > MAX_NOTES_CHARS:
            raise invalid("notes", f"at most {MAX_NOTES_CHARS} characters")
        work_list, entry = await tenant.outbound.record_outcome(
            request.agent_id, request.call_id, outcome, request.notes
        )
        return ob.RecordOutcomeResponse(entry=entry_status(entry), list_id=work_list.definition.id)
