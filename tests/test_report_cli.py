"""``acd report queues`` against a running service: CSV and table output of the same rows,
and its mistakes reported without a traceback."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path

import pytest

from acd.cli import main
from acd.report_cli import COLUMNS
from acd.server.tenant import Clock
from acd.v1 import routing_pb2
from server_helpers import md, running
from test_server_lifecycle import enqueue
from test_server_queue_kpis import DAY, FakeWall


def test_report_queues_as_csv_and_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wall = FakeWall(DAY + 3_600_000)  # 01:00 UTC
    with running(tmp_path, clock=Clock(wall)) as (server, s):
        enqueue(s, "r1")
        wall.ms += 3_000
        s.routing.CancelCall(routing_pb2.CancelCallRequest(call_id="r1"), metadata=md("t-adapter"))
        enqueue(s, "r2", queue="support")
        day = datetime.datetime.fromtimestamp(DAY / 1000, datetime.UTC).date().isoformat()
        args = ["report", "queues", "--target", server.address, "--token", "t-supervisor"]
        args += ["--from", day, "--interval", "day"]
        assert main([*args, "--csv"]) == 0
        rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
        assert main(args) == 0
        table = capsys.readouterr().out.splitlines()
        with pytest.raises(SystemExit, match="PERMISSION_DENIED"):
            main([*args[:5], "t-anna", *args[6:]])
        with pytest.raises(SystemExit, match="time zone"):
            main([*args, "--tz", "Nowhere/Else"])
    assert [(r["queue"], r["offered"], r["abandoned"], r["waiting"]) for r in rows] == [
        ("sales", "1", "1", "0"),
        ("support", "1", "0", "1"),
    ]
    assert rows[0]["interval"] == f"{day} 00:00" and rows[0]["short_abandoned"] == "1"
    assert rows[0]["asa_s"] == "" and rows[0]["awt_s"] == "3"
    assert table[0].split() == list(COLUMNS)
    assert table[1].split()[:5] == [day, "00:00", "sales", "all", "1"]
