"""QualityService: recording references, scorecards and evaluations (acd.v1 quality.proto).

Roles (auth.POLICY): the adapter attaches recordings; supervisors, who are the team leads of
their tenant, see every recording and evaluation in it and evaluate; an agent sees only the
recordings of calls it answered and its own evaluations (another's is NOT_FOUND, a list
filtered by another agent is PERMISSION_DENIED, as acting for another agent is everywhere).
Every recording handed out is an audit row (acd.server.recordings).

Lists page by the call's arrival: ``page_token`` is the key of the last item of the previous
page, so a page is one indexed read however long the period is.
"""

from __future__ import annotations

import grpc

from acd.server import quality, recordings
from acd.server.audit import AuditLog
from acd.server.auth import Identity, Role
from acd.server.commands import Refusal
from acd.server.interceptors import identity
from acd.server.service_base import (
    Context,
    Shared,
    guarded,
    invalid,
    known_agent,
    not_found,
    require_id,
)
from acd.v1 import quality_pb2 as q
from acd.v1 import quality_pb2_grpc

MAX_PERIOD_MS = 366 * 86_400_000
DEFAULT_PAGE = 100
MAX_PAGE = 1000
_SERVICE = "/acd.v1.QualityService/"


def _period(from_ms: int, to_ms: int) -> None:
    if from_ms < 0:
        raise invalid("from_ms", "must not be negative")
    if not from_ms < to_ms <= from_ms + MAX_PERIOD_MS:
        raise invalid("to_ms", "must be after from_ms, at most 366 days later")


def _page_size(size: int) -> int:
    if size > MAX_PAGE:
        raise invalid("page_size", f"at most {MAX_PAGE}")
    return size or DEFAULT_PAGE


def _after(token: str) -> tuple[int, str] | None:
    """The key a page token stands for: ``<enqueued_at>:<id>``."""
    if not token:
        return None
    at, sep, key = token.partition(":")
    if not sep or not at.isdigit() or not key:
        raise invalid("page_token", "not a token this service gave")
    return int(at), key


def _agent_filter(who: Identity, agent_id: str) -> str | None:
    """Whose items a list shows: an agent's own always; another role's choice (None: all)."""
    if who.role is Role.AGENT:
        if agent_id and agent_id != who.agent_id:
            raise Refusal(
                grpc.StatusCode.PERMISSION_DENIED,
                "agent_id: an agent token sees only its own",
                "agent_id",
            )
        return who.agent_id or ""
    return agent_id or None


class QualityService(quality_pb2_grpc.QualityServiceServicer):
    def __init__(self, shared: Shared, audit: AuditLog | None = None) -> None:
        self._shared = shared
        self._audit = audit

    @guarded
    async def AttachRecording(
        self, request: q.AttachRecordingRequest, context: Context
    ) -> q.AttachRecordingResponse:
        tenant = self._shared.tenant()
        contact, changed = await recordings.attach(tenant, request.call_id, request.reference)
        return q.AttachRecordingResponse(recording=recordings.message(contact), changed=changed)

    @guarded
    async def ListRecordings(
        self, request: q.ListRecordingsRequest, context: Context
    ) -> q.ListRecordingsResponse:
        tenant, who = self._shared.tenant(), identity()
        _period(request.from_ms, request.to_ms)
        agent_id = _agent_filter(who, request.agent_id)
        if agent_id is not None and who.role is not Role.AGENT:
            known_agent(tenant, agent_id)
        size = _page_size(request.page_size)
        page = tenant.contacts.store.recordings_page(
            request.from_ms, request.to_ms, agent_id, _after(request.page_token), size
        )
        recordings.record_access(
            self._audit, who, _SERVICE + "ListRecordings", (c.call_id for c in page)
        )
        token = f"{page[-1].enqueued_at}:{page[-1].call_id}" if len(page) == size else ""
        return q.ListRecordingsResponse(
            recordings=[recordings.message(c) for c in page], next_page_token=token
        )

    @guarded
    async def GetRecording(
        self, request: q.GetRecordingRequest, context: Context
    ) -> q.GetRecordingResponse:
        tenant, who = self._shared.tenant(), identity()
        call_id = require_id(request.call_id, "call_id")
        await tenant.committed_view()  # an attach on its way to the disk: once it landed
        contact = tenant.contacts.contact(call_id)
        if contact is None or not recordings.sees(who, contact):
            raise not_found("call_id", call_id, "call")
        if not contact.recording:
            raise not_found("call_id", call_id, "recording of a call")
        return q.GetRecordingResponse(recording=recordings.message(contact))

    @guarded
    async def ListScorecards(
        self, request: q.ListScorecardsRequest, context: Context
    ) -> q.ListScorecardsResponse:
        scorecards = self._shared.tenant().config.quality.scorecards
        return q.ListScorecardsResponse(
            scorecards=[quality.scorecard_message(s) for s in scorecards]
        )

    @guarded
    async def CreateEvaluation(
        self, request: q.CreateEvaluationRequest, context: Context
    ) -> q.CreateEvaluationResponse:
        tenant, who = self._shared.tenant(), identity()
        evaluation, created = await quality.create(tenant, who, request)
        return q.CreateEvaluationResponse(
            evaluation=quality.evaluation_message(evaluation), created=created
        )

    @guarded
    async def ListEvaluations(
        self, request: q.ListEvaluationsRequest, context: Context
    ) -> q.ListEvaluationsResponse:
        tenant, who = self._shared.tenant(), identity()
        _period(request.from_ms, request.to_ms)
        agent_id = _agent_filter(who, request.agent_id)
        if agent_id is not None and who.role is not Role.AGENT:
            known_agent(tenant, agent_id)
        call_id = require_id(request.call_id, "call_id") if request.call_id else None
        size = _page_size(request.page_size)
        page = tenant.contacts.store.evaluations().page(
            request.from_ms, request.to_ms, agent_id, call_id, _after(request.page_token), size
        )
        token = f"{page[-1].enqueued_at}:{page[-1].evaluation_id}" if len(page) == size else ""
        return q.ListEvaluationsResponse(
            evaluations=[quality.evaluation_message(e) for e in page], next_page_token=token
        )

    @guarded
    async def GetEvaluation(
        self, request: q.GetEvaluationRequest, context: Context
    ) -> q.GetEvaluationResponse:
        tenant, who = self._shared.tenant(), identity()
        evaluation_id = require_id(request.evaluation_id, "evaluation_id")
        found = tenant.contacts.store.evaluations().get(evaluation_id)
        if found is None or (who.role is Role.AGENT and found.agent_id != who.agent_id):
            raise not_found("evaluation_id", evaluation_id, "evaluation")
        return q.GetEvaluationResponse(evaluation=quality.evaluation_message(found))
