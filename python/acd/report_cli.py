"""``acd report queues``: ReportService.QueueReport from the command line, as a table or CSV.

The address and a supervisor token default to the bundled dev config's (what ``make run``
serves), so ``acd report queues`` works against it as it is; ``--target`` and ``--token`` (or
ACD_TOKEN) point it elsewhere.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import os
import zoneinfo
from collections.abc import Sequence
from typing import Any

import grpc

INTERVALS = ("15min", "hour", "day", "period")
COLUMNS = (
    *("interval", "queue", "channel", "offered", "answered", "abandoned", "short_abandoned"),
    *("other", "waiting", "sl_answered", "sl_offered", "sl_with_abandons", "asa_s", "awt_s"),
    *("aht_s", "abandon_rate", "max_wait_s", "wait_p50_s", "wait_p90_s", "wait_p95_s"),
)
_OPTIONAL = COLUMNS[9:]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=("queues",), help="the report")
    p.add_argument("--from", dest="start", help="first local day, YYYY-MM-DD (default: today)")
    p.add_argument("--to", dest="end", help="last local day, inclusive (default: --from)")
    p.add_argument("--interval", choices=INTERVALS, default="hour", help="rows per (hour)")
    p.add_argument("--tz", default="UTC", help="IANA time zone of the days and intervals (UTC)")
    p.add_argument("--queue", action="append", default=[], help="a queue (default: all)")
    p.add_argument("--by-channel", action="store_true", help="a row per channel as well")
    p.add_argument("--csv", action="store_true", help="CSV instead of a table")
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


def _cells(row: Any, zone: datetime.tzinfo) -> dict[str, str]:
    from acd.v1 import common_pb2

    start = datetime.datetime.fromtimestamp(row.interval_start_ms / 1000, zone)
    channel = common_pb2.Channel.Name(row.channel).removeprefix("CHANNEL_").lower()
    out = {
        "interval": start.strftime("%Y-%m-%d %H:%M"),
        "queue": row.queue_id,
        "channel": "all" if channel == "unspecified" else channel,
    }
    for name in COLUMNS[3:9]:
        out[name] = str(getattr(row, name))
    for name in _OPTIONAL:
        out[name] = (
            f"{getattr(row, name):.3f}".rstrip("0").rstrip(".") if row.HasField(name) else ""
        )
    return out


def render(rows: Sequence[dict[str, str]], as_csv: bool) -> str:
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    table = [list(COLUMNS)] + [[r[c] or "-" for c in COLUMNS] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = []
    for line in table:
        cells = [
            c.ljust(w) if i < 3 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def main(args: argparse.Namespace) -> int:
    from acd.v1 import reports_pb2, reports_pb2_grpc

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
    request = reports_pb2.QueueReportRequest(
        from_ms=start_ms,
        to_ms=end_ms,
        interval=reports_pb2.ReportInterval.Value(
            {"15min": "REPORT_INTERVAL_15_MIN"}.get(
                args.interval, f"REPORT_INTERVAL_{args.interval.upper()}"
            )
        ),
        time_zone=args.tz,
        queue_ids=args.queue,
        by_channel=args.by_channel,
    )
    with grpc.insecure_channel(target) as channel:
        stub = reports_pb2_grpc.ReportServiceStub(channel)
        try:
            response = stub.QueueReport(
                request, metadata=(("authorization", f"Bearer {token}"),), timeout=30
            )
        except grpc.RpcError as e:
            raise SystemExit(f"acd report: {e.code().name}: {e.details()}") from None
    print(render([_cells(r, zone) for r in response.rows], args.csv))
    return 0
