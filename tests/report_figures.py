"""The README's report figures, from a week of traffic played through the real service.

    make figures    # = .venv/bin/python tests/report_figures.py; writes tests/figures/*.png

An in-process service (``server_helpers.ServerThread``) on a temporary data dir, with a clock
this script sets, takes a week of calls (Monday 2026-11-16 to Sunday 2026-11-22, UTC) through
its public gRPC API, as a PBX adapter and agent desktops would: callers arrive with the sample
store day's pattern (``acd/data/store_day.csv``, the simulator's seeded Poisson draws), each
weekday scaled by ``WEEKDAY_FACTORS``; they hang up when their patience runs out; agents work
two shifts with a break each, answer an offer after a few seconds of ringing, talk for the
caller's handle time and finish their after-call work. Then ``acd report heatmap`` and
``acd report queues`` (the real command line) draw the charts with ``--png``.

Time is discrete-event: the script keeps its own agenda of what happens next, sets the clock to
it and makes the call, so a week plays in a couple of minutes and the same seed gives the same
calls, the same reports and the same pixels. Which agent a call rings at is the router's choice;
after each command that can make an offer, ``SupervisionService.ListAgents`` says whom it rang.
The queue has no timer this script does not beat (offers are answered well within the offer
timeout; wrap-up ends when the agent says so), and a timer the service's own task runs late
fires at its deadline all the same (the router runs every timer due before a command first).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import heapq
import importlib.resources
import io
import random
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from acd.cli import main as acd_main
from acd.server.clock import Clock
from acd.sim.arrivals import CallerModel, IntervalRate, day_arrivals, read_day
from acd.v1 import agent_pb2, common_pb2, routing_pb2, supervision_pb2
from server_helpers import ServerThread, Stubs, make_config, md

FIRST_DAY = datetime.date(2026, 11, 16)  # a Monday
DAY_MS = 86_400_000
# Assumed, for a realistic week (not data): busiest on Monday, quiet on Sunday.
WEEKDAY_FACTORS = (1.2, 1.0, 0.95, 1.0, 1.1, 0.85, 0.5)
QUEUE = "orders"
SHIFTS = {  # agents -> (start, end) hours of the day; a 15-minute break 3.5 hours in
    ("early1", "early2", "early3", "early4"): (7.75, 15.25),
    ("late1", "late2", "late3", "late4"): (14.75, 22.25),
}
AHT_S, PATIENCE_S, RING_S, WRAPUP_S = 180.0, 60.0, 4.0, 20.0
BREAK_MS = 15 * 60_000
T = 10.0  # bound on each RPC (loopback)
RESERVED = common_pb2.AGENT_STATE_RESERVED


def figure_config() -> str:
    agents = [a for team in SHIFTS for a in team]
    tokens = "".join(
        f'\n[[dev.demo_tokens]]\ntoken = "t-{a}"\ntenant = "store"\nname = "{a}"\n'
        f'role = "agent"\nagent = "{a}"\n'
        for a in agents
    )
    agent_tables = "".join(
        f'\n[[tenants.store.agents]]\nid = "{a}"\nskills = {{ orders = 5 }}\n' for a in agents
    )
    return f"""
mode = "dev"

[server]
listen = ["127.0.0.1:50051"]

[server.rate_limit]
requests_per_second = 0

[storage]
snapshot_every_entries = 20000
snapshot_every_s = 0

[tenants.store]
skills = ["orders"]

[[tenants.store.queues]]
id = "{QUEUE}"
skills = {{ orders = 1 }}
offer_timeout_s = 60
wrapup = "until-done"
{agent_tables}
[[dev.demo_tokens]]
token = "t-adapter"
tenant = "store"
name = "pbx"
role = "adapter"

[[dev.demo_tokens]]
token = "t-supervisor"
tenant = "store"
name = "sup"
role = "supervisor"
{tokens}"""


@dataclass
class Tally:
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    refused: int = 0  # commands the service refused (a late accept, a race): counted only


@dataclass
class Week:
    """The agenda and the state the script keeps of its calls and agents."""

    stubs: Stubs
    wall: list[int]  # the service's clock, ms (one cell: the Clock reads it)
    agenda: list[tuple[int, int, str, tuple[str, ...]]] = field(default_factory=list)
    answered: dict[str, str] = field(default_factory=dict)  # call -> agent
    live: set[str] = field(default_factory=set)  # calls enqueued and not ended
    ringing: set[tuple[str, str]] = field(default_factory=set)  # (agent, call) accepts planned
    handle_ms: dict[str, int] = field(default_factory=dict)
    break_until: dict[str, int] = field(default_factory=dict)  # agent -> ms
    tally: Tally = field(default_factory=Tally)
    _seq: int = 0

    def at(self, ms: int, what: str, *args: str) -> None:
        self._seq += 1
        heapq.heappush(self.agenda, (ms, self._seq, what, args))

    def rpc(self, fn: Callable[..., Any], request: Any, token: str) -> Any:
        try:
            return fn(request, metadata=md(token), timeout=T)
        except grpc.RpcError as e:
            if e.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
                raise
            self.tally.refused += 1
            return None

    def rang(self) -> None:
        """Plans an answer for every offer ringing now that has none yet."""
        request = supervision_pb2.ListAgentsRequest(states=[RESERVED])
        agents = self.stubs.supervision.ListAgents(request, metadata=md("t-supervisor"), timeout=T)
        for agent in agents.agents:
            for call_id in agent.call_ids:
                if (agent.agent_id, call_id) not in self.ringing:
                    self.ringing.add((agent.agent_id, call_id))
                    self.at(self.wall[0] + round(RING_S * 1000), "accept", agent.agent_id, call_id)

    def step(self, what: str, args: tuple[str, ...]) -> None:
        s = self.stubs
        if what == "arrive":
            (call_id,) = args
            call = common_pb2.Call(call_id=call_id, queue_id=QUEUE)
            s.routing.EnqueueCall(
                routing_pb2.EnqueueCallRequest(call=call), metadata=md("t-adapter"), timeout=T
            )
            self.live.add(call_id)
            self.tally.offered += 1
            self.rang()
        elif what == "give-up":
            (call_id,) = args
            if call_id in self.live and call_id not in self.answered:
                cancel = routing_pb2.CancelCallRequest(call_id=call_id)
                if self.rpc(s.routing.CancelCall, cancel, "t-adapter") is not None:
                    self.live.discard(call_id)
                    self.tally.abandoned += 1
                    self.rang()  # an agent it rang at is free for the next caller
        elif what == "accept":
            agent_id, call_id = args
            self.ringing.discard((agent_id, call_id))
            if call_id in self.live and call_id not in self.answered:
                accept = agent_pb2.AcceptOfferRequest(agent_id=agent_id, call_id=call_id)
                if self.rpc(s.agent.AcceptOffer, accept, f"t-{agent_id}") is not None:
                    self.answered[call_id] = agent_id
                    self.tally.answered += 1
                    self.at(self.wall[0] + self.handle_ms[call_id], "hang-up", call_id)
        elif what == "hang-up":
            (call_id,) = args
            s.routing.EndCall(
                routing_pb2.EndCallRequest(call_id=call_id), metadata=md("t-adapter"), timeout=T
            )
            self.live.discard(call_id)
            self.at(
                self.wall[0] + round(WRAPUP_S * 1000), "wrap-up", self.answered[call_id], call_id
            )
        elif what == "wrap-up":
            agent_id, call_id = args
            finish = agent_pb2.FinishWrapUpRequest(
                agent_id=agent_id, call_id=call_id, disposition_code="order"
            )
            done = self.rpc(s.agent.FinishWrapUp, finish, f"t-{agent_id}")
            # A break asked for during the call starts now; if it is over already, back.
            on_break = done is not None and done.agent.state == common_pb2.AGENT_STATE_NOT_READY
            if on_break and self.wall[0] >= self.break_until.get(agent_id, 0):
                self.agent_step("ready", (agent_id,))
            self.rang()
        else:
            self.agent_step(what, args)

    def agent_step(self, what: str, args: tuple[str, ...]) -> None:
        s = self.stubs
        (agent_id,) = args
        token = f"t-{agent_id}"
        if what == "login":
            self.rpc(s.agent.Login, agent_pb2.LoginRequest(agent_id=agent_id), token)
            what = "ready"
        if what == "ready":
            ready = agent_pb2.AVAILABILITY_READY
            self.rpc(
                s.agent.SetState,
                agent_pb2.SetStateRequest(agent_id=agent_id, availability=ready),
                token,
            )
            self.rang()
        elif what == "break":
            self.break_until[agent_id] = self.wall[0] + BREAK_MS
            request = agent_pb2.SetStateRequest(
                agent_id=agent_id,
                availability=agent_pb2.AVAILABILITY_NOT_READY,
                reason_code="break",
            )
            self.rpc(s.agent.SetState, request, token)
        elif what == "logout":
            self.rpc(s.agent.Logout, agent_pb2.LogoutRequest(agent_id=agent_id), token)

    def run(self) -> None:
        for _ in range(10**7):  # bounded: far more steps than a week has
            if not self.agenda:
                return
            ms, _, what, args = heapq.heappop(self.agenda)
            self.wall[0] = max(self.wall[0], ms)
            self.step(what, args)
        raise RuntimeError("the agenda did not run out")


def store_day() -> list[IntervalRate]:
    resource = importlib.resources.files("acd").joinpath("data", "store_day.csv")
    with importlib.resources.as_file(resource) as path:
        return read_day(path)


def plan_week(week: Week, days: int, load: float, seed: int) -> None:
    rates = store_day()
    pick = random.Random(f"acd-figures:{seed}")
    for day in range(days):
        midnight = int(
            datetime.datetime.combine(
                FIRST_DAY + datetime.timedelta(days=day), datetime.time(), datetime.UTC
            ).timestamp()
            * 1000
        )
        factor = load * WEEKDAY_FACTORS[day % 7]
        scaled = [IntervalRate(r.start_ms, r.calls_per_hour * factor) for r in rates]
        model = CallerModel(seed + day, AHT_S, PATIENCE_S)
        for index, arrival in enumerate(day_arrivals(seed + day, scaled)):
            caller = model.caller(index, arrival)
            call_id = f"d{day}-{caller.call_id}"
            week.handle_ms[call_id] = caller.handle_ms
            week.at(midnight + arrival, "arrive", call_id)
            if caller.patience_ms is not None:
                week.at(midnight + arrival + caller.patience_ms, "give-up", call_id)
        for team, (start_h, end_h) in SHIFTS.items():
            for agent in team:
                start = midnight + round((start_h + pick.uniform(-0.1, 0.1)) * 3_600_000)
                pause = start + round((3.5 + pick.uniform(-0.5, 0.5)) * 3_600_000)
                week.at(start, "login", agent)
                week.at(pause, "break", agent)
                week.at(pause + BREAK_MS, "ready", agent)
                week.at(midnight + round(end_h * 3_600_000), "logout", agent)


def report(args: list[str]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if acd_main(["report", *args]) != 0:
            raise RuntimeError(f"acd report {' '.join(args)} failed")
    return out.getvalue()


def make_figures(
    out: Path, days: int = 7, load: float = 0.5, seed: int = 1
) -> tuple[Tally, dict[str, str]]:
    """Plays the week and writes ``heatmap.png`` and ``volume_and_sl.png`` into ``out``; gives
    the script's own count of its calls and the reports' tables the charts were drawn from."""
    wall = [
        int(datetime.datetime.combine(FIRST_DAY, datetime.time(), datetime.UTC).timestamp() * 1000)
    ]
    with tempfile.TemporaryDirectory() as data:
        server = ServerThread(
            make_config(figure_config()), Path(data), clock=Clock(lambda: wall[0] / 1000)
        )
        server.start()
        try:
            with grpc.insecure_channel(server.address) as channel:
                week = Week(Stubs(channel), wall)
                plan_week(week, days, load, seed)
                week.run()
                last = FIRST_DAY + datetime.timedelta(days=days - 1)
                tables: dict[str, str] = {}
                base = ["--target", server.address, "--token", "t-supervisor"]
                period = ["--from", str(FIRST_DAY), "--to", str(last)]
                heatmap = ["heatmap", *base, *period, "--png", str(out / "heatmap.png")]
                tables["heatmap"] = report(heatmap)
                monday = ["--from", str(FIRST_DAY), "--interval", "hour"]
                queues = ["queues", *base, *monday, "--png", str(out / "volume_and_sl.png")]
                tables["queues"] = report(queues)
        finally:
            server.stop()
    return week.tally, tables


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--out", type=Path, default=Path(__file__).parent / "figures")
    p.add_argument("--days", type=int, default=7, help="days from Monday 2026-11-16 (7)")
    p.add_argument("--load", type=float, default=0.5, help="share of the store day's callers")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    if args.days < 1 or not args.load > 0:
        p.error("--days must be at least 1 and --load above 0")
    args.out.mkdir(parents=True, exist_ok=True)
    tally, _ = make_figures(args.out, args.days, args.load, args.seed)
    print(
        f"report figures: {args.days} days, {tally.offered} calls, {tally.answered} answered,"
        f" {tally.abandoned} abandoned ({tally.refused} commands refused);"
        f" wrote {args.out / 'heatmap.png'},"
        f" {args.out / 'volume_and_sl.png'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
