"""ReportService: figures over any period from the contact history (acd.v1 reports.proto).

The rows come from ``acd.server.reports`` over the contacts that entered the tenant's queues in
the period (``HistoryStore.entered``): finished contacts and the ones still live, exactly as
committed; the quality report's from the evaluations of the calls that arrived in the period
(``acd.server.quality_report``). A CDR export hands out recording references: each one is an
audit row (acd.server.recordings). The read runs on the event loop's thread through the
history's read connection (WAL: it never waits for the writer); a period is bounded to a year so
one request stays cheap.
"""

from __future__ import annotations

import asyncio
import re
import zoneinfo
from collections.abc import AsyncIterator

from acd.server import recordings, reports
from acd.server.agent_report import AgentRow, agent_report
from acd.server.audit import AuditLog
from acd.server.commands import Refusal
from acd.server.convert import CHANNEL_ENUM
from acd.server.history import Contact
from acd.server.interceptors import identity
from acd.server.quality_report import QualityRow, quality_report
from acd.server.reports_traffic import campaign_report, heatmap
from acd.server.service_base import (
    Context,
    Shared,
    guarded,
    invalid,
    not_found,
    queue_ids_of,
    require_id,
)
from acd.server.tenant import Tenant
from acd.v1 import common_pb2, reports_pb2, reports_pb2_grpc

MAX_PERIOD_MS = 366 * 86_400_000
EXPORT_PAGE = 500  # records read per query of an export (then the loop runs other work)
_EXPORT = "/acd.v1.ReportService/ExportCdrs"
_STEP = re.compile(r"\bstep=(\d+)")
_INTERVALS = {
    reports_pb2.REPORT_INTERVAL_UNSPECIFIED: "hour",
    reports_pb2.REPORT_INTERVAL_15_MIN: "15min",
    reports_pb2.REPORT_INTERVAL_HOUR: "hour",
    reports_pb2.REPORT_INTERVAL_DAY: "day",
    reports_pb2.REPORT_INTERVAL_PERIOD: "period",
}
_OPTIONAL = (
    *("sl_answered", "sl_offered", "sl_with_abandons", "asa_s", "awt_s", "aht_s"),
    *("abandon_rate", "max_wait_s"),
)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as e:
        raise invalid("time_zone", f"unknown time zone {name!r} (an IANA name)") from e


def _row(r: reports.QueueRow) -> reports_pb2.QueueReportRow:
    out = reports_pb2.QueueReportRow(
        interval_start_ms=r.start_ms,
        queue_id=r.queue_id,
        channel=CHANNEL_ENUM[r.channel] if r.channel else common_pb2.CHANNEL_UNSPECIFIED,
        offered=r.offered,
        answered=r.answered,
        abandoned=r.abandoned,
        short_abandoned=r.short_abandoned,
        other=r.other,
        waiting=r.waiting,
    )
    for name in _OPTIONAL:
        value = getattr(r, name)
        if value is not None:
            setattr(out, name, value)
    names = ("wait_p50_s", "wait_p90_s", "wait_p95_s")  # reports.PERCENTILES
    for name, value in zip(names, r.wait_percentiles_s, strict=True):
        if value is not None:
            setattr(out, name, value)
    return out


def _period(from_ms: int, to_ms: int) -> None:
    if from_ms < 0:
        raise invalid("from_ms", "must not be negative")
    if not from_ms < to_ms <= from_ms + MAX_PERIOD_MS:
        raise invalid("to_ms", "must be after from_ms, at most 366 days later")


def queue_report(
    tenant: Tenant, request: reports_pb2.QueueReportRequest
) -> reports_pb2.QueueReportResponse:
    _period(request.from_ms, request.to_ms)
    interval = _INTERVALS.get(request.interval)
    if interval is None:
        raise invalid("interval", f"unknown interval {request.interval}")
    zone = _zone(request.time_zone)
    queue_ids = queue_ids_of(tenant, request.queue_ids)
    thresholds = {
        q.id: reports.Thresholds(q.sl_threshold_ms, q.short_abandon_ms)
        for q in tenant.config.queues
    }
    contacts = tenant.contacts.store.entered(request.from_ms, request.to_ms, queue_ids)
    rows = reports.queue_report(
        contacts, thresholds, request.from_ms, request.to_ms, interval, zone, request.by_channel
    )
    return reports_pb2.QueueReportResponse(rows=[_row(r) for r in rows])


class ReportService(reports_pb2_grpc.ReportServiceServicer):
    def __init__(self, shared: Shared, audit: AuditLog | None = None) -> None:
        self._shared = shared
        self._audit = audit

    @guarded
    async def QueueReport(
        self, request: reports_pb2.QueueReportRequest, context: Context
    ) -> reports_pb2.QueueReportResponse:
        return queue_report(self._shared.tenant(), request)

    @guarded
    async def AgentReport(
        self, request: reports_pb2.AgentReportRequest, context: Context
    ) -> reports_pb2.AgentReportResponse:
        tenant = self._shared.tenant()
        _period(request.from_ms, request.to_ms)
        for i, agent_id in enumerate(request.agent_ids):
            if agent_id not in tenant.agents:
                raise not_found(f"agent_ids[{i}]", agent_id, "agent")
        agent_ids = list(request.agent_ids) or list(tenant.agents)
        now = tenant.clock.now()
        until = min(request.to_ms, now)
        store = tenant.contacts.store.agents()
        # What happened at this very millisecond counts too (the period is still open).
        events = store.between(request.from_ms, min(request.to_ms, now + 1), agent_ids)
        initial = {a: store.state_before(a, request.from_ms) for a in agent_ids}
        queues = list(tenant.queues)
        contacts = tenant.contacts.store.entered(request.from_ms, request.to_ms, queues)
        rows = agent_report(agent_ids, events, initial, contacts, request.from_ms, until)
        return reports_pb2.AgentReportResponse(rows=[_agent_row(r) for r in rows])

    @guarded
    async def CampaignReport(
        self, request: reports_pb2.CampaignReportRequest, context: Context
    ) -> reports_pb2.CampaignReportResponse:
        tenant = self._shared.tenant()
        _period(request.from_ms, request.to_ms)
        queue_ids = queue_ids_of(tenant, request.queue_ids)
        contacts = tenant.contacts.store.entered(request.from_ms, request.to_ms, queue_ids)
        rows = campaign_report(contacts, request.from_ms, request.to_ms)
        return reports_pb2.CampaignReportResponse(
            rows=[
                reports_pb2.CampaignReportRow(
                    campaign=r.campaign,
                    offered=r.offered,
                    answered=r.answered,
                    abandoned=r.abandoned,
                    other=r.other,
                    waiting=r.waiting,
                    unique_callers=r.unique_callers,
                    dispositions=dict(r.dispositions),
                )
                for r in rows
            ]
        )

    @guarded
    async def Heatmap(
        self, request: reports_pb2.HeatmapRequest, context: Context
    ) -> reports_pb2.HeatmapResponse:
        tenant = self._shared.tenant()
        _period(request.from_ms, request.to_ms)
        zone = _zone(request.time_zone)
        queue_ids = queue_ids_of(tenant, request.queue_ids)
        contacts = tenant.contacts.store.entered(request.from_ms, request.to_ms, queue_ids)
        cells = heatmap(contacts, request.from_ms, request.to_ms, zone)
        return reports_pb2.HeatmapResponse(
            cells=[
                reports_pb2.HeatmapCell(
                    weekday=c.weekday,
                    hour=c.hour,
                    offered=c.offered,
                    answered=c.answered,
                    abandoned=c.abandoned,
                )
                for c in cells
            ]
        )

    async def ExportCdrs(
        self, request: reports_pb2.ExportCdrsRequest, context: Context
    ) -> AsyncIterator[reports_pb2.ExportCdrsResponse]:
        try:
            tenant = self._shared.tenant()
            _period(request.from_ms, request.to_ms)
        except Refusal as r:
            await context.abort(r.code, r.message)
        store, who = tenant.contacts.store, identity()
        after: tuple[int, str, int] | None = None
        sequence = 0
        while page := store.finished_page(request.from_ms, request.to_ms, after, EXPORT_PAGE):
            recorded = (c.call_id for c in page if c.recording)
            recordings.record_access(self._audit, who, _EXPORT, recorded)
            for contact in page:
                sequence += 1
                yield reports_pb2.ExportCdrsResponse(cdr=cdr(contact), sequence=sequence)
            last = page[-1]
            assert last.ended_at is not None
            after = (last.ended_at, last.call_id, last.enqueued_at)
            await asyncio.sleep(0)  # a long export shares the loop with live traffic

    @guarded
    async def QualityReport(
        self, request: reports_pb2.QualityReportRequest, context: Context
    ) -> reports_pb2.QualityReportResponse:
        tenant = self._shared.tenant()
        _period(request.from_ms, request.to_ms)
        interval = _INTERVALS.get(request.interval)
        if interval is None:
            raise invalid("interval", f"unknown interval {request.interval}")
        if request.interval == reports_pb2.REPORT_INTERVAL_UNSPECIFIED:
            interval = "period"
        zone = _zone(request.time_zone)
        for i, agent_id in enumerate(request.agent_ids):
            if agent_id not in tenant.agents:
                raise not_found(f"agent_ids[{i}]", agent_id, "agent")
        scorecard_id = None
        if request.scorecard_id:
            scorecard_id = require_id(request.scorecard_id, "scorecard_id")
            if tenant.config.quality.scorecard(scorecard_id) is None:
                raise not_found("scorecard_id", scorecard_id, "scorecard")
        agent_ids = list(request.agent_ids) or list(tenant.agents)
        store = tenant.contacts.store.evaluations()
        found = store.between(request.from_ms, request.to_ms, agent_ids, scorecard_id)
        rows = quality_report(found, request.from_ms, request.to_ms, interval, zone, agent_ids)
        return reports_pb2.QualityReportResponse(rows=[_quality_row(r) for r in rows])


def _quality_row(r: QualityRow) -> reports_pb2.QualityReportRow:
    return reports_pb2.QualityReportRow(
        interval_start_ms=r.start_ms,
        agent_id=r.agent_id,
        scorecard_id=r.scorecard_id,
        evaluations=r.evaluations,
        mean_total=r.mean_total,
        min_total=r.min_total,
        max_total=r.max_total,
        criteria=[
            reports_pb2.CriterionMean(
                criterion_id=c.criterion_id, mean_score=c.mean_score, mean_percent=c.mean_percent
            )
            for c in r.criteria
        ],
    )


def _agent_row(r: AgentRow) -> reports_pb2.AgentReportRow:
    out = reports_pb2.AgentReportRow(
        agent_id=r.agent_id,
        offers=r.offers,
        answered=r.answered,
        rejected=r.rejected,
        timed_out=r.timed_out,
        revoked=r.revoked,
        unique_callers=r.unique_callers,
        talk_s=r.talk_s,
        state_s=r.state_s,
        not_ready_s=r.not_ready_s,
    )
    for name in ("answer_time_s", "aht_s", "occupancy"):
        value = getattr(r, name)
        if value is not None:
            setattr(out, name, value)
    return out


def cdr(c: Contact) -> reports_pb2.Cdr:
    """A finished contact as a call detail record."""
    return reports_pb2.Cdr(
        call_id=c.call_id,
        queue_id=c.queue_id,
        first_queue_id=c.first_queue_id or c.queue_id,
        channel=CHANNEL_ENUM.get(c.channel, common_pb2.CHANNEL_UNSPECIFIED),
        priority=c.priority,
        caller_number=c.caller_number,
        dialled_number=c.dialled_number,
        campaign=c.campaign,
        enqueued_at_ms=c.enqueued_at,
        answered_at_ms=c.answered_at or 0,
        ended_at_ms=c.ended_at or 0,
        outcome=c.outcome or "",
        wait_ms=c.wait_ms,
        talk_ms=c.talk_ms,
        wrapup_ms=c.wrapup_ms or 0,
        agent_id=c.agent_id,
        disposition=c.disposition,
        notes=c.notes,
        within_hours=c.within_hours,
        missed=c.missed,
        callback_for=c.callback_for,
        attributes=dict(c.attributes),
        routing_rule=c.route_rule,
        routing_detail=c.route_detail,
        escalation_step=int(step.group(1)) if (step := _STEP.search(c.route_detail)) else 0,
        transfer_count=len(c.transfers),
        transfers=[
            reports_pb2.CdrTransfer(kind=kind, target=target, at_ms=at)
            for kind, target, at in c.transfers
        ],
        recording=c.recording,
        callback_attempt=c.callback_attempt,
        callback_result=c.callback_result,
    )
