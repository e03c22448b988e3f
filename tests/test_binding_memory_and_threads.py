"""The native router (``acd._core``) through Python: memory accounting and the GIL.

Every expected value here is worked out by hand from acd_core/ROUTING.md and DESIGN.md (and the
``_core.pyi`` docstrings), not recorded from a run.
"""

from __future__ import annotations

import gc
import sys
import threading
from typing import Any

import pytest

from acd import _core
from binding_helpers import make

# ---- memory and threads -----------------------------------------------------------------


def test_heap_bytes_grows_with_calls_and_shrinks_when_they_finish() -> None:
    # dedup_window_ms 0: finished ids are not remembered, so finishing frees everything.
    r = make(dedup_window_ms=0)
    gc.collect()  # no other router may be freed while this one is measured
    # The first round grows the router (call records, ids, places in line); finished calls
    # free their ids and records, while reusable buffers (event buffer, arenas, line heaps)
    # keep their capacity. So the second round, on sized buffers, must end where it started.
    for round_ in range(2):
        base = _core.heap_bytes()
        for i in range(2_000):
            r.enqueue(f"call-{round_}-{i:06d}", "q", 10_000 * round_ + i)
        r.drain()
        grown = _core.heap_bytes()
        if round_ == 0:
            assert grown > base + 2_000 * 100  # each waiting call: id, record, wait entry
        for i in range(2_000):
            r.abandon(f"call-{round_}-{i:06d}", 10_000 * round_ + 3_000)
        r.drain()
        shrunk = _core.heap_bytes()
        assert r.waiting_count() == 0
    assert grown > base + 2_000 * 32  # the second round's ids and timers
    assert shrunk <= base + 4_096  # nothing per call is left behind


def ran_beside(batch: list[tuple[Any, ...]]) -> bool:
    """Whether another thread ran Python code while ``apply_batch(batch)`` was running.

    The caller sets a switch interval far longer than the test: the main thread then gives
    the GIL away only when it blocks or releases it itself. The other thread is let go just
    before the batch; it has finished its Python step when the batch returns only if the
    batch released the GIL.
    """
    r = make([{"id": "q", "wrapup_ms": 0}], dedup_window_ms=0)
    waiting, go = threading.Event(), threading.Event()
    done: list[int] = []

    def other() -> None:
        waiting.set()
        go.wait()
        done.append(sum(range(100)))  # Python work: needs the GIL

    thread = threading.Thread(target=other)
    thread.start()
    waiting.wait()
    go.set()
    r.apply_batch(batch)
    ran = bool(done)
    thread.join()
    assert done == [4950]
    return ran


def test_apply_batch_releases_the_gil() -> None:
    """No timing involved: a batch too short for the other thread to be scheduled in is
    retried with a longer one (a batch that kept the GIL would fail every time)."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        for attempt in range(6):
            batch: list[tuple[Any, ...]] = [("login", "a1", 0), ("ready", "a1", 0)]
            for i in range(20_000 * 2**attempt):
                batch += [("enqueue", f"c{i}", "q", i, 0), ("abandon", f"c{i}", i)]
            if ran_beside(batch):
                return
    finally:
        sys.setswitchinterval(old)
    pytest.fail("no other thread ran while apply_batch was running")
