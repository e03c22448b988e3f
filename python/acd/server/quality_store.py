"""Quality evaluations as stored: one row per evaluation in the journal's SQLite file, per
tenant like the contact history (export, import and delete carry them).

An evaluation keeps a copy of what it was scored against (each criterion's weight and scale),
so a scorecard changed or removed later leaves its evaluations and their totals as they were.
It names its contact by (call_id, enqueued_at) and carries the agent evaluated and the
contact's queue and arrival time, so the quality report reads evaluations alone.

The row is written like the history's rows: in the transaction of a journal entry (a
``svc:evaluation`` command, acd.server.quality), so it is committed exactly when the request
is acknowledged and never written twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

# One statement of a journal transaction (as history.Statement; this module is imported by the
# journal's schema, so it imports neither).
Statement = tuple[str, tuple[Any, ...]]
SCHEMA = """
CREATE TABLE IF NOT EXISTS evaluations (
    tenant TEXT NOT NULL,
    evaluation_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    enqueued_at INTEGER NOT NULL,
    agent_id TEXT NOT NULL,
    queue_id TEXT NOT NULL,
    scorecard_id TEXT NOT NULL,
    evaluator TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    total REAL NOT NULL,
    comment TEXT NOT NULL DEFAULT '',
    scores TEXT NOT NULL,
    PRIMARY KEY (tenant, evaluation_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS evaluations_by_start ON evaluations (tenant, enqueued_at);
CREATE INDEX IF NOT EXISTS evaluations_by_call ON evaluations (tenant, call_id);
"""
TABLE = "evaluations"


@dataclass(frozen=True, slots=True)
class Score:
    """One criterion of an evaluation: its score and the weight and scale it had then."""

    criterion_id: str
    score: int
    max_score: int
    weight: float
    comment: str = ""


@dataclass(frozen=True, slots=True)
class Evaluation:
    evaluation_id: str
    call_id: str
    enqueued_at: int  # of the contact evaluated
    agent_id: str
    queue_id: str
    scorecard_id: str
    evaluator: str  # the name of the supervisor's identity
    created_at: int
    scores: tuple[Score, ...]
    comment: str = ""

    @property
    def total(self) -> float:
        return weighted_total(self.scores)


def weighted_total(scores: Sequence[Score]) -> float:
    """``100 * sum(weight * score / max_score) / sum(weight)``: 0..100."""
    weights = sum(s.weight for s in scores)
    if weights <= 0:
        return 0.0
    return 100 * sum(s.weight * s.score / s.max_score for s in scores) / weights


_COLUMNS = (
    *("evaluation_id", "call_id", "enqueued_at", "agent_id", "queue_id", "scorecard_id"),
    *("evaluator", "created_at", "comment", "scores"),
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM evaluations"


def _scores_json(scores: Sequence[Score]) -> str:
    return json.dumps(
        [[s.criterion_id, s.score, s.max_score, s.weight, s.comment] for s in scores],
        ensure_ascii=False,
    )


def _evaluation(row: Sequence[Any]) -> Evaluation:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["scores"] = tuple(
        Score(str(c), int(score), int(top), float(weight), str(comment))
        for c, score, top, weight, comment in json.loads(values["scores"])
    )
    return Evaluation(**values)


def insert(tenant: str, e: Evaluation) -> Statement:
    """The row of a new evaluation (a repeat of its id changes nothing)."""
    return (
        "INSERT OR IGNORE INTO evaluations (tenant, evaluation_id, call_id, enqueued_at,"
        " agent_id, queue_id, scorecard_id, evaluator, created_at, total, comment, scores)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            *(tenant, e.evaluation_id, e.call_id, e.enqueued_at, e.agent_id, e.queue_id),
            *(e.scorecard_id, e.evaluator, e.created_at, e.total, e.comment),
            _scores_json(e.scores),
        ),
    )


class EvaluationStore:
    """Reads of one tenant's evaluations (through the history's read connection)."""

    def __init__(self, conn: sqlite3.Connection, tenant: str) -> None:
        self._conn = conn
        self.tenant = tenant

    def _rows(self, where: str, args: Sequence[Any]) -> Iterator[Evaluation]:
        sql = f"{_SELECT} WHERE tenant = ? AND {where}"
        for row in self._conn.execute(sql, (self.tenant, *args)):
            yield _evaluation(row)

    def get(self, evaluation_id: str) -> Evaluation | None:
        return next(self._rows("evaluation_id = ?", (evaluation_id,)), None)

    def page(
        self,
        start_ms: int,
        end_ms: int,
        agent_id: str | None,
        call_id: str | None,
        after: tuple[int, str] | None,
        limit: int,
    ) -> list[Evaluation]:
        """Up to ``limit`` evaluations of contacts that entered in [start_ms, end_ms) (of one
        agent, of one call, when given), by (enqueued_at, evaluation_id), after ``after``."""
        where = "enqueued_at >= ? AND enqueued_at < ?"
        args: list[Any] = [start_ms, end_ms]
        if agent_id is not None:
            where += " AND agent_id = ?"
            args.append(agent_id)
        if call_id is not None:
            where += " AND call_id = ?"
            args.append(call_id)
        if after is not None:
            where += " AND (enqueued_at, evaluation_id) > (?, ?)"
            args += after
        where += f" ORDER BY enqueued_at, evaluation_id LIMIT {int(limit)}"
        return list(self._rows(where, args))

    def between(
        self, start_ms: int, end_ms: int, agent_ids: Sequence[str], scorecard_id: str | None
    ) -> list[Evaluation]:
        """Every evaluation of the agents' contacts that entered in [start_ms, end_ms)
        (the quality report)."""
        marks = ", ".join("?" * len(agent_ids))
        where = f"enqueued_at >= ? AND enqueued_at < ? AND agent_id IN ({marks})"
        args: list[Any] = [start_ms, end_ms, *agent_ids]
        if scorecard_id is not None:
            where += " AND scorecard_id = ?"
            args.append(scorecard_id)
        return list(self._rows(where + " ORDER BY enqueued_at, evaluation_id", args))
