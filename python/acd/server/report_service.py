"""ReportService: figures over any period from the contact history (acd.v1 reports.proto).

The rows come from ``acd.server.reports`` over the contacts that entered the tenant's queues in
the period (``HistoryStore.entered``): finished contacts and the ones still live, exactly as
committed. The read runs on the event loop's thread through the history's read connection (WAL:
it never waits for the writer); a period is bounded to a year so one request stays cheap.
"""

from __future__ import annotations

import zoneinfo

from acd.server import reports
from acd.server.convert import CHANNEL_ENUM
from acd.server.service_base import Context, Shared, guarded, invalid, not_found
from acd.server.tenant import Tenant
from acd.v1 import common_pb2, reports_pb2, reports_pb2_grpc

MAX_PERIOD_MS = 366 * 86_400_000
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


def queue_report(
    tenant: Tenant, request: reports_pb2.QueueReportRequest
) -> reports_pb2.QueueReportResponse:
    if request.from_ms < 0:
        raise invalid("from_ms", "must not be negative")
    if not request.from_ms < request.to_ms <= request.from_ms + MAX_PERIOD_MS:
        raise invalid("to_ms", "must be after from_ms, at most 366 days later")
    interval = _INTERVALS.get(request.interval)
    if interval is None:
        raise invalid("interval", f"unknown interval {request.interval}")
    zone = _zone(request.time_zone)
    for i, queue_id in enumerate(request.queue_ids):
        if queue_id not in tenant.queues:
            raise not_found(f"queue_ids[{i}]", queue_id, "queue")
    queue_ids = list(request.queue_ids) or list(tenant.queues)
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
    def __init__(self, shared: Shared) -> None:
        self._shared = shared

    @guarded
    async def QueueReport(
        self, request: reports_pb2.QueueReportRequest, context: Context
    ) -> reports_pb2.QueueReportResponse:
        return queue_report(self._shared.tenant(), request)
