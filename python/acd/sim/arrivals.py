"""The random model: simulated callers drawn from seeded, independent streams.

Each quantity (arrival gaps, handle times, patience) has its own stream, so the same seed gives
the same callers whatever the routing does with them: overflow on and off see identical
arrivals, handle times and patience draws.
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

INTERVAL_MS = 15 * 60 * 1000


@dataclass(frozen=True, slots=True)
class Caller:
    """One simulated call: when it arrives, how long it talks, how long it is willing to wait."""

    call_id: str
    arrival_ms: int
    handle_ms: int
    patience_ms: int | None  # None: waits forever


@dataclass(frozen=True, slots=True)
class IntervalRate:
    """Arrival rate of one 15-minute interval, starting `start_ms` after midnight."""

    start_ms: int
    calls_per_hour: float


class CallerModel:
    """Exponential handle time and (optional) exponential patience, one stream each."""

    def __init__(self, seed: int, aht_s: float, patience_s: float | None) -> None:
        if aht_s <= 0:
            raise ValueError("aht must be > 0 seconds")
        if patience_s is not None and patience_s <= 0:
            raise ValueError("patience must be > 0 seconds")
        self._handle = random.Random(f"acd-sim:{seed}:handle")
        self._patience = random.Random(f"acd-sim:{seed}:patience")
        self._aht_ms = aht_s * 1000.0
        self._patience_ms = None if patience_s is None else patience_s * 1000.0

    def caller(self, index: int, arrival_ms: int) -> Caller:
        # At least 1 ms of talk so that connected and ended never share a timestamp.
        handle = max(1, round(self._handle.expovariate(1.0) * self._aht_ms))
        patience = None
        if self._patience_ms is not None:
            patience = round(self._patience.expovariate(1.0) * self._patience_ms)
        return Caller(f"c{index}", arrival_ms, handle, patience)


def poisson_arrivals(seed: int, calls_per_hour: float, count: int) -> Iterator[int]:
    """`count` arrival times (ms) of a homogeneous Poisson process starting at 0."""
    if calls_per_hour <= 0:
        raise ValueError("arrivals per hour must be > 0")
    stream = random.Random(f"acd-sim:{seed}:arrivals")
    mean_gap_ms = 3_600_000.0 / calls_per_hour
    t = 0.0
    for _ in range(count):
        t += stream.expovariate(1.0) * mean_gap_ms
        yield math.floor(t)


def day_arrivals(seed: int, rates: Sequence[IntervalRate]) -> Iterator[int]:
    """Arrival times (ms) of a Poisson process whose rate is constant within each interval.

    Exponential gaps are memoryless, so restarting the draw at each interval boundary (and
    dropping the gap that overshoots it) is exact for a piecewise-constant rate.
    """
    stream = random.Random(f"acd-sim:{seed}:arrivals")
    for rate in rates:
        if rate.calls_per_hour <= 0:
            continue
        mean_gap_ms = 3_600_000.0 / rate.calls_per_hour
        end = rate.start_ms + INTERVAL_MS
        t = float(rate.start_ms)
        while True:
            t += stream.expovariate(1.0) * mean_gap_ms
            if t >= end:
                break
            yield math.floor(t)


def draw_callers(arrivals: Iterator[int], model: CallerModel) -> list[Caller]:
    return [model.caller(i, at) for i, at in enumerate(arrivals)]


def read_day(path: Path) -> list[IntervalRate]:
    """Read a day file: `interval_start` (HH:MM) and `calls_per_hour` per 15-minute interval."""
    rates: list[IntervalRate] = []
    with path.open(newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            try:
                hours, minutes = row["interval_start"].split(":")
                start_ms = (int(hours) * 60 + int(minutes)) * 60_000
                rate = float(row["calls_per_hour"])
            except (KeyError, ValueError, AttributeError) as e:
                raise ValueError(f"{path}:{line}: bad row {row!r}") from e
            if start_ms % INTERVAL_MS or rate < 0 or not math.isfinite(rate):
                raise ValueError(
                    f"{path}:{line}: interval_start must be on a 15-minute boundary "
                    "and calls_per_hour >= 0"
                )
            rates.append(IntervalRate(start_ms, rate))
    starts = [r.start_ms for r in rates]
    if starts != sorted(set(starts)):
        raise ValueError(f"{path}: intervals must be in increasing order without repeats")
    return rates
