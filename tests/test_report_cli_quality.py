"""``acd report quality`` and the CDR's routing, transfer and recording columns of ``acd report
cdrs`` against a running service, as CSV and as a table."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from acd.cli import main
from acd.report_tables import QUALITY_COLUMNS
from acd.server.clock import Clock
from quality_helpers import (
    MONDAY_10,
    FakeWall,
    answered_call,
    attach,
    config,
    evaluate,
    login_ready,
    transfer,
)
from server_helpers import running

DAY = "2025-03-03"  # MONDAY_10's day


def test_quality_and_cdr_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wall = FakeWall(MONDAY_10)
    with running(tmp_path, config(), clock=Clock(wall)) as (server, s):
        anna = login_ready(s, "anna")
        answered_call(s, anna, "anna", "c1", wall)
        attach(s, "c1", "https://rec.test/c1.wav")
        wall.ms += 20_000
        transfer(s, "c1", destination="+4940999")
        anna.close()
        evaluate(s, "c1", {"greeting": 4, "empathy": 5, "resolution": 7})  # 490 / 6
        evaluate(s, "c1", {"greeting": 2, "empathy": 3, "resolution": 10})  # 460 / 6
        base = ["report", "--target", server.address, "--token", "t-supervisor", "--from", DAY]

        def run(what: str, *extra: str) -> str:
            assert main([base[0], what, *base[1:], *extra]) == 0
            return capsys.readouterr().out

        cdrs = list(csv.DictReader(io.StringIO(run("cdrs", "--csv"))))
        quality = list(csv.DictReader(io.StringIO(run("quality", "--csv"))))
        table = run("quality").splitlines()
        by_hour = list(csv.DictReader(io.StringIO(run("quality", "--csv", "--interval", "hour"))))
        assert run("quality", "--csv", "--agent", "ben").splitlines() == [",".join(QUALITY_COLUMNS)]
        with pytest.raises(SystemExit, match="NOT_FOUND: scorecard_id"):
            main([base[0], "quality", *base[1:], "--scorecard", "nope"])
    (c1,) = cdrs
    assert (c1["call_id"], c1["outcome"], c1["agent_id"]) == ("c1", "transferred-out", "anna")
    assert c1["routing_rule"] == "longest-idle" and c1["routing_detail"].startswith("step=0 ")
    assert (c1["transfer_count"], c1["transfers"]) == ("1", "destination:+4940999")
    assert c1["recording"] == "https://rec.test/c1.wav"
    (row,) = quality
    assert (row["interval"], row["agent"], row["scorecard"]) == (f"{DAY} 00:00", "anna", "voice")
    assert (row["evaluations"], row["mean_total"]) == ("2", "79.167")  # (81.667 + 76.667) / 2
    assert (row["min_total"], row["max_total"]) == ("76.667", "81.667")
    assert row["criteria"] == "greeting=3 empathy=4 resolution=8.5"
    assert table[0].split() == list(QUALITY_COLUMNS)
    assert table[1].split()[:6] == [DAY, "00:00", "anna", "voice", "2", "79.167"]
    assert [r["interval"] for r in by_hour] == [f"{DAY} 09:00"]  # MONDAY_10 is 09:00 UTC
