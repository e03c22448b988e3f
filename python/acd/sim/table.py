"""Plain-text tables of simulation results: aligned columns, no dependency."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# KPI name -> decimals; counts are printed as integers.
_DECIMALS = {
    "p_wait": 3,
    "service_level": 3,
    "p_abandon": 3,
    "sl_answered": 3,
    "sl_offered": 3,
    "sl_with_abandons": 3,
    "abandon_rate": 3,
    "occupancy": 3,
    "asa": 1,
    "awt": 1,
    "aht": 1,
    "time_to_callback": 1,
}

DAY_COLUMNS = (
    "interval",
    "offered",
    "answered",
    "abandoned",
    "short_abandoned",
    "lost",
    "sl_answered",
    "sl_offered",
    "sl_with_abandons",
    "asa",
    "awt",
    "aht",
    "abandon_rate",
    "occupancy",
)
CALLBACK_COLUMNS = ("callbacks", "callback_attempts", "recovered", "time_to_callback")
# One set-up's half of a comparison table.
COMPARE_COLUMNS = (
    "answered",
    "abandoned",
    "lost",
    "recovered",
    "sl_answered",
    "sl_offered",
    "asa",
    "awt",
    "occupancy",
)
SINGLE_COLUMNS = (
    "seed",
    "offered",
    "p_wait",
    "asa",
    "service_level",
    "p_abandon",
    "sl_offered",
    "awt",
    "aht",
    "occupancy",
)


def format_value(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{_DECIMALS.get(key.split(':')[0], 3)}f}"
    return str(value)


def format_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """The rows under a header of column names; the first column left-aligned, others right."""
    cells = [list(columns)] + [[format_value(c, row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = []
    for line in cells:
        parts = [line[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(line[1:], widths[1:], strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def render_single(result: Mapping[str, Any]) -> str:
    patience = result["patience_s"]
    head = (
        f"single queue: {result['arrivals_per_hour']:g} calls/h, aht {result['aht_s']:g} s, "
        f"{result['agents']} agents, threshold {result['threshold_s']:g} s, patience "
        f"{'none' if patience is None else f'{patience:g} s'}; {result['calls']} calls per seed "
        f"after {result['warmup_calls']} warm-up calls"
    )
    rows: list[Mapping[str, Any]] = list(result["per_seed"])
    rows.append({"seed": "mean", **{k: result.get(k) for k in SINGLE_COLUMNS[2:]}})
    reference = result.get("erlang_c")
    if reference is not None:
        rows.append({"seed": "erlang c", **reference})
    return head + "\n\n" + format_table(SINGLE_COLUMNS, rows)


def _setup(result: Mapping[str, Any]) -> str:
    policy = result["callbacks"]
    if policy is None:
        callbacks = "off"
    else:
        callbacks = (
            f"on (offered after {policy['offer_after_ms'] / 1000:g} s, taken by "
            f"{policy['take_rate']:.0%}, missed calls {'yes' if policy['missed'] else 'no'}, "
            f"reach {policy['reach_rate']:.0%}, {policy['max_attempts']} attempts "
            f"{policy['retry_gap_ms'] / 1000:g} s apart)"
        )
    return f"overflow {'on' if result['overflow'] else 'off'}, callbacks {callbacks}"


def render_day(result: Mapping[str, Any]) -> str:
    head = (
        f"day: scenario {result['scenario']}, {_setup(result)}, "
        f"seed {result['seed']}, open {result['open']}-{result['close']}, "
        f"aht {result['aht_s']:g} s, patience "
        f"{'none' if result['patience_s'] is None else format(result['patience_s'], 'g') + ' s'}"
        f", threshold {result['threshold_s']:g} s, short abandon {result['short_abandon_s']:g} s"
    )
    rows: list[Mapping[str, Any]] = list(result["intervals"])
    rows.append({"interval": "day", **result["day"]})
    groups = format_table(("group", "agents_on_duty", "answered", "occupancy"), result["groups"])
    lost = result["day"]["lost"]
    columns = DAY_COLUMNS + (CALLBACK_COLUMNS if result["callbacks"] is not None else ())
    return f"{head}\n\n{format_table(columns, rows)}\n\n{groups}\n\nlost calls: {lost}"


def render_compare(result: Mapping[str, Any]) -> str:
    """Both runs' KPIs per interval side by side: each KPI as "a" then "b"."""
    a, b = result["a"], result["b"]
    rows = []
    for ia, ib in zip(a["intervals"] + [a["day"]], b["intervals"] + [b["day"]], strict=True):
        row: dict[str, Any] = {"interval": ia.get("interval", "day"), "offered": ia["offered"]}
        for key in COMPARE_COLUMNS:
            row[f"{key}:a"], row[f"{key}:b"] = ia[key], ib[key]
        rows.append(row)
    sides = [f"{key}:{side}" for key in COMPARE_COLUMNS for side in ("a", "b")]
    columns = ("interval", "offered", *sides)
    head = (
        f"comparison: the same callers (seed {a['seed']}, aht {a['aht_s']:g} s) twice\n"
        f"a: {_setup(a)}\nb: {_setup(b)}"
    )
    summary = (
        f"lost calls: a {a['day']['lost']}, b {b['day']['lost']}; mean wait (awt): "
        f"a {format_value('awt', a['day']['awt'])} s, b {format_value('awt', b['day']['awt'])} s"
    )
    return f"{head}\n\n{format_table(columns, rows)}\n\n{summary}"
