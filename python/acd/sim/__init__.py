"""Simulation of a contact center around the real router (`acd.Router`) on a virtual clock.

The simulator plays callers and agents; the router makes every routing decision. KPIs come from
the router's events and the simulator's knowledge of its callers.

- `arrivals`: the random model (Poisson arrivals, exponential handle time and patience) and the
  day file reader.
- `driver`: the event loop around the router.
- `scenario`: router configurations (one queue; first line + overflow).
- `single`, `day`: the two modes of `acd simulate`.
- `kpi`, `erlang`, `table`, `progress`: KPI formulas, the Erlang C closed form, output.

The bundled day file `acd/data/store_day.csv` is a copy of `shared/workloads/store_day.csv`
(one day of an online store, arrivals per hour for each 15-minute interval).
"""

from acd.sim.day import DayParams, run_day
from acd.sim.kpi import CallRecord, Kpis, compute_kpis
from acd.sim.single import SingleParams, run_single

__all__ = [
    "CallRecord",
    "DayParams",
    "Kpis",
    "SingleParams",
    "compute_kpis",
    "run_day",
    "run_single",
]
