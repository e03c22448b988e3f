"""Day mode: a day of 15-minute intervals of non-homogeneous Poisson arrivals through a scenario
of queues and agent groups, with KPIs per interval and for the day."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from acd.sim.arrivals import (
    INTERVAL_MS,
    CallerModel,
    IntervalRate,
    day_arrivals,
    draw_callers,
)
from acd.sim.callbacks import CallbackPolicy
from acd.sim.driver import ProgressCallback, RouterFactory, default_router, simulate
from acd.sim.kpi import CallRecord, compute_kpis, overlap_by_interval
from acd.sim.scenario import Scenario, first_line_overflow, single_queue


@dataclass(frozen=True, slots=True)
class DayParams:
    scenario: str = "first-line-overflow"
    overflow: bool = True
    seed: int = 1
    aht_s: float = 180.0
    patience_s: float | None = 60.0
    threshold_s: float = 20.0
    agents: int = 16  # scenario "single" only
    callbacks: CallbackPolicy | None = None  # None: nobody is called back


def interval_label(index: int) -> str:
    minutes = index * INTERVAL_MS // 60_000
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def build_scenario(p: DayParams, open_ms: int) -> Scenario:
    threshold_ms = round(p.threshold_s * 1000)
    if p.scenario == "first-line-overflow":
        return first_line_overflow(threshold_ms, p.seed, p.overflow, open_ms)
    if p.scenario == "single":
        if not p.overflow:
            raise ValueError("--no-overflow applies to the first-line-overflow scenario only")
        return single_queue(p.agents, threshold_ms, p.seed, open_ms)
    raise ValueError(f"unknown scenario {p.scenario!r}")


def run_day(
    rates: list[IntervalRate],
    p: DayParams,
    router_factory: RouterFactory = default_router,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """The JSON-able result: KPIs per interval with traffic, for the day, and per agent group.

    Agents log in at the start of the first interval with a positive rate and stay until the
    end of the last one (or until their last call ends).
    """
    open_rates = [r for r in rates if r.calls_per_hour > 0]
    if not open_rates:
        raise ValueError("the day has no interval with calls_per_hour > 0")
    open_ms = open_rates[0].start_ms
    close_ms = open_rates[-1].start_ms + INTERVAL_MS
    scenario = build_scenario(p, open_ms)
    callers = draw_callers(day_arrivals(p.seed, rates), CallerModel(p.seed, p.aht_s, p.patience_s))
    result = simulate(
        scenario.config,
        scenario.queue_id,
        callers,
        scenario.logins,
        wrapup_ms=scenario.wrapup_ms,
        close_ms=close_ms,
        router_factory=router_factory,
        progress=progress,
        callbacks=p.callbacks,
        seed=p.seed,
    )
    all_busy = [span for spans in result.busy.values() for span in spans]
    busy_by = overlap_by_interval(all_busy, INTERVAL_MS)
    staffed_by = overlap_by_interval(result.staffed.values(), INTERVAL_MS)
    by_interval: dict[int, list[CallRecord]] = {}
    for rec in result.records:
        by_interval.setdefault(rec.arrival_ms // INTERVAL_MS, []).append(rec)

    def kpis(records: list[CallRecord], busy: int, staffed: int) -> dict[str, Any]:
        k = compute_kpis(
            records,
            scenario.threshold_ms,
            scenario.short_abandon_ms,
            scenario.wrapup_ms,
            busy,
            staffed - busy,
        )
        return k.as_dict()

    intervals = [
        {
            "interval": interval_label(i),
            **kpis(by_interval[i], busy_by.get(i, 0), staffed_by.get(i, 0)),
        }
        for i in sorted(by_interval)
    ]
    total_busy = sum(busy_by.values())
    day = kpis(result.records, total_busy, sum(staffed_by.values()))
    groups = []
    for name, members in scenario.groups.items():
        g_busy = sum(e - s for a in members for s, e in result.busy.get(a, []))
        g_staffed = sum(e - s for a, (s, e) in result.staffed.items() if a in members)
        answered = sum(1 for r in result.records if r.agent_id in members)
        groups.append(
            {
                "group": name,
                "agents_on_duty": sum(1 for a in members if a in result.staffed),
                "answered": answered,
                "occupancy": g_busy / g_staffed if g_staffed else None,
            }
        )
    return {
        "mode": "day",
        "scenario": scenario.name,
        "overflow": p.overflow,
        "callbacks": None if p.callbacks is None else asdict(p.callbacks),
        "seed": p.seed,
        "aht_s": p.aht_s,
        "patience_s": p.patience_s,
        "threshold_s": p.threshold_s,
        "short_abandon_s": scenario.short_abandon_ms / 1000,
        "open": interval_label(open_ms // INTERVAL_MS),
        "close": interval_label(close_ms // INTERVAL_MS),
        "intervals": intervals,
        "day": day,
        "groups": groups,
    }


# What `--compare` may change for the second run.
CHANGES = ("overflow", "no-overflow", "callbacks", "no-callbacks")


def changed(p: DayParams, changes: list[str], policy: CallbackPolicy) -> DayParams:
    """`p` with each of `changes` applied; `policy` is what "callbacks" switches on."""
    for change in changes:
        if change not in CHANGES:
            raise ValueError(f"--compare: unknown change {change!r} (one of {', '.join(CHANGES)})")
        if change in ("overflow", "no-overflow"):
            p = replace(p, overflow=change == "overflow")
        else:
            p = replace(p, callbacks=policy if change == "callbacks" else None)
    return p


def run_compare(
    rates: list[IntervalRate],
    a: DayParams,
    b: DayParams,
    router_factory: RouterFactory = default_router,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """The same callers (same seed) through two set-ups: {"mode": "compare", "a": ..., "b": ...}."""
    if a.seed != b.seed or a.aht_s != b.aht_s or a.patience_s != b.patience_s:
        raise ValueError("a comparison runs the same callers: seed, aht and patience must match")

    def half(offset: int) -> ProgressCallback | None:
        if progress is None:
            return None
        return lambda done, total: progress(offset * total + done, 2 * total)

    return {
        "mode": "compare",
        "a": run_day(rates, a, router_factory, half(0)),
        "b": run_day(rates, b, router_factory, half(1)),
    }
