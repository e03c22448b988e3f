"""``acd demo`` against an in-process service running the bundled dev config: calls are
answered, the books add up, and the demo leaves no call or logged-in agent behind. The address
comes from the flags, the tokens from the dev config, as ``make demo`` takes them."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import grpc
import pytest

from acd import cli
from acd.demo import main as demo_main
from acd.demo import play
from acd.demo.plan import PlanError, demo_callers, plan_from_args, serves_at_once
from acd.demo.play import DemoError, run_demo
from acd.server.config import load_bundled_config
from acd.v1 import common_pb2, supervision_pb2
from server_helpers import ServerThread, Stubs, md

T = 5.0


def _args(*flags: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["demo", *flags])


def test_demo_answers_calls_and_cleans_up(tmp_path: Path) -> None:
    server = ServerThread(load_bundled_config(environ={}), tmp_path / "data").start()
    try:
        # Six minutes of the noon peak at 120x: three seconds; every caller of the day.
        plan = plan_from_args(
            _args("--target", server.address, "--start", "12:00", "--minutes", "6", "--load", "1")
        )
        assert plan.agent_tokens == _dev_tokens("agent")
        assert [plan.adapter_token] == list(_dev_tokens("adapter").values())[:1]
        lines: list[str] = []
        result = run_demo(plan, out=lines.append, run_id="t1")
        k = result.kpis
        assert k.offered == len(demo_callers(plan, "t1")) > 0
        assert k.answered >= 1
        assert k.answered + k.abandoned + k.waiting == k.offered
        assert sum(result.answered_by.values()) == k.answered
        assert result.refused == []
        assert lines[0].startswith("acd demo: 12:00-12:06 of the sample day at 120x")
        assert result.lines >= 2 and all("answered" in line for line in lines[1:-3])
        assert lines[-3].startswith(f"acd demo: done. {k.offered} calls: {k.answered} answered")

        stubs = Stubs(grpc.insecure_channel(server.address))
        sup = md("dev-supervisor")
        waiting = stubs.supervision.ListWaitingCalls(
            supervision_pb2.ListWaitingCallsRequest(), metadata=sup, timeout=T
        )
        assert [c.call_id for c in waiting.calls if c.call_id.startswith("demo-")] == []
        agents = stubs.supervision.ListAgents(
            supervision_pb2.ListAgentsRequest(), metadata=sup, timeout=T
        )
        states = {a.agent_id: a.state for a in agents.agents}
        assert states["anna"] == states["carla"] == common_pb2.AGENT_STATE_LOGGED_OUT

        # A token the service does not know stops the demo before any call, saying whose.
        with pytest.raises(DemoError, match="agent anna: UNAUTHENTICATED"):
            bad = {**plan.agent_tokens, "anna": "no-such-token"}
            run_demo(dataclasses.replace(plan, agent_tokens=bad), out=lines.append)
    finally:
        server.stop()


def _dev_tokens(role: str) -> dict[str, str]:
    """The bundled dev config's demo tokens of ``role``, by agent id (or identity name)."""
    demo = load_bundled_config(environ={}).demo_tokens
    return {
        d.identity.agent_id or d.identity.name: d.token for d in demo if d.identity.role == role
    }


def test_demo_defaults_and_refusals(monkeypatch: pytest.MonkeyPatch) -> None:
    plan = plan_from_args(_args())
    dev = load_bundled_config(environ={})
    assert plan.target == dev.server.listen[0] == "127.0.0.1:50051"  # what `make run` prints
    # It calls the queues its agents serve before any escalation, and plays the share of the
    # sample day's callers those agents would have taken of its 16 agents.
    store = dev.tenants["store"]
    agents = [a for a in store.agents if a.id in plan.agent_tokens]
    queues = [q for q in store.queues if any(serves_at_once(a, q) for a in agents)]
    assert plan.queues == tuple(q.id for q in queues) != ()
    serving = [a for a in agents if any(serves_at_once(a, q) for q in queues)]
    assert plan.load == len(serving) / 16
    assert plan.wall_s == 30.0  # an hour of the day at 120x
    with pytest.raises(PlanError, match="AGENT=TOKEN"):
        plan_from_args(_args("--agent-token", "anna"))
    with pytest.raises(PlanError, match="--start"):
        plan_from_args(_args("--start", "25:00"))
    # No service there: a message and exit status 1, after a short wait.
    monkeypatch.setattr(play, "CONNECT_S", 0.2)
    closed = _args("--target", "127.0.0.1:1", "--minutes", "1")
    assert demo_main(closed) == 1
