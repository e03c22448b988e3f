"""The rows of each ``acd report`` as table cells (strings), from ReportService's answers."""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Sequence
from typing import Any

QUEUE_COLUMNS = (
    *("interval", "queue", "channel", "offered", "answered", "abandoned", "short_abandoned"),
    *("other", "waiting", "sl_answered", "sl_offered", "sl_with_abandons", "asa_s", "awt_s"),
    *("aht_s", "abandon_rate", "max_wait_s", "wait_p50_s", "wait_p90_s", "wait_p95_s"),
)
AGENT_STATES = ("ready", "reserved", "busy", "wrap-up", "not-ready", "logged-out")
AGENT_COLUMNS = (
    *("agent", "offers", "answered", "rejected", "timed_out", "revoked", "answer_time_s"),
    *("unique_callers", "talk_s", "aht_s", "occupancy"),
    *(f"{s}_s" for s in AGENT_STATES),
)
CAMPAIGN_COLUMNS = (
    *("campaign", "offered", "answered", "abandoned", "other", "waiting", "unique_callers"),
    "dispositions",
)
CDR_COLUMNS = (
    *("call_id", "queue_id", "first_queue_id", "channel", "caller_number", "dialled_number"),
    *("campaign", "enqueued_at", "answered_at", "ended_at", "outcome", "wait_ms", "talk_ms"),
    *("wrapup_ms", "agent_id", "disposition", "notes", "within_hours", "missed"),
    *("routing_rule", "routing_detail", "transfer_count", "transfers", "recording"),
    *("callback_for", "callback_attempt", "callback_result"),
)
QUALITY_COLUMNS = (
    *("interval", "agent", "scorecard", "evaluations", "mean_total", "min_total", "max_total"),
    "criteria",
)
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _optional(row: Any, name: str) -> str:
    return number(getattr(row, name)) if row.HasField(name) else ""


def _channel(value: int) -> str:
    from acd.v1 import common_pb2

    name = common_pb2.Channel.Name(value).removeprefix("CHANNEL_").lower()  # type: ignore[arg-type]
    return "all" if name == "unspecified" else name


def _time(ms: int, zone: datetime.tzinfo) -> str:
    if not ms:
        return ""
    return datetime.datetime.fromtimestamp(ms / 1000, zone).strftime("%Y-%m-%d %H:%M:%S")


def queue_cells(row: Any, zone: datetime.tzinfo) -> dict[str, str]:
    start = datetime.datetime.fromtimestamp(row.interval_start_ms / 1000, zone)
    out = {
        "interval": start.strftime("%Y-%m-%d %H:%M"),
        "queue": row.queue_id,
        "channel": _channel(row.channel),
    }
    for name in QUEUE_COLUMNS[3:9]:
        out[name] = str(getattr(row, name))
    for name in QUEUE_COLUMNS[9:]:
        out[name] = _optional(row, name)
    return out


def agent_cells(row: Any) -> dict[str, str]:
    out = {"agent": row.agent_id, "talk_s": number(row.talk_s)}
    for name in ("offers", "answered", "rejected", "timed_out", "revoked", "unique_callers"):
        out[name] = str(getattr(row, name))
    for name in ("answer_time_s", "aht_s", "occupancy"):
        out[name] = _optional(row, name)
    for state in AGENT_STATES:
        out[f"{state}_s"] = number(row.state_s.get(state, 0.0))
    return out


def campaign_cells(row: Any) -> dict[str, str]:
    out = {"campaign": row.campaign or "(none)"}
    for name in CAMPAIGN_COLUMNS[1:7]:
        out[name] = str(getattr(row, name))
    out["dispositions"] = " ".join(f"{k}={v}" for k, v in sorted(row.dispositions.items()))
    return out


def heatmap_cells(cells: Sequence[Any]) -> tuple[tuple[str, ...], list[dict[str, str]]]:
    """One row per weekday, one column per hour: contacts offered."""
    columns = ("day", *(f"{h:02d}" for h in range(24)))
    rows = []
    for day in range(7):
        row = {"day": WEEKDAYS[day]}
        for c in cells:
            if c.weekday == day:
                row[f"{c.hour:02d}"] = str(c.offered)
        rows.append(row)
    return columns, rows


def cdr_cells(cdr: Any, zone: datetime.tzinfo) -> dict[str, str]:
    out = {name: str(getattr(cdr, name)) for name in CDR_COLUMNS if hasattr(cdr, name)}
    out["channel"] = _channel(cdr.channel)
    for name in ("enqueued_at", "answered_at", "ended_at"):
        out[name] = _time(getattr(cdr, f"{name}_ms"), zone)
    out["within_hours"] = "yes" if cdr.within_hours else "no"
    out["missed"] = "yes" if cdr.missed else "no"
    # kind:target in order, e.g. "queue:support agent:ben destination:+4940999"
    out["transfers"] = " ".join(f"{t.kind}:{t.target}" for t in cdr.transfers)
    out["callback_attempt"] = str(cdr.callback_attempt or "")  # empty: not a callback
    return out


def quality_cells(row: Any, zone: datetime.tzinfo) -> dict[str, str]:
    """One row of the quality report; ``criteria`` is each criterion's mean score on its scale
    (``greeting=3.5 resolution=8``)."""
    start = datetime.datetime.fromtimestamp(row.interval_start_ms / 1000, zone)
    out = {
        "interval": start.strftime("%Y-%m-%d %H:%M"),
        "agent": row.agent_id,
        "scorecard": row.scorecard_id,
        "evaluations": str(row.evaluations),
    }
    for name in ("mean_total", "min_total", "max_total"):
        out[name] = number(getattr(row, name))
    out["criteria"] = " ".join(f"{c.criterion_id}={number(c.mean_score)}" for c in row.criteria)
    return out


def render(columns: Sequence[str], rows: Sequence[dict[str, str]], as_csv: bool) -> str:
    """An aligned table (text columns left, figures right) or CSV."""
    if as_csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buffer.getvalue().rstrip("\n")
    table = [list(columns)] + [[r.get(c) or "-" for c in columns] for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    text_columns = {"interval", "queue", "channel", "agent", "campaign", "day", "dispositions"}
    text_columns |= {"scorecard", "criteria", "routing_rule", "routing_detail", "transfers"}
    lines = []
    for line in table:
        cells = [
            c.ljust(w) if columns[i] in text_columns else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)
