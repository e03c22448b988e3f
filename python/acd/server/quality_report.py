"""The quality report: evaluations per interval x agent x scorecard, from the stored
evaluations (acd.server.quality_store).

An evaluation counts in the interval its call arrived in (like every report here: a contact
belongs where it entered a queue), whenever it was made. Per row: how many evaluations, the
mean, lowest and highest weighted total (0..100), and per criterion the mean score on its
scale and the mean of score / max_score as a percentage (the one to compare when a scorecard's
scale changed in the period). Criteria are listed in the order the evaluations name them.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass

from acd.server.quality_store import Evaluation
from acd.server.reports import bucket_start


@dataclass(frozen=True, slots=True)
class CriterionMean:
    criterion_id: str
    mean_score: float
    mean_percent: float


@dataclass(frozen=True, slots=True)
class QualityRow:
    start_ms: int
    agent_id: str
    scorecard_id: str
    evaluations: int
    mean_total: float
    min_total: float
    max_total: float
    criteria: tuple[CriterionMean, ...]


def _row(start_ms: int, agent_id: str, scorecard_id: str, group: list[Evaluation]) -> QualityRow:
    totals = [e.total for e in group]
    scores: dict[str, list[tuple[int, int]]] = {}
    for e in group:
        for s in e.scores:
            scores.setdefault(s.criterion_id, []).append((s.score, s.max_score))
    criteria = tuple(
        CriterionMean(
            criterion_id,
            sum(score for score, _ in pairs) / len(pairs),
            100 * sum(score / top for score, top in pairs) / len(pairs),
        )
        for criterion_id, pairs in scores.items()
    )
    return QualityRow(
        start_ms=start_ms,
        agent_id=agent_id,
        scorecard_id=scorecard_id,
        evaluations=len(group),
        mean_total=sum(totals) / len(totals),
        min_total=min(totals),
        max_total=max(totals),
        criteria=criteria,
    )


def quality_report(
    evaluations: Iterable[Evaluation],
    start_ms: int,
    end_ms: int,
    interval: str,
    zone: datetime.tzinfo,
    agent_order: list[str],
) -> list[QualityRow]:
    """The rows for the evaluations of calls that arrived in [start_ms, end_ms), by interval,
    then agent (in ``agent_order``; others after, by id), then scorecard."""
    if end_ms <= start_ms:
        raise ValueError("the period's end must be after its start")
    groups: dict[tuple[int, str, str], list[Evaluation]] = {}
    for e in evaluations:
        if not start_ms <= e.enqueued_at < end_ms:
            continue
        bucket = bucket_start(e.enqueued_at, interval, zone, start_ms)
        groups.setdefault((bucket, e.agent_id, e.scorecard_id), []).append(e)
    rank = {agent_id: i for i, agent_id in enumerate(agent_order)}

    def order(key: tuple[int, str, str]) -> tuple[int, int, str, str]:
        start, agent_id, scorecard_id = key
        return start, rank.get(agent_id, len(rank)), agent_id, scorecard_id

    return [_row(*key, groups[key]) for key in sorted(groups, key=order)]
