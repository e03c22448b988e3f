"""The native router (``acd._core``) through Python: snapshots.

Every expected value here is worked out by hand from acd_core/ROUTING.md and DESIGN.md (and the
``_core.pyi`` docstrings), not recorded from a run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from acd._core import InvalidArgumentError, Router
from binding_helpers import AFTERNOON, MORNING, STATS_CONFIG, make, play

# ---- snapshots --------------------------------------------------------------------------


def test_a_restored_snapshot_continues_identically() -> None:
    original = Router(json.dumps(STATS_CONFIG))
    play(original, MORNING)
    data = original.snapshot()
    restored = Router.from_snapshot(data)
    assert restored.snapshot() == data
    assert [e.as_tuple() for e in restored.drain()] == [e.as_tuple() for e in original.drain()]
    assert restored.poll_timeout() == original.poll_timeout()
    for r in (original, restored):
        play(r, AFTERNOON)
        r.enqueue("c1", "sales", 1_000_600)  # finished ids are remembered across the restore
    assert original.enqueue("c1", "sales", 1_000_600) is False
    assert restored.enqueue("c1", "sales", 1_000_600) is False
    assert [e.as_tuple() for e in restored.drain()] == [e.as_tuple() for e in original.drain()]
    assert restored.interval_stats("sales") == original.interval_stats("sales")
    assert restored.agent_time_stats() == original.agent_time_stats()
    assert restored.snapshot() == original.snapshot()


# MORNING's snapshot as the build of commit 200c129 wrote it, before event ids, reasons and
# caller numbers changed type in the core: the layout service data directories hold. A layout
# change must bump the snapshot version (then this file is refused, and is made again from a
# build with the new layout).
V1_MORNING = Path(__file__).parent / "data" / "snapshot_v1_morning.bin"


def test_a_snapshot_of_an_earlier_build_restores_and_this_build_writes_the_same() -> None:
    data = V1_MORNING.read_bytes()
    restored = Router.from_snapshot(data)
    assert restored.snapshot() == data
    original = Router(json.dumps(STATS_CONFIG))
    play(original, MORNING)
    assert original.snapshot() == data
    c2 = restored.call_info("c2")
    assert c2 is not None and c2["caller"] == "+4930123"
    assert restored.agent_info("a3")["reason"] == "logout"
    assert [e.as_tuple() for e in restored.drain()] == [e.as_tuple() for e in original.drain()]
    for r in (original, restored):
        play(r, AFTERNOON)
    assert [e.as_tuple() for e in restored.drain()] == [e.as_tuple() for e in original.drain()]
    assert restored.snapshot() == original.snapshot()


def test_a_restored_snapshot_keeps_the_clock() -> None:
    r = make()
    r.login("a1", 500)
    restored = Router.from_snapshot(r.snapshot())
    with pytest.raises(InvalidArgumentError) as info:
        restored.set_ready("a1", 499)
    assert str(info.value) == "now_ms: time went backwards (499 < 500)"


@pytest.mark.parametrize(
    "data",
    [b"", b"garbage", b"\x01\x00\x00", b"\x02\x00\x00\x00" + b"\x00" * 64],
)
def test_from_snapshot_refuses_what_is_not_a_snapshot(data: bytes) -> None:
    with pytest.raises(InvalidArgumentError) as info:
        Router.from_snapshot(data)
    assert str(info.value) == "snapshot: not a version 1 router snapshot"


def test_from_snapshot_refuses_a_truncated_snapshot() -> None:
    r = Router(json.dumps(STATS_CONFIG))
    play(r, MORNING)
    data = r.snapshot()
    for cut in (4, 5, len(data) // 2, len(data) - 1):
        with pytest.raises(InvalidArgumentError) as info:
            Router.from_snapshot(data[:cut])
        assert str(info.value).startswith("snapshot: ")
