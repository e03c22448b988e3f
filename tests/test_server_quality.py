"""Quality evaluation through the API: scorecards from the config, evaluations with their
weighted totals checked by hand, who sees which evaluation, every mistake refused naming its
field, a safe retry by evaluation_id, and the quality report per agent and period, all of it
the same after a restart.

The voice scorecard (quality_helpers): greeting weight 1 and empathy weight 2 on 0..5,
resolution weight 3 on 0..10; total = 100 * sum(weight * score / max) / 6.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import grpc
import pytest

from acd.server.clock import Clock
from acd.v1 import quality_pb2, reports_pb2
from quality_helpers import (
    ADMIN,
    ANNA,
    BEN,
    MONDAY_10,
    SUP,
    FakeWall,
    T,
    answered_call,
    cancel,
    config,
    enqueue,
    evaluate,
    finish,
    login_ready,
)
from server_helpers import Stubs, error_of, md, running

DAY_MS = 86_400_000
PERIOD: dict[str, Any] = {"from_ms": MONDAY_10 - DAY_MS, "to_ms": MONDAY_10 + 2 * DAY_MS}
# a1 (anna, Monday): 100 * (1 * 4/5 + 2 * 5/5 + 3 * 7/10) / 6 = 100 * 4.9 / 6
A1 = {"greeting": 4, "empathy": 5, "resolution": 7}
A1_TOTAL = 490 / 6
# a2 (anna, Tuesday): 100 * (1 * 2/5 + 2 * 3/5 + 3 * 10/10) / 6 = 100 * 4.6 / 6
A2 = {"greeting": 2, "empathy": 3, "resolution": 10}
A2_TOTAL = 460 / 6


def _day_of_calls(s: Stubs, wall: FakeWall) -> None:
    """w1 abandoned at 10:00 before anyone logs in; a1 to anna at 10:00:01, b1 to ben after it
    on Monday; a2 to anna on Tuesday."""
    enqueue(s, "w1")
    cancel(s, "w1")
    wall.ms += 1_000
    anna, ben = login_ready(s, "anna"), login_ready(s, "ben")
    answered_call(s, anna, "anna", "a1", wall)
    finish(s, "anna", "a1", wall)
    answered_call(s, ben, "ben", "b1", wall)
    finish(s, "ben", "b1", wall)
    wall.ms += DAY_MS
    answered_call(s, anna, "anna", "a2", wall)
    finish(s, "anna", "a2", wall)
    anna.close()
    ben.close()


def _evaluations(s: Stubs, token: Any = SUP, **fields: Any) -> list[quality_pb2.Evaluation]:
    request = quality_pb2.ListEvaluationsRequest(**{**PERIOD, **fields})
    return list(s.quality.ListEvaluations(request, metadata=token, timeout=T).evaluations)


def _report(s: Stubs, **fields: Any) -> list[reports_pb2.QualityReportRow]:
    request = reports_pb2.QualityReportRequest(**{**PERIOD, **fields})
    return list(s.reports.QualityReport(request, metadata=SUP, timeout=T).rows)


def test_scorecards_come_from_the_config(tmp_path: Path) -> None:
    with running(tmp_path, config()) as (_, s):
        for token in (SUP, ANNA, ADMIN):
            request = quality_pb2.ListScorecardsRequest()
            cards = s.quality.ListScorecards(request, metadata=token, timeout=T).scorecards
            voice, short = cards
            assert (voice.scorecard_id, voice.name, short.scorecard_id) == (
                "voice",
                "Voice calls",
                "short",
            )
            assert [(c.criterion_id, c.name, c.weight, c.max_score) for c in voice.criteria] == [
                ("greeting", "greeting", 1.0, 5),
                ("empathy", "empathy", 2.0, 5),
                ("resolution", "Problem solved", 3.0, 10),
            ]
            assert [(c.criterion_id, c.weight, c.max_score) for c in short.criteria] == [
                ("tone", 1.0, 5)
            ]


def test_evaluations_their_totals_who_sees_them_and_the_report(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        _day_of_calls(s, wall)
        wall.ms += 3_600_000
        made = evaluate(s, "a1", A1, comment="good call", evaluation_id="q-1")
        assert made.created
        e1 = made.evaluation
        assert (e1.evaluation_id, e1.call_id, e1.agent_id, e1.queue_id) == (
            "q-1",
            "a1",
            "anna",
            "sales",
        )
        assert (e1.scorecard_id, e1.evaluator, e1.comment) == ("voice", "sup", "good call")
        assert e1.created_at_ms == wall.ms and e1.enqueued_at_ms == MONDAY_10 + 1_000
        assert e1.total == pytest.approx(A1_TOTAL)  # 81.67
        assert [(c.criterion_id, c.score, c.max_score, c.weight) for c in e1.scores] == [
            ("greeting", 4, 5, 1.0),
            ("empathy", 5, 5, 2.0),
            ("resolution", 7, 10, 3.0),
        ]
        # Criteria in any order, with comments; the stored order is the scorecard's.
        request = quality_pb2.CreateEvaluationRequest(
            call_id="a2",
            scorecard_id="voice",
            scores=[
                quality_pb2.CriterionScore(criterion_id="resolution", score=10, comment="fixed"),
                quality_pb2.CriterionScore(criterion_id="greeting", score=2, comment="rushed"),
                quality_pb2.CriterionScore(criterion_id="empathy", score=3),
            ],
        )
        e2 = s.quality.CreateEvaluation(request, metadata=SUP, timeout=T).evaluation
        assert e2.total == pytest.approx(A2_TOTAL)  # 76.67
        assert e2.evaluation_id.startswith("ev-")
        assert [(c.criterion_id, c.comment) for c in e2.scores] == [
            ("greeting", "rushed"),
            ("empathy", ""),
            ("resolution", "fixed"),
        ]
        e3 = evaluate(s, "b1", {"greeting": 5, "empathy": 5, "resolution": 10}).evaluation
        assert e3.total == 100.0 and e3.agent_id == "ben"
        e4 = evaluate(s, "b1", {"tone": 3}, scorecard="short").evaluation
        assert e4.total == pytest.approx(60.0)
        # A call nobody answered is evaluated for the agent the request names.
        e5 = evaluate(s, "w1", {"tone": 0}, scorecard="short", agent_id="ben").evaluation
        assert (e5.agent_id, e5.total) == ("ben", 0.0)

        # A retry with the same id gives the first evaluation, whatever it scores now.
        again = evaluate(
            s, "a1", {"greeting": 0, "empathy": 0, "resolution": 0}, evaluation_id="q-1"
        )
        assert not again.created and again.evaluation == e1
        e = error_of(lambda: evaluate(s, "b1", A1, evaluation_id="q-1"))
        assert e.code() == grpc.StatusCode.ALREADY_EXISTS and "evaluation_id" in (e.details() or "")

        # Who sees what.
        everything = _evaluations(s)  # by the calls' arrival
        assert [x.call_id for x in everything] == ["w1", "a1", "b1", "b1", "a2"]
        assert [x.evaluation_id for x in _evaluations(s, ANNA)] == ["q-1", e2.evaluation_id]
        assert {x.evaluation_id for x in _evaluations(s, BEN)} == {
            e3.evaluation_id,
            e4.evaluation_id,
            e5.evaluation_id,
        }
        assert [x.evaluation_id for x in _evaluations(s, call_id="a2")] == [e2.evaluation_id]
        first = s.quality.ListEvaluations(
            quality_pb2.ListEvaluationsRequest(**PERIOD, page_size=3), metadata=SUP, timeout=T
        )
        rest = s.quality.ListEvaluations(
            quality_pb2.ListEvaluationsRequest(
                **PERIOD, page_size=3, page_token=first.next_page_token
            ),
            metadata=SUP,
            timeout=T,
        )
        assert [x.evaluation_id for x in (*first.evaluations, *rest.evaluations)] == [
            x.evaluation_id for x in everything
        ]
        assert rest.next_page_token == ""
        get = quality_pb2.GetEvaluationRequest(evaluation_id="q-1")
        assert s.quality.GetEvaluation(get, metadata=ANNA, timeout=T).evaluation == e1
        e = error_of(lambda: s.quality.GetEvaluation(get, metadata=BEN, timeout=T))
        assert e.code() == grpc.StatusCode.NOT_FOUND and "evaluation_id" in (e.details() or "")
        e = error_of(lambda: s.quality.GetEvaluation(get, metadata=md("t-other-supervisor")))
        assert e.code() == grpc.StatusCode.NOT_FOUND
        e = error_of(lambda: _evaluations(s, ANNA, agent_id="ben"))
        assert e.code() == grpc.StatusCode.PERMISSION_DENIED

        period = _report(s)
        by_day = _report(s, interval=reports_pb2.REPORT_INTERVAL_DAY, agent_ids=["anna"])
        voice_only = _report(s, scorecard_id="voice")
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        assert _evaluations(s) == everything  # stored, not remembered
        assert _report(s) == period

    # The whole period: anna's two voice evaluations, ben's two short ones and his voice one.
    anna_voice, ben_short, ben_voice = period  # scorecards by id
    assert (anna_voice.agent_id, anna_voice.scorecard_id, anna_voice.evaluations) == (
        "anna",
        "voice",
        2,
    )
    assert anna_voice.interval_start_ms == PERIOD["from_ms"]
    assert anna_voice.mean_total == pytest.approx((A1_TOTAL + A2_TOTAL) / 2)  # 79.17
    assert (anna_voice.min_total, anna_voice.max_total) == pytest.approx((A2_TOTAL, A1_TOTAL))
    criteria = [(c.criterion_id, c.mean_score, c.mean_percent) for c in anna_voice.criteria]
    assert [c[:2] for c in criteria] == [
        ("greeting", 3.0),  # (4 + 2) / 2 of 5: 60 %
        ("empathy", 4.0),  # (5 + 3) / 2 of 5: 80 %
        ("resolution", 8.5),  # (7 + 10) / 2 of 10: 85 %
    ]
    assert [c[2] for c in criteria] == pytest.approx([60.0, 80.0, 85.0])
    assert (ben_voice.agent_id, ben_voice.evaluations, ben_voice.mean_total) == ("ben", 1, 100.0)
    assert (ben_short.scorecard_id, ben_short.evaluations) == ("short", 2)
    assert ben_short.mean_total == pytest.approx(30.0)  # (60 + 0) / 2
    assert (ben_short.min_total, ben_short.max_total) == pytest.approx((0.0, 60.0))
    assert [(c.criterion_id, c.mean_score) for c in ben_short.criteria] == [("tone", 1.5)]
    # By local (UTC) day: a1 on Monday, a2 on Tuesday.
    monday, tuesday = by_day
    monday_start = MONDAY_10 - 9 * 3_600_000
    assert (monday.interval_start_ms, monday.evaluations) == (monday_start, 1)
    assert monday.mean_total == pytest.approx(A1_TOTAL)
    assert tuesday.interval_start_ms == monday_start + DAY_MS
    assert tuesday.mean_total == pytest.approx(A2_TOTAL)
    assert [(r.agent_id, r.scorecard_id) for r in voice_only] == [
        ("anna", "voice"),
        ("ben", "voice"),
    ]


def _scores(**scores: int) -> list[quality_pb2.CriterionScore]:
    return [quality_pb2.CriterionScore(criterion_id=k, score=v) for k, v in scores.items()]


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"call_id": "nope"}, grpc.StatusCode.NOT_FOUND, "call_id"),
        ({"call_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "call_id"),
        ({"call_id": "w1"}, grpc.StatusCode.FAILED_PRECONDITION, "call_id"),
        ({"call_id": "w1", "agent_id": "nobody"}, grpc.StatusCode.NOT_FOUND, "agent_id"),
        ({"scorecard_id": "nope"}, grpc.StatusCode.NOT_FOUND, "scorecard_id"),
        ({"scorecard_id": ""}, grpc.StatusCode.INVALID_ARGUMENT, "scorecard_id"),
        (
            {"scores": _scores(greeting=1, empathy=1, resolution=1, tone=1)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "scores[3].criterion_id",
        ),
        (
            {"scores": _scores(greeting=1, empathy=1, resolution=11)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "scores[2].score",
        ),
        (
            {"scores": _scores(greeting=-1, empathy=1, resolution=1)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "scores[0].score",
        ),
        (
            {"scores": _scores(greeting=6, empathy=1, resolution=1)},
            grpc.StatusCode.INVALID_ARGUMENT,
            "scores[0].score",
        ),
        ({"scores": _scores(greeting=1, empathy=1)}, grpc.StatusCode.INVALID_ARGUMENT, "scores"),
        (
            {"scores": [*_scores(greeting=1, empathy=1, resolution=1), *_scores(greeting=2)]},
            grpc.StatusCode.INVALID_ARGUMENT,
            "scores[3].criterion_id",
        ),
        ({"comment": "x" * 4001}, grpc.StatusCode.INVALID_ARGUMENT, "comment"),
        ({"evaluation_id": "a\nb"}, grpc.StatusCode.INVALID_ARGUMENT, "evaluation_id"),
    ],
)
def test_a_bad_evaluation_is_refused_naming_the_field_and_stores_nothing(
    tmp_path: Path, fields: dict[str, Any], code: grpc.StatusCode, field: str
) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        enqueue(s, "w1")
        cancel(s, "w1")
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "a1", wall)
        anna.close()
        request = quality_pb2.CreateEvaluationRequest(
            **{
                "call_id": "a1",
                "scorecard_id": "voice",
                "scores": _scores(greeting=1, empathy=1, resolution=1),
                **fields,
            }
        )
        e = error_of(lambda: s.quality.CreateEvaluation(request, metadata=SUP, timeout=T))
        assert e.code() == code
        assert (e.details() or "").startswith(field), e.details()
        assert _evaluations(s) == []


def test_only_supervisors_evaluate_and_report_requests_are_checked(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (_, s):
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "a1", wall)
        anna.close()
        for token in (ANNA, ADMIN, md("t-adapter"), md("t-crm")):
            e = error_of(lambda: evaluate(s, "a1", A1, token=token))  # noqa: B023
            assert e.code() == grpc.StatusCode.PERMISSION_DENIED
        # A live call may be evaluated (a supervisor listening in).
        assert evaluate(s, "a1", A1).evaluation.total == pytest.approx(A1_TOTAL)
        for fields, code, field in (
            ({"agent_ids": ["nobody"]}, grpc.StatusCode.NOT_FOUND, "agent_ids[0]"),
            ({"scorecard_id": "nope"}, grpc.StatusCode.NOT_FOUND, "scorecard_id"),
            ({"time_zone": "Mars/Olympus"}, grpc.StatusCode.INVALID_ARGUMENT, "time_zone"),
            ({"to_ms": PERIOD["from_ms"]}, grpc.StatusCode.INVALID_ARGUMENT, "to_ms"),
        ):
            e = error_of(lambda: _report(s, **fields))  # noqa: B023
            assert e.code() == code and field in (e.details() or ""), fields
        for fields, field in (
            ({"page_size": 1001}, "page_size"),
            ({"page_token": "x"}, "page_token"),
            ({"agent_id": "nobody"}, "agent_id"),
            ({"from_ms": -1}, "from_ms"),
        ):
            e = error_of(lambda: _evaluations(s, **fields))  # noqa: B023
            assert field in (e.details() or ""), fields
