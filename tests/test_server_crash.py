"""The service killed (SIGKILL) under traffic, three times, restarted on the same data dir each
time: nothing acknowledged is lost or doubled, no agent holds two offers, the journal replays.
``make crash-test`` runs the same driver (tests/crash_driver.py) for many more cycles.

The kill times come from a seed, printed here; ACD_CRASH_SEED=<seed> repeats them (the traffic
itself depends on timing, so a failure may need a few runs to show again).
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from crash_driver import run_cycles

CYCLES = 3


def test_kill_under_traffic_loses_and_doubles_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("ACD_CRASH_SEED") or random.randrange(2**32))
    print(f"crash test seed {seed} (ACD_CRASH_SEED={seed} repeats the kill times)")
    report = run_cycles(tmp_path, CYCLES, seed)
    summary = report.line(seed)
    assert report.cycles == CYCLES, summary
    assert report.acknowledged > 0, summary
    assert not report.problems, (summary, report.problems)
    assert not report.double_offers, (summary, report.double_offers)
    assert not report.lost, (summary, sorted(report.lost))
    assert not report.duplicated, (summary, sorted(report.duplicated))
