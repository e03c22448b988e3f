"""What ``acd demo`` plays: whom it acts as, and the callers of a window of the sample day."""

from __future__ import annotations

import argparse
import importlib.resources
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from acd.server.config import Config, ConfigError, load_bundled_config, load_config
from acd.server.config_tenant import AgentConfig, QueueConfig
from acd.sim.arrivals import CallerModel, IntervalRate, day_arrivals, read_day

# The sample day was staffed with 16 agents (6 store managers + 10 outsourced agents,
# shared/workloads/README.md); by default the demo plays the share of its callers that the
# agents it drives would have taken.
SAMPLE_DAY_AGENTS = 16
BUNDLED_DAY = "store_day.csv"


class PlanError(ValueError):
    """The flags or the config do not make a demo (a message for the command line)."""


@dataclass(frozen=True, slots=True)
class DemoPlan:
    target: str
    adapter_token: str
    agent_tokens: Mapping[str, str]  # agent id -> its token
    queues: tuple[str, ...]
    rates: tuple[IntervalRate, ...]
    start_ms: int  # time of day the demo starts at
    minutes: float  # of the day
    speed: float  # day seconds per wall second
    load: float  # share of the day's callers played
    seed: int = 1
    aht_s: float = 180.0  # the sample day's handle time and patience (shared/workloads)
    patience_s: float = 60.0
    ring_s: float = 4.0  # an agent answers an offer after this long (day time)
    wrapup_s: float = 20.0  # and finishes its after-call work after this long
    threshold_s: float = 20.0  # service level: answered within this wait (DESIGN.md's T)
    short_abandon_s: float = 5.0

    @property
    def wall_s(self) -> float:
        return self.minutes * 60 / self.speed


@dataclass(frozen=True, slots=True)
class DemoCaller:
    call_id: str
    queue_id: str
    caller_number: str
    arrival_ms: int  # time of day
    handle_ms: int
    patience_ms: int | None


def serves_at_once(agent: AgentConfig, queue: QueueConfig) -> bool:
    """The agent has the queue's skills and a tier the queue takes before any escalation."""
    skilled = all(agent.skills.get(s, 0) >= level for s, level in queue.skills.items())
    return skilled and (queue.max_tier == 0 or agent.tier <= queue.max_tier)


def _config(path: str | None) -> Config:
    try:
        return load_config(path) if path else load_bundled_config()
    except (ConfigError, OSError) as e:
        raise PlanError(str(e)) from e


def _rates(day: str | None) -> tuple[IntervalRate, ...]:
    try:
        if day is not None:
            return tuple(read_day(Path(day)))
        resource = importlib.resources.files("acd").joinpath("data", BUNDLED_DAY)
        with importlib.resources.as_file(resource) as path:
            return tuple(read_day(path))
    except (OSError, ValueError) as e:
        raise PlanError(str(e)) from e


def _time_of_day(text: str) -> int:
    hours, _, minutes = text.partition(":")
    try:
        ms = (int(hours) * 60 + int(minutes)) * 60_000
    except ValueError:
        raise PlanError(f"--start {text!r}: expected HH:MM") from None
    if not 0 <= ms < 86_400_000:
        raise PlanError(f"--start {text!r}: expected HH:MM between 00:00 and 23:59")
    return ms


def plan_from_args(args: argparse.Namespace) -> DemoPlan:
    """The plan from ``acd demo``'s flags; what they leave out comes from the dev config."""
    config = _config(args.config)
    demo = config.demo_tokens
    adapters = [d for d in demo if d.identity.role == "adapter"]
    tenant = adapters[0].identity.tenant if adapters else None
    adapter_token = args.adapter_token or (adapters[0].token if adapters else None)
    if adapter_token is None:
        raise PlanError("no adapter token: pass --adapter-token (the config has no demo token)")
    agent_tokens: dict[str, str] = {}
    for item in args.agent_token:
        agent_id, sep, token = item.partition("=")
        if not sep or not agent_id or not token:
            raise PlanError(f"--agent-token {item!r}: expected AGENT=TOKEN")
        agent_tokens[agent_id] = token
    if not agent_tokens:
        agent_tokens = {
            d.identity.agent_id: d.token
            for d in demo
            if d.identity.role == "agent" and d.identity.agent_id and d.identity.tenant == tenant
        }
    if not agent_tokens:
        raise PlanError("no agent to play: pass --agent-token AGENT=TOKEN")
    tenant_config = config.tenants.get(tenant) if tenant else None
    agents = [a for a in tenant_config.agents if a.id in agent_tokens] if tenant_config else []
    if args.queues:
        queues = tuple(q.strip() for q in args.queues.split(",") if q.strip())
    elif tenant_config is not None:
        queues = tuple(
            q.id for q in tenant_config.queues if any(serves_at_once(a, q) for a in agents)
        )
    else:
        queues = ()
    if not queues:
        raise PlanError("no queue to call: pass --queues")
    serving = len(agent_tokens)
    if tenant_config is not None and not args.queues:
        chosen = [q for q in tenant_config.queues if q.id in queues]
        serving = sum(1 for a in agents if any(serves_at_once(a, q) for q in chosen))
    load = args.load if args.load is not None else min(1.0, serving / SAMPLE_DAY_AGENTS)
    for name, value in (("--minutes", args.minutes), ("--speed", args.speed), ("--load", load)):
        if not (math.isfinite(value) and value > 0):
            raise PlanError(f"{name} must be > 0, got {value}")
    return DemoPlan(
        target=args.target or config.server.listen[0],
        adapter_token=adapter_token,
        agent_tokens=agent_tokens,
        queues=queues,
        rates=_rates(args.day),
        start_ms=_time_of_day(args.start),
        minutes=args.minutes,
        speed=args.speed,
        load=load,
        seed=args.seed,
    )


def demo_callers(plan: DemoPlan, run_id: str | None = None) -> list[DemoCaller]:
    """The day's callers arriving in the window (the simulator's draws for ``plan.seed``), each
    kept with probability ``plan.load`` and given a queue and a number. ``run_id`` makes the
    call ids new on every run, so a rerun within the service's dedup window is not a repeat."""
    run_id = run_id or format(int(time.time() * 1000), "x")
    model = CallerModel(plan.seed, plan.aht_s, plan.patience_s)
    pick = random.Random(f"acd-demo:{plan.seed}")
    end_ms = plan.start_ms + round(plan.minutes * 60_000)
    callers = []
    for index, arrival in enumerate(day_arrivals(plan.seed, plan.rates)):
        drawn = model.caller(index, arrival)  # drawn for every arrival: same callers per seed
        keep, queue, number = pick.random(), pick.choice(plan.queues), pick.randrange(10**7)
        if plan.start_ms <= arrival < end_ms and keep < plan.load:
            callers.append(
                DemoCaller(
                    call_id=f"demo-{run_id}-{drawn.call_id}",
                    queue_id=queue,
                    caller_number=f"+4930{number:07d}",
                    arrival_ms=arrival,
                    handle_ms=drawn.handle_ms,
                    patience_ms=drawn.patience_ms,
                )
            )
    return callers
