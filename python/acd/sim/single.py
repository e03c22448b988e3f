"""Single-queue mode: M/M/n (+M patience) through the router, several seeds, steady state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from acd.sim.arrivals import CallerModel, draw_callers, poisson_arrivals
from acd.sim.driver import ProgressCallback, RouterFactory, default_router, simulate
from acd.sim.erlang import erlang_c
from acd.sim.kpi import Kpis, compute_kpis, mean_of, overlap
from acd.sim.scenario import single_queue

WARMUP_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class SingleParams:
    arrivals_per_hour: float
    aht_s: float
    agents: int
    threshold_s: float
    patience_s: float | None = None
    calls: int = 200_000
    seeds: int = 5
    seed: int = 1
    warmup_share: float = WARMUP_SHARE


def run_seed(
    p: SingleParams,
    seed: int,
    router_factory: RouterFactory = default_router,
    progress: ProgressCallback | None = None,
) -> Kpis:
    """KPIs of one seed, over the calls after the warm-up share."""
    threshold_ms = round(p.threshold_s * 1000)
    scenario = single_queue(p.agents, threshold_ms, seed)
    model = CallerModel(seed, p.aht_s, p.patience_s)
    callers = draw_callers(poisson_arrivals(seed, p.arrivals_per_hour, p.calls), model)
    result = simulate(
        scenario.config,
        scenario.queue_id,
        callers,
        scenario.logins,
        router_factory=router_factory,
        progress=progress,
    )
    warmup = int(p.calls * p.warmup_share)
    counted = result.records[warmup:]
    # Agent time over the arrivals of the counted calls: the system is loaded all through it.
    start, end = counted[0].arrival_ms, counted[-1].arrival_ms
    busy = sum(overlap(spans, start, end) for spans in result.busy.values())
    staffed = overlap(result.staffed.values(), start, end)
    return compute_kpis(
        counted,
        scenario.threshold_ms,
        scenario.short_abandon_ms,
        busy_ms=busy,
        ready_ms=staffed - busy,
    )


def seed_summary(seed: int, k: Kpis) -> dict[str, Any]:
    return {"seed": seed, "service_level": k.sl_answered, **k.as_dict()}


_MEANS = (
    "p_wait",
    "asa",
    "service_level",
    "p_abandon",
    "sl_answered",
    "sl_offered",
    "sl_with_abandons",
    "awt",
    "aht",
    "abandon_rate",
    "occupancy",
)
_TOTALS = ("offered", "answered", "abandoned", "short_abandoned", "expired", "waiting", "lost")


def run_single(
    p: SingleParams,
    router_factory: RouterFactory = default_router,
    progress: ProgressCallback | None = None,
) -> dict[str, Any]:
    """The JSON-able result: KPI means over the seeds, per-seed values, Erlang C if it applies.

    `service_level` is answered within the threshold / answered (sl_answered).
    """
    if p.calls < 2 or p.seeds < 1 or p.agents < 1 or not 0 <= p.warmup_share < 1:
        raise ValueError("need calls >= 2, seeds >= 1, agents >= 1, 0 <= warm-up share < 1")
    per_seed = []
    for n in range(p.seeds):
        seed = p.seed + n

        def seed_progress(done: int, total: int, n: int = n) -> None:
            if progress is not None:
                progress(n * total + done, p.seeds * total)

        k = run_seed(p, seed, router_factory, seed_progress)
        per_seed.append(seed_summary(seed, k))
    out: dict[str, Any] = {
        "mode": "single",
        "arrivals_per_hour": p.arrivals_per_hour,
        "aht_s": p.aht_s,
        "agents": p.agents,
        "threshold_s": p.threshold_s,
        "patience_s": p.patience_s,
        "seeds": [s["seed"] for s in per_seed],
        "calls_per_seed": p.calls,
        "warmup_calls": int(p.calls * p.warmup_share),
        "calls": per_seed[0]["offered"],
    }
    for key in _MEANS:
        out[key] = mean_of([s[key] for s in per_seed])
    out["totals"] = {key: sum(s[key] for s in per_seed) for key in _TOTALS}
    out["per_seed"] = per_seed
    reference = None
    if p.patience_s is None:
        reference = erlang_c(p.arrivals_per_hour, p.aht_s, p.agents, p.threshold_s)
    out["erlang_c"] = (
        None
        if reference is None
        else {
            "p_wait": reference.p_wait,
            "asa": reference.asa,
            "service_level": reference.service_level,
        }
    )
    return out
