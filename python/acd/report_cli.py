"""``acd report``: ReportService from the command line, as tables, CSV or SVG/PNG charts.

    acd report queues    [--interval 15min|hour|day|period] [--by-channel] [--svg/--png FILE]
    acd report agents    [--svg/--png FILE]    time in state, occupancy, answer time, ...
    acd report campaigns                       calls, outcomes and dispositions per number
    acd report heatmap   [--svg/--png FILE]    contacts by weekday x hour
    acd report cdrs      [--csv]               the call detail records (ExportCdrs)
    acd report quality   [--interval ...] [--agent A] [--scorecard S]
                                               evaluations per agent: count, mean score

The period is a range of local days (``--from``, ``--to``, ``--tz``). The address and a
supervisor token default to the bundled dev config's (what ``make run`` serves), so the
commands work against it as they are; ``--target`` and ``--token`` (or ACD_TOKEN) point them
elsewhere.
"""

from __future__ import annotations

import argparse
import datetime
import os
import zoneinfo
from typing import Any

import grpc

from acd import report_png, report_svg
from acd.report_tables import (
    AGENT_COLUMNS,
    AGENT_STATES,
    CAMPAIGN_COLUMNS,
    CDR_COLUMNS,
    QUALITY_COLUMNS,
    QUEUE_COLUMNS,
    agent_cells,
    campaign_cells,
    cdr_cells,
    heatmap_cells,
    quality_cells,
    queue_cells,
    render,
)

REPORTS = ("queues", "agents", "campaigns", "heatmap", "cdrs", "quality")
INTERVALS = ("15min", "hour", "day", "period")
SVG_REPORTS = ("queues", "agents", "heatmap")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=REPORTS, help="the report")
    p.add_argument("--from", dest="start", help="first local day, YYYY-MM-DD (default: today)")
    p.add_argument("--to", dest="end", help="last local day, inclusive (default: --from)")
    p.add_argument(
        "--interval", choices=INTERVALS, help="queues (default hour), quality (period): rows per"
    )
    p.add_argument("--tz", default="UTC", help="IANA time zone of the days and intervals (UTC)")
    p.add_argument("--queue", action="append", default=[], help="a queue (default: all)")
    p.add_argument("--agent", action="append", default=[], help="agents, quality: one (all)")
    p.add_argument("--scorecard", default="", help="quality: one scorecard (default: all)")
    p.add_argument("--by-channel", action="store_true", help="queues: a row per channel too")
    p.add_argument("--csv", action="store_true", help="CSV instead of a table")
    p.add_argument("--svg", metavar="FILE", help="queues, agents, heatmap: also write a chart")
    p.add_argument("--png", metavar="FILE", help="the same chart as a PNG (with --svg or alone)")
    p.add_argument("--target", help="the service's address (default: the dev config's)")
    p.add_argument("--token", help="a supervisor or admin token (default: ACD_TOKEN, or dev's)")


def _dev_defaults() -> tuple[str, str | None]:
    from acd.server.config import load_bundled_config

    config = load_bundled_config()
    token = next((d.token for d in config.demo_tokens if d.identity.role == "supervisor"), None)
    return config.server.listen[0], token


def _period(start: str | None, end: str | None, zone: datetime.tzinfo) -> tuple[int, int]:
    today = datetime.datetime.now(zone).date()
    first = datetime.date.fromisoformat(start) if start else today
    last = datetime.date.fromisoformat(end) if end else first
    if last < first:
        raise ValueError("--to is before --from")

    def midnight(day: datetime.date) -> int:
        return int(datetime.datetime.combine(day, datetime.time(), zone).timestamp() * 1000)

    return midnight(first), midnight(last + datetime.timedelta(days=1))


def _interval(name: str) -> Any:
    from acd.v1 import reports_pb2

    return reports_pb2.ReportInterval.Value(
        "REPORT_INTERVAL_15_MIN" if name == "15min" else f"REPORT_INTERVAL_{name.upper()}"
    )


def _run(args: argparse.Namespace, stub: Any, md: Any, start: int, end: int, zone: Any) -> str:
    from acd.v1 import reports_pb2

    what, title = args.what, f"{args.start or 'today'}..{args.end or args.start or 'today'}"
    if what == "queues":
        request = reports_pb2.QueueReportRequest(
            from_ms=start,
            to_ms=end,
            interval=_interval(args.interval or "hour"),
            time_zone=args.tz,
            queue_ids=args.queue,
            by_channel=args.by_channel,
        )
        rows = list(stub.QueueReport(request, metadata=md, timeout=30).rows)
        cells = [queue_cells(r, zone) for r in rows]
        if args.svg or args.png:
            svg = report_svg.volume_and_sl(
                [c["interval"][-5:] for c in cells],
                [r.offered for r in rows],
                [r.sl_offered if r.HasField("sl_offered") else None for r in rows],
                None,
                f"Offered and service level, {title}",
            )
            report_png.write_chart(svg, args.svg, args.png)
        return render(QUEUE_COLUMNS, cells, args.csv)
    if what == "agents":
        agents = reports_pb2.AgentReportRequest(from_ms=start, to_ms=end, agent_ids=args.agent)
        agent_rows = list(stub.AgentReport(agents, metadata=md, timeout=30).rows)
        if args.svg or args.png:
            states = {
                r.agent_id: {s: r.state_s.get(s, 0.0) for s in AGENT_STATES} for r in agent_rows
            }
            svg = report_svg.time_in_state(states, f"Time in state, {title}")
            report_png.write_chart(svg, args.svg, args.png)
        return render(AGENT_COLUMNS, [agent_cells(r) for r in agent_rows], args.csv)
    if what == "campaigns":
        campaigns = reports_pb2.CampaignReportRequest(
            from_ms=start, to_ms=end, queue_ids=args.queue
        )
        campaign_rows = list(stub.CampaignReport(campaigns, metadata=md, timeout=30).rows)
        return render(CAMPAIGN_COLUMNS, [campaign_cells(r) for r in campaign_rows], args.csv)
    if what == "heatmap":
        heat = reports_pb2.HeatmapRequest(
            from_ms=start, to_ms=end, time_zone=args.tz, queue_ids=args.queue
        )
        heat_cells = list(stub.Heatmap(heat, metadata=md, timeout=30).cells)
        if args.svg or args.png:
            counts = {(c.weekday, c.hour): c.offered for c in heat_cells}
            svg = report_svg.heatmap(counts, f"Contacts by hour, {title}")
            report_png.write_chart(svg, args.svg, args.png)
        columns, table = heatmap_cells(heat_cells)
        return render(columns, table, args.csv)
    if what == "quality":
        quality = reports_pb2.QualityReportRequest(
            from_ms=start,
            to_ms=end,
            interval=_interval(args.interval or "period"),
            time_zone=args.tz,
            agent_ids=args.agent,
            scorecard_id=args.scorecard,
        )
        quality_rows = list(stub.QualityReport(quality, metadata=md, timeout=30).rows)
        return render(QUALITY_COLUMNS, [quality_cells(r, zone) for r in quality_rows], args.csv)
    export = reports_pb2.ExportCdrsRequest(from_ms=start, to_ms=end)
    records = [cdr_cells(m.cdr, zone) for m in stub.ExportCdrs(export, metadata=md, timeout=300)]
    return render(CDR_COLUMNS, records, args.csv)


def main(args: argparse.Namespace) -> int:
    from acd.v1 import reports_pb2_grpc

    for flag, path in (("--svg", args.svg), ("--png", args.png)):
        if path and args.what not in SVG_REPORTS:
            raise SystemExit(f"acd report: {flag} is for {', '.join(SVG_REPORTS)}")
    try:
        report_png.check_outputs(args.svg, args.png)
    except report_png.ChartError as e:
        raise SystemExit(f"acd report: {e}") from None
    try:
        zone = zoneinfo.ZoneInfo(args.tz)
        start_ms, end_ms = _period(args.start, args.end, zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError) as e:
        raise SystemExit(f"acd report: {e}") from None
    target, token = args.target, args.token or os.environ.get("ACD_TOKEN")
    if target is None or token is None:
        dev_target, dev_token = _dev_defaults()
        target, token = target or dev_target, token or dev_token
    if token is None:
        raise SystemExit("acd report: no token: pass --token or set ACD_TOKEN")
    md = (("authorization", f"Bearer {token}"),)
    with grpc.insecure_channel(target) as channel:
        stub = reports_pb2_grpc.ReportServiceStub(channel)
        try:
            text = _run(args, stub, md, start_ms, end_ms, zone)
        except grpc.RpcError as e:
            raise SystemExit(f"acd report: {e.code().name}: {e.details()}") from None
        except report_png.ChartError as e:  # the disk filled, the directory went away
            raise SystemExit(f"acd report: {e}") from None
    print(text)
    return 0
