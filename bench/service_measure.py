"""What bench/service_vs_echo.py measures with: the run's plan, a phase's wall and CPU time (the
load generator's beside the server's, and which one held the run back), its table row, and the
closed-loop driver of its unary phases."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service_servers import Process


@dataclass(frozen=True, slots=True)
class Plan:
    seconds: float  # length of each timed phase
    concurrency: int  # unary workers, the same for echo and EnqueueCall
    lifecycle_agents: int
    backlog_per_agent: int  # calls in flight per lifecycle agent (closed loop)
    batch_size: int
    stream_agents: int

    @classmethod
    def of(cls, quick: bool) -> Plan:
        if quick:
            return cls(3.0, 32, 16, 2, 100, 5_000)
        return cls(10.0, 64, 64, 2, 100, 5_000)


@dataclass(slots=True)
class Meter:
    """Wall time, this process's CPU time and the server's, over one phase."""

    server: Process | None
    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    _t0: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def __enter__(self) -> Meter:
        self._t0 = (time.perf_counter(), time.process_time(), self._server_cpu())
        return self

    def __exit__(self, *exc: object) -> None:
        wall0, cpu0, server0 = self._t0
        self.wall = time.perf_counter() - wall0
        self.client_cpu = time.process_time() - cpu0
        self.server_cpu = self._server_cpu() - server0

    def _server_cpu(self) -> float:
        return self.server.cpu_s() if self.server is not None else 0.0

    def limit(self) -> str:
        """Who held the run back: a process near a full core of CPU is the likely limit
        (grpc's own threads let a process pass 100%); with both near all cores, the machine."""
        client, server = self.client_cpu / self.wall, self.server_cpu / self.wall
        if client >= 0.9 and client >= server:
            verdict = "GENERATOR (client CPU-bound: figures are a floor)"
        elif server >= 0.9:
            verdict = "server"
        else:
            verdict = "neither CPU-bound (latency or I/O)"
        cores = os.cpu_count() or 1
        if client + server >= 0.85 * cores:
            verdict += f", client + server fill the {cores} cores"
        return verdict


@dataclass(slots=True)
class Row:
    phase: str
    count: int
    meter: Meter
    extra: str = ""
    messages: int = 0  # gRPC messages both ways, where the phase counted them

    @property
    def rate(self) -> float:
        return self.count / self.meter.wall if self.meter.wall else 0.0


def print_table(rows: list[Row]) -> None:
    print(
        f"{'phase':<34} {'count':>8} {'per s':>10} {'wall s':>7} {'client cpu':>10}"
        f" {'server cpu':>10}  limit / notes"
    )
    for r in rows:
        m = r.meter
        print(
            f"{r.phase:<34} {r.count:>8} {r.rate:>10,.0f} {m.wall:>7.2f}"
            f" {m.client_cpu / m.wall:>9.0%} {m.server_cpu / m.wall:>10.0%}"
            f"  {m.limit()}{'; ' + r.extra if r.extra else ''}"
        )


def percentile(values: list[float], p: float) -> float:
    """Exact percentile (nearest rank) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


async def run_for(seconds: float, workers: int, work: Callable[[int], Awaitable[int]]) -> int:
    """Runs ``work(worker)`` in a loop on ``workers`` coroutines for ``seconds``."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def worker(w: int) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            finished = await work(w)  # not `done += await ...`: that reads `done` first
            done += finished

    await asyncio.gather(*(worker(w) for w in range(workers)))
    return done
