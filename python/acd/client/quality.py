"""QualityService: recordings (adapter attaches; supervisor, or an agent for its own calls,
reads) and evaluations (supervisor scores; an agent reads its own)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from acd.client.connection import Connection
from acd.v1 import quality_pb2

# criterion id -> score, or (score, comment)
Scores = Mapping[str, int | tuple[int, str]]


def _scores(scores: Scores) -> list[quality_pb2.CriterionScore]:
    out = []
    for criterion_id, value in scores.items():
        score, comment = value if isinstance(value, tuple) else (value, "")
        out.append(
            quality_pb2.CriterionScore(criterion_id=criterion_id, score=score, comment=comment)
        )
    return out


class QualityMethods(Connection):
    async def attach_recording(self, call_id: str, reference: str) -> quality_pb2.Recording:
        """Attaches a recording reference (a URL or an absolute path) to a call, live or
        finished; the same reference again is a no-op."""
        request = quality_pb2.AttachRecordingRequest(call_id=call_id, reference=reference)
        return (await self._unary(self._quality.AttachRecording, request)).recording

    async def get_recording(self, call_id: str) -> quality_pb2.Recording:
        """The recording of a call (an agent: of its own calls only)."""
        request = quality_pb2.GetRecordingRequest(call_id=call_id)
        return (await self._unary(self._quality.GetRecording, request)).recording

    async def list_recordings(
        self, from_ms: int, to_ms: int, *, agent_id: str = "", page_size: int = 0
    ) -> list[quality_pb2.Recording]:
        """Every recording of calls that arrived in [from_ms, to_ms), all pages."""
        request = quality_pb2.ListRecordingsRequest(
            from_ms=from_ms, to_ms=to_ms, agent_id=agent_id, page_size=page_size
        )
        return [r async for r in self._pages(self._quality.ListRecordings, request, "recordings")]

    async def list_scorecards(self) -> list[quality_pb2.Scorecard]:
        """The tenant's scorecards."""
        request = quality_pb2.ListScorecardsRequest()
        return list((await self._unary(self._quality.ListScorecards, request)).scorecards)

    async def create_evaluation(
        self,
        call_id: str,
        scorecard_id: str,
        scores: Scores,
        *,
        comment: str = "",
        agent_id: str = "",
        evaluation_id: str = "",
    ) -> quality_pb2.Evaluation:
        """Scores a call against a scorecard (every criterion once); the service computes the
        weighted total. ``evaluation_id`` makes a retry safe."""
        request = quality_pb2.CreateEvaluationRequest(
            call_id=call_id,
            scorecard_id=scorecard_id,
            scores=_scores(scores),
            comment=comment,
            agent_id=agent_id,
            evaluation_id=evaluation_id,
        )
        return (await self._unary(self._quality.CreateEvaluation, request)).evaluation

    async def get_evaluation(self, evaluation_id: str) -> quality_pb2.Evaluation:
        request = quality_pb2.GetEvaluationRequest(evaluation_id=evaluation_id)
        return (await self._unary(self._quality.GetEvaluation, request)).evaluation

    async def list_evaluations(
        self,
        from_ms: int,
        to_ms: int,
        *,
        agent_id: str = "",
        call_id: str = "",
        page_size: int = 0,
    ) -> list[quality_pb2.Evaluation]:
        """Every evaluation of calls that arrived in [from_ms, to_ms), all pages."""
        request = quality_pb2.ListEvaluationsRequest(
            from_ms=from_ms, to_ms=to_ms, agent_id=agent_id, call_id=call_id, page_size=page_size
        )
        method = self._quality.ListEvaluations
        return [e async for e in self._pages(method, request, "evaluations")]

    async def _pages(self, method: Any, request: Any, field: str) -> AsyncIterator[Any]:
        """The items in ``field`` of every page of a listing, following next_page_token."""
        for _ in range(1_000_000):  # bounded: each page moves the key forward
            response = await self._unary(method, request)
            for item in getattr(response, field):
                yield item
            if not response.next_page_token:
                return
            request.page_token = response.next_page_token
