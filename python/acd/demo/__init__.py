"""``acd demo``: calls flowing through a running service, for a newcomer to watch.

It plays a window of the sample day (``acd/data/store_day.csv``, the store day of
shared/workloads) against a running ``acd serve``: the simulator's callers (``acd.sim.arrivals``:
Poisson arrivals per 15-minute interval, exponential handle time and patience) call in through
the public client (``acd.client``) as a PBX adapter would, and simulated agents log in, answer
their offers, talk and finish wrap-up. The day runs ``--speed`` times faster than the clock, so
an hour of the day passes in half a minute; the service's own timers (offer timeout, escalation,
overflow) still run in real time. A line a second shows calls waiting, being offered, answered
and abandoned and the service level so far; a summary follows, and the demo ends by itself,
with its agents logged out and no call of its own left behind.

Address and tokens come from flags, and default to what ``make run`` prints: the listen address
and demo tokens of the bundled dev config (``acd/data/acd-dev.toml``), or of ``--config``.

- ``plan``: the callers of the window, and the defaults read from a dev config.
- ``play``: the callers, agents and the live report, on asyncio.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config",
        metavar="PATH",
        help="dev config to take the address and demo tokens from (default: the bundled one)",
    )
    p.add_argument("--target", help="the service's address (default: the config's first listen)")
    p.add_argument("--adapter-token", help="token of role adapter (default: the config's)")
    p.add_argument(
        "--agent-token",
        action="append",
        default=[],
        metavar="AGENT=TOKEN",
        help="an agent to play and its token; repeat it (default: the config's agent tokens)",
    )
    p.add_argument("--queues", help="comma-separated queues to call (default: those they serve)")
    p.add_argument("--day", metavar="FILE.csv", help="day file (default: the bundled store day)")
    p.add_argument("--start", default="11:30", help="time of day to start at (default 11:30)")
    p.add_argument(
        "--minutes", type=float, default=60.0, help="minutes of the day to play (default 60)"
    )
    p.add_argument(
        "--speed", type=float, default=120.0, help="day seconds per wall second (default 120)"
    )
    p.add_argument(
        "--load",
        type=float,
        help="share of the day's callers to play (default: the agents' share of its 16 agents)",
    )
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")


def main(args: argparse.Namespace) -> int:
    from acd.demo.plan import PlanError, plan_from_args
    from acd.demo.play import DemoError, run_demo

    try:
        plan = plan_from_args(args)
    except PlanError as e:
        print(f"acd demo: {e}", file=sys.stderr)
        return 2
    try:
        run_demo(plan)
    except DemoError as e:
        print(f"acd demo: {e}", file=sys.stderr)
        return 1
    return 0
