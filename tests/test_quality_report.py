"""acd.server.quality_report and quality_store.weighted_total on evaluations built by hand: the
figures per interval x agent x scorecard, a scale changed within the period, the order."""

from __future__ import annotations

import datetime

import pytest

from acd.server.quality_report import quality_report
from acd.server.quality_store import Evaluation, Score, weighted_total

H = 3_600_000
DAY = 1_740_787_200_000  # 2025-03-01 00:00 UTC


def _e(evaluation_id: str, agent: str, at: int, *scores: Score, card: str = "voice") -> Evaluation:
    return Evaluation(
        evaluation_id, f"call-{evaluation_id}", at, agent, "sales", card, "sup", at, scores
    )


def test_weighted_total() -> None:
    # 100 * (1 * 4/5 + 3 * 7/10) / 4 = 72.5
    assert weighted_total([Score("g", 4, 5, 1.0), Score("r", 7, 10, 3.0)]) == pytest.approx(72.5)
    assert weighted_total([Score("g", 0, 5, 2.0)]) == 0.0
    assert weighted_total([Score("g", 5, 5, 0.5), Score("r", 10, 10, 0.5)]) == 100.0
    assert weighted_total([]) == 0.0


def test_rows_per_interval_agent_and_scorecard() -> None:
    evaluations = [
        # ben first in the agents' order, though his evaluation came later
        _e("1", "anna", DAY + 1 * H, Score("g", 4, 5, 1.0), Score("r", 6, 10, 1.0)),  # 70
        _e("2", "anna", DAY + 2 * H, Score("g", 2, 5, 1.0), Score("r", 10, 10, 1.0)),  # 70
        # the scorecard's scale for g went from 5 to 10 in the period
        _e("3", "anna", DAY + 3 * H, Score("g", 10, 10, 1.0), Score("r", 4, 10, 1.0)),  # 70
        _e("4", "ben", DAY + 2 * H, Score("t", 3, 5, 1.0), card="short"),  # 60
        _e("5", "ben", DAY + 26 * H, Score("t", 5, 5, 1.0), card="short"),  # the next day
        _e("6", "carl", DAY - 1, Score("t", 5, 5, 1.0), card="short"),  # before the period
    ]
    rows = quality_report(evaluations, DAY, DAY + 48 * H, "period", datetime.UTC, ["ben", "anna"])
    assert [(r.agent_id, r.scorecard_id, r.evaluations) for r in rows] == [
        ("ben", "short", 2),
        ("anna", "voice", 3),
    ]
    ben, anna = rows
    assert (ben.mean_total, ben.min_total, ben.max_total) == pytest.approx((80.0, 60.0, 100.0))
    assert anna.mean_total == pytest.approx(70.0)
    g, r = anna.criteria
    assert g.criterion_id == "g" and g.mean_score == pytest.approx(16 / 3)  # (4 + 2 + 10) / 3
    assert g.mean_percent == pytest.approx(100 * (0.8 + 0.4 + 1.0) / 3)  # 73.33: the fair one
    assert (r.criterion_id, r.mean_score) == ("r", 20 / 3)
    assert r.mean_percent == pytest.approx(200 / 3)
    by_day = quality_report(evaluations, DAY, DAY + 48 * H, "day", datetime.UTC, ["anna", "ben"])
    assert [(r.start_ms, r.agent_id, r.evaluations) for r in by_day] == [
        (DAY, "anna", 3),
        (DAY, "ben", 1),
        (DAY + 24 * H, "ben", 1),
    ]
    # An agent outside the order (removed from the config since) comes after, by id.
    late = quality_report(evaluations, DAY - H, DAY, "period", datetime.UTC, ["anna"])
    assert [(r.agent_id, r.evaluations) for r in late] == [("carl", 1)]
    with pytest.raises(ValueError, match="after its start"):
        quality_report(evaluations, DAY, DAY, "period", datetime.UTC, [])
