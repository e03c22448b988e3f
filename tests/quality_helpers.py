"""A store tenant with two scorecards, a second tenant, a clock the test sets, and blocking
helpers for the recording and quality-evaluation tests. Every wait is bounded
(server_helpers)."""

from __future__ import annotations

from typing import Any

from acd.server.config import Config
from acd.v1 import agent_pb2, quality_pb2, reports_pb2, routing_pb2
from history_helpers import (
    MONDAY_10,
    FakeWall,
    accept,
    cancel,
    end,
    enqueue,
    login_ready,
    next_offer,
)
from server_helpers import STORE_TOKENS, StreamReader, Stubs, make_config, md

__all__ = [
    "MONDAY_10",
    "FakeWall",
    "accept",
    "cancel",
    "end",
    "enqueue",
    "login_ready",
    "next_offer",
]

T = 5.0
ADAPTER, SUP, ADMIN = md("t-adapter"), md("t-supervisor"), md("t-admin")
ANNA, BEN = md("t-anna"), md("t-ben")

CONFIG = (
    """
mode = "dev"

[server]
listen = ["127.0.0.1:50051"]

[server.rate_limit]
requests_per_second = 0

[storage]
snapshot_every_entries = 50
snapshot_every_s = 0

[tenants.store]
skills = ["sales", "support"]

[[tenants.store.groups]]
id = "managers"
can_pick = true

[[tenants.store.queues]]
id = "sales"
skills = { sales = 1 }
offer_timeout_s = 60
wrapup = "until-done"

[[tenants.store.queues]]
id = "support"
skills = { support = 1 }
offer_timeout_s = 60
wrapup = "until-done"

[[tenants.store.agents]]
id = "anna"
group = "managers"
skills = { sales = 5, support = 5 }

[[tenants.store.agents]]
id = "ben"
group = "managers"
skills = { sales = 5 }

[[tenants.store.scorecards]]
id = "voice"
name = "Voice calls"
max_score = 5

[[tenants.store.scorecards.criteria]]
id = "greeting"
weight = 1

[[tenants.store.scorecards.criteria]]
id = "empathy"
weight = 2

[[tenants.store.scorecards.criteria]]
id = "resolution"
name = "Problem solved"
weight = 3
max_score = 10

[[tenants.store.scorecards]]
id = "short"

[[tenants.store.scorecards.criteria]]
id = "tone"

[tenants.other]
skills = ["sales"]

[[tenants.other.queues]]
id = "other-sales"
skills = { sales = 1 }

[[tenants.other.agents]]
id = "olga"
skills = { sales = 5 }

[[dev.demo_tokens]]
token = "t-other-supervisor"
tenant = "other"
name = "other-sup"
role = "supervisor"
"""
    + STORE_TOKENS
)


def config() -> Config:
    return make_config(CONFIG)


def answered_call(s: Stubs, stream: StreamReader, agent: str, call_id: str, wall: FakeWall) -> None:
    """``call_id`` enters sales, is offered to ``agent`` (ready, its stream open), answered
    after 5 s."""
    enqueue(s, call_id, caller_number="+4930111")
    assert next_offer(stream).offer.call_id == call_id
    wall.ms += 5_000
    accept(s, agent, call_id)


def finish(s: Stubs, agent: str, call_id: str, wall: FakeWall, talk_ms: int = 60_000) -> None:
    """The connected ``call_id`` ends after ``talk_ms``; ``agent`` wraps up and is ready."""
    wall.ms += talk_ms
    end(s, call_id)
    request = agent_pb2.FinishWrapUpRequest(agent_id=agent, call_id=call_id)
    s.agent.FinishWrapUp(request, metadata=md(f"t-{agent}"), timeout=T)


def attach(s: Stubs, call_id: str, reference: str) -> quality_pb2.AttachRecordingResponse:
    request = quality_pb2.AttachRecordingRequest(call_id=call_id, reference=reference)
    response: quality_pb2.AttachRecordingResponse = s.quality.AttachRecording(
        request, metadata=ADAPTER, timeout=T
    )
    return response


def transfer(s: Stubs, call_id: str, **target: str) -> None:
    request = routing_pb2.TransferCallRequest(call_id=call_id, **target)
    s.routing.TransferCall(request, metadata=ADAPTER, timeout=T)


def evaluate(
    s: Stubs,
    call_id: str,
    scores: dict[str, int],
    scorecard: str = "voice",
    token: Any = SUP,
    **fields: Any,
) -> quality_pb2.CreateEvaluationResponse:
    request = quality_pb2.CreateEvaluationRequest(
        call_id=call_id,
        scorecard_id=scorecard,
        scores=[quality_pb2.CriterionScore(criterion_id=k, score=v) for k, v in scores.items()],
        **fields,
    )
    response: quality_pb2.CreateEvaluationResponse = s.quality.CreateEvaluation(
        request, metadata=token, timeout=T
    )
    return response


def cdrs(s: Stubs, from_ms: int, to_ms: int) -> list[reports_pb2.Cdr]:
    request = reports_pb2.ExportCdrsRequest(from_ms=from_ms, to_ms=to_ms)
    return [m.cdr for m in s.reports.ExportCdrs(request, metadata=SUP, timeout=T)]
