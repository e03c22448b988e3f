"""acd.client's QualityService methods against an in-process service: the adapter attaches,
the supervisor lists (every page) and evaluates, an agent reads its own and not another's."""

from __future__ import annotations

import asyncio
from pathlib import Path

import grpc
import pytest

from acd.client import ServiceError, connect
from acd.client.quality import Scores
from acd.server.clock import Clock
from acd.v1 import quality_pb2
from quality_helpers import (
    MONDAY_10,
    FakeWall,
    answered_call,
    config,
    finish,
    login_ready,
)
from server_helpers import md, running

FROM, TO = MONDAY_10 - 1, MONDAY_10 + 86_400_000


def test_the_client_attaches_lists_evaluates_and_reads(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (server, s):
        anna = login_ready(s, "anna")
        for call_id in ("c1", "c2"):
            answered_call(s, anna, "anna", call_id, wall)
            finish(s, "anna", call_id, wall)
        anna.close()

        async def scenario() -> None:
            async with connect(server.address, "t-adapter") as adapter:
                attached = await adapter.attach_recording("c1", "https://rec.test/c1.wav")
                assert (attached.call_id, attached.agent_id) == ("c1", "anna")
                await adapter.attach_recording("c2", "/rec/c2.wav")
                sup = adapter.with_token("t-supervisor")
                recordings = await sup.list_recordings(FROM, TO, page_size=1)  # two pages
                assert [r.reference for r in recordings] == [
                    "https://rec.test/c1.wav",
                    "/rec/c2.wav",
                ]
                (voice, _) = await sup.list_scorecards()
                assert [c.criterion_id for c in voice.criteria] == [
                    "greeting",
                    "empathy",
                    "resolution",
                ]
                scores: Scores = {"greeting": (4, "warm"), "empathy": 5, "resolution": 7}
                made = await sup.create_evaluation("c1", "voice", scores, evaluation_id="x1")
                assert made.total == pytest.approx(490 / 6)
                assert made.scores[0].comment == "warm"
                await sup.create_evaluation(
                    "c2", "voice", {"greeting": 5, "empathy": 5, "resolution": 10}
                )
                listed = await sup.list_evaluations(FROM, TO, page_size=1)
                assert [e.call_id for e in listed] == ["c1", "c2"]
                anna_client = adapter.with_token("t-anna")
                assert (await anna_client.get_recording("c1")).reference.endswith("c1.wav")
                assert (await anna_client.get_evaluation("x1")).total == made.total
                ben = adapter.with_token("t-ben")
                with pytest.raises(ServiceError) as refused:
                    await ben.get_recording("c1")
                assert refused.value.code is grpc.StatusCode.NOT_FOUND
                assert await ben.list_evaluations(FROM, TO) == []

        asyncio.run(scenario())


def test_concurrent_repeats_of_an_attach_change_it_once(tmp_path: Path) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (server, s):
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "c1", wall)
        anna.close()

        async def repeats() -> list[bool]:
            async with connect(server.address, "t-adapter") as adapter:
                request = quality_pb2.AttachRecordingRequest(call_id="c1", reference="/rec/c1.wav")
                calls = [adapter._quality.AttachRecording(request, metadata=adapter.metadata)]
                calls += [adapter._quality.AttachRecording(request, metadata=adapter.metadata)]
                return [r.changed for r in await asyncio.gather(*calls)]

        assert sorted(asyncio.run(repeats())) == [False, True]
    with running(tmp_path, config(), clock=Clock(wall)) as (server, s):
        got = s.quality.GetRecording(
            quality_pb2.GetRecordingRequest(call_id="c1"), metadata=md("t-supervisor")
        )
        assert got.recording.reference == "/rec/c1.wav"
