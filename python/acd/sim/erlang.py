"""Erlang C (M/M/n, FCFS, infinite patience): the closed form the single-queue mode is checked
against."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ErlangC:
    p_wait: float
    asa: float  # seconds
    service_level: float  # share answered within the threshold


def erlang_c(
    calls_per_hour: float, aht_s: float, agents: int, threshold_s: float
) -> ErlangC | None:
    """Steady-state values, or None when the load is at or above the number of agents."""
    load = calls_per_hour * aht_s / 3600.0  # offered traffic in erlangs
    if agents <= 0 or load >= agents:
        return None
    # Erlang B by its stable recurrence, then C from B.
    b = 1.0
    for n in range(1, agents + 1):
        b = load * b / (n + load * b)
    p_wait = b / (1.0 - (load / agents) * (1.0 - b))
    asa = p_wait * aht_s / (agents - load)
    service_level = 1.0 - p_wait * math.exp(-(agents - load) * threshold_s / aht_s)
    return ErlangC(p_wait, asa, service_level)
