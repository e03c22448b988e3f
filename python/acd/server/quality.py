"""Quality evaluation: a supervisor scores a call against one of the tenant's scorecards
(config_quality); the service checks the scores and computes the weighted total.

Checks, each refusal naming the request field: the scorecard exists (NOT_FOUND
``scorecard_id``), the call has a contact (NOT_FOUND ``call_id``) that an agent answered
(FAILED_PRECONDITION ``call_id``) or the request names the agent (NOT_FOUND ``agent_id`` for
one the tenant does not have); every criterion of the scorecard is scored exactly once
(INVALID_ARGUMENT ``scores``, ``scores[i].criterion_id`` for an unknown or repeated one) with
an integer in 0..its max_score (``scores[i].score``); comments are bounded.

The evaluation is stored (acd.server.quality_store) in the transaction of the journal entry of
a ``("svc:evaluation", evaluation_id, call_id, now)`` command, like the history's rows, so it
is committed when the supervisor is told and survives a restart. A caller-chosen
``evaluation_id`` makes a retry safe: the same id again gives the evaluation made first.
"""

from __future__ import annotations

import secrets

import grpc

from acd.server.auth import Identity
from acd.server.commands import Refusal
from acd.server.config_quality import Scorecard
from acd.server.history import Contact
from acd.server.quality_store import Evaluation, Score, insert
from acd.server.service_base import invalid, known_agent, not_found, require_id, valid_id
from acd.server.tenant import Tenant
from acd.v1 import quality_pb2

MAX_CRITERION_COMMENT_CHARS = 2000
MAX_COMMENT_CHARS = 4000


def scorecard_message(s: Scorecard) -> quality_pb2.Scorecard:
    return quality_pb2.Scorecard(
        scorecard_id=s.id,
        name=s.name,
        criteria=[
            quality_pb2.Criterion(
                criterion_id=c.id, name=c.name, weight=c.weight, max_score=c.max_score
            )
            for c in s.criteria
        ],
    )


def evaluation_message(e: Evaluation) -> quality_pb2.Evaluation:
    return quality_pb2.Evaluation(
        evaluation_id=e.evaluation_id,
        call_id=e.call_id,
        agent_id=e.agent_id,
        queue_id=e.queue_id,
        enqueued_at_ms=e.enqueued_at,
        scorecard_id=e.scorecard_id,
        evaluator=e.evaluator,
        created_at_ms=e.created_at,
        scores=[
            quality_pb2.CriterionScore(
                criterion_id=s.criterion_id,
                score=s.score,
                comment=s.comment,
                max_score=s.max_score,
                weight=s.weight,
            )
            for s in e.scores
        ],
        comment=e.comment,
        total=e.total,
    )


def _scores(scorecard: Scorecard, given: list[quality_pb2.CriterionScore]) -> tuple[Score, ...]:
    """The scores in the scorecard's order, each checked."""
    by_criterion: dict[str, Score] = {}
    for i, s in enumerate(given):
        field = f"scores[{i}]"
        criterion = scorecard.criterion(s.criterion_id)
        if criterion is None:
            known = ", ".join(c.id for c in scorecard.criteria)
            raise invalid(
                f"{field}.criterion_id",
                f"unknown criterion {s.criterion_id!r} of scorecard {scorecard.id!r}"
                f" (known: {known})",
            )
        if criterion.id in by_criterion:
            raise invalid(f"{field}.criterion_id", f"criterion {criterion.id!r} scored twice")
        if not 0 <= s.score <= criterion.max_score:
            raise invalid(
                f"{field}.score",
                f"{s.score} is outside 0..{criterion.max_score} for criterion {criterion.id!r}",
            )
        if len(s.comment) > MAX_CRITERION_COMMENT_CHARS:
            raise invalid(f"{field}.comment", f"at most {MAX_CRITERION_COMMENT_CHARS} characters")
        by_criterion[criterion.id] = Score(
            criterion.id, s.score, criterion.max_score, criterion.weight, s.comment
        )
    missing = [c.id for c in scorecard.criteria if c.id not in by_criterion]
    if missing:
        raise invalid("scores", f"criteria not scored: {', '.join(missing)}")
    return tuple(by_criterion[c.id] for c in scorecard.criteria)


def _contact(tenant: Tenant, request: quality_pb2.CreateEvaluationRequest) -> tuple[Contact, str]:
    """The contact evaluated and the agent evaluated."""
    call_id = require_id(request.call_id, "call_id")
    contact = tenant.contacts.contact(call_id)
    if contact is None:
        raise not_found("call_id", call_id, "call")
    if request.agent_id:
        known_agent(tenant, request.agent_id)
        return contact, request.agent_id
    if not contact.agent_id:
        raise Refusal(
            grpc.StatusCode.FAILED_PRECONDITION,
            f"call_id {call_id!r}: no agent answered this call (name one in agent_id)",
            "call_id",
        )
    return contact, contact.agent_id


async def create(
    tenant: Tenant, who: Identity, request: quality_pb2.CreateEvaluationRequest
) -> tuple[Evaluation, bool]:
    """Checks and stores an evaluation; gives it and whether it is new."""
    evaluation_id = request.evaluation_id
    if evaluation_id and not valid_id(evaluation_id):
        raise invalid("evaluation_id", "must be 1..256 characters without control characters")
    scorecard_id = require_id(request.scorecard_id, "scorecard_id")
    scorecard = tenant.config.quality.scorecard(scorecard_id)
    if scorecard is None:
        raise not_found("scorecard_id", scorecard_id, "scorecard")
    contact, agent_id = _contact(tenant, request)
    scores = _scores(scorecard, list(request.scores))
    if len(request.comment) > MAX_COMMENT_CHARS:
        raise invalid("comment", f"at most {MAX_COMMENT_CHARS} characters")
    store = tenant.contacts.store.evaluations()
    if evaluation_id:
        before = store.get(evaluation_id)
        if before is not None:
            return _repeat(before, contact)
    else:
        evaluation_id = "ev-" + secrets.token_hex(8)
    now = tenant.clock.now()
    evaluation = Evaluation(
        evaluation_id=evaluation_id,
        call_id=contact.call_id,
        enqueued_at=contact.enqueued_at,
        agent_id=agent_id,
        queue_id=contact.queue_id,
        scorecard_id=scorecard.id,
        evaluator=who.name,
        created_at=now,
        scores=scores,
        comment=request.comment,
    )
    tenant.contacts.add_statement(insert(tenant.id, evaluation))
    await tenant.execute([], [("svc:evaluation", evaluation_id, contact.call_id, now)])
    stored = store.get(evaluation_id)  # committed; a concurrent repeat of the id may have won
    if stored is None or stored == evaluation:
        return evaluation, True
    return _repeat(stored, contact)


def _repeat(before: Evaluation, contact: Contact) -> tuple[Evaluation, bool]:
    if before.call_id != contact.call_id:
        raise Refusal(
            grpc.StatusCode.ALREADY_EXISTS,
            f"evaluation_id {before.evaluation_id!r}: already names an evaluation of another call",
            "evaluation_id",
        )
    return before, False
