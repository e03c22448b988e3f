"""KPIs of a simulated period, computed from per-call records (see DESIGN.md, KPI definitions).

A call belongs to the period (interval) in which it arrived. Waits are integer milliseconds;
"within T" means wait <= T and "short" means wait <= S, as the definitions say.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass


@dataclass(slots=True)
class CallRecord:
    """What the simulation learned about one call from the router's events."""

    call_id: str
    arrival_ms: int
    first_offer_ms: int | None = None
    answered_ms: int | None = None
    agent_id: str | None = None
    ended_ms: int | None = None
    outcome: str | None = None  # the terminal event's detail: completed, abandoned, expired, ...
    #                             or "callback": the caller left the line for a callback
    left_ms: int | None = None  # time of the terminal event (or of taking the callback)
    callback_ms: int | None = None  # when a callback was promised (taken, or after abandoning)
    attempts: int = 0  # callback attempts made or queued
    recovered_ms: int | None = None  # when a callback attempt reached the customer
    wrapup_ms: int | None = None  # this call's own after-call work (None: the period's default)

    @property
    def waited(self) -> bool:
        """True when the call was not offered at the moment it arrived."""
        return self.first_offer_ms is None or self.first_offer_ms > self.arrival_ms

    @property
    def wait_ms(self) -> int | None:
        """Time in queue: until answered, or until it left the queue unanswered."""
        if self.answered_ms is not None:
            return self.answered_ms - self.arrival_ms
        if self.left_ms is not None:
            return self.left_ms - self.arrival_ms
        return None


@dataclass(frozen=True, slots=True)
class Kpis:
    offered: int
    answered: int
    abandoned: int
    short_abandoned: int
    expired: int  # left unanswered otherwise: time-to-live, overflowed out
    waiting: int  # still waiting when the simulation stopped
    # Offered calls never served: abandoned + expired + callbacks taken, less those a callback
    # reached.
    lost: int
    callbacks: int  # callers promised a callback (took one while waiting, or abandoned)
    callback_attempts: int
    recovered: int  # callers a callback attempt reached
    time_to_callback: float | None  # seconds from the promise to reaching the caller
    waited: int  # calls that were not offered at the moment they arrived
    sl_answered: float | None
    sl_offered: float | None
    sl_with_abandons: float | None
    asa: float | None  # seconds
    awt: float | None  # seconds
    aht: float | None  # seconds
    abandon_rate: float | None
    occupancy: float | None
    p_wait: float | None
    p_abandon: float | None

    def as_dict(self) -> dict[str, int | float | None]:
        return asdict(self)


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def compute_kpis(
    records: Iterable[CallRecord],
    threshold_ms: int,
    short_abandon_ms: int,
    wrapup_ms: int = 0,
    busy_ms: int = 0,
    ready_ms: int = 0,
) -> Kpis:
    """KPIs of `records`; occupancy from agent busy and ready time measured over the period."""
    offered = answered = abandoned = short = expired = waiting = waited = 0
    converted = callbacks = attempts = recovered = recover_wait = 0
    answered_in_t = abandoned_in_t = 0
    answered_wait = left_wait = handle = 0
    left = completed = 0
    for r in records:
        offered += 1
        waited += r.waited
        if r.callback_ms is not None:
            callbacks += 1
            attempts += r.attempts
            if r.recovered_ms is not None:
                recovered += 1
                recover_wait += r.recovered_ms - r.callback_ms
        if r.answered_ms is not None:
            answered += 1
            wait = r.answered_ms - r.arrival_ms
            answered_wait += wait
            left_wait += wait
            left += 1
            answered_in_t += wait <= threshold_ms
            if r.ended_ms is not None:
                completed += 1
                handle += r.ended_ms - r.answered_ms
                handle += wrapup_ms if r.wrapup_ms is None else r.wrapup_ms
        elif r.left_ms is not None:
            wait = r.left_ms - r.arrival_ms
            left_wait += wait
            left += 1
            if r.outcome == "abandoned":
                abandoned += 1
                short += wait <= short_abandon_ms
                abandoned_in_t += wait <= threshold_ms
            elif r.outcome == "callback":
                converted += 1
            else:
                expired += 1
        else:
            waiting += 1
    return Kpis(
        offered=offered,
        answered=answered,
        abandoned=abandoned,
        short_abandoned=short,
        expired=expired,
        waiting=waiting,
        lost=abandoned + expired + converted - recovered,
        callbacks=callbacks,
        callback_attempts=attempts,
        recovered=recovered,
        time_to_callback=_ratio(recover_wait / 1000, recovered),
        waited=waited,
        sl_answered=_ratio(answered_in_t, answered),
        sl_offered=_ratio(answered_in_t, answered + abandoned - short),
        sl_with_abandons=_ratio(answered_in_t + abandoned_in_t, answered + abandoned),
        asa=_ratio(answered_wait / 1000, answered),
        awt=_ratio(left_wait / 1000, left),
        aht=_ratio(handle / 1000, completed),
        abandon_rate=_ratio(abandoned - short, offered - short),
        occupancy=_ratio(busy_ms, busy_ms + ready_ms),
        p_wait=_ratio(waited, offered),
        p_abandon=_ratio(abandoned, offered),
    )


def overlap_by_interval(spans: Iterable[tuple[int, int]], interval_ms: int) -> dict[int, int]:
    """Milliseconds of `spans` ([start, end) pairs) falling in each interval, by interval index."""
    out: dict[int, int] = {}
    for start, end in spans:
        t = start
        while t < end:
            index = t // interval_ms
            stop = min(end, (index + 1) * interval_ms)
            out[index] = out.get(index, 0) + stop - t
            t = stop
    return out


def overlap(spans: Iterable[tuple[int, int]], start: int, end: int) -> int:
    """Milliseconds of `spans` ([start, end) pairs) inside the window [start, end)."""
    return sum(max(0, min(e, end) - max(s, start)) for s, e in spans)


def mean_of(values: Sequence[float | None]) -> float | None:
    """Mean of the values that are defined; None when none is."""
    defined = [v for v in values if v is not None]
    return sum(defined) / len(defined) if defined else None
