"""``acd report queues`` against a running service: CSV and table output of the same rows,
and its mistakes reported without a traceback."""

from __future__ import annotations

import csv
import datetime
import io
from pathlib import Path
from xml.etree import ElementTree

import pytest

from acd.cli import main
from acd.report_tables import QUEUE_COLUMNS
from acd.server.clock import Clock
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
    assert table[0].split() == list(QUEUE_COLUMNS)
    assert table[1].split()[:5] == [day, "00:00", "sales", "all", "1"]


def test_other_reports_and_charts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    wall = FakeWall(DAY + 3_600_000)  # Sunday 01:00 UTC
    with running(tmp_path, clock=Clock(wall)) as (server, s):
        enqueue(s, "r1", caller_number="+4930111", dialled_number="800-1")
        wall.ms += 3_000
        s.routing.CancelCall(routing_pb2.CancelCallRequest(call_id="r1"), metadata=md("t-adapter"))
        day = datetime.datetime.fromtimestamp(DAY / 1000, datetime.UTC).date().isoformat()
        base = ["report", "--target", server.address, "--token", "t-supervisor", "--from", day]

        def run(what: str, *extra: str) -> str:
            assert main([base[0], what, *base[1:], *extra]) == 0
            return capsys.readouterr().out

        heat_svg, agents_svg, queues_svg = (tmp_path / f"{n}.svg" for n in ("h", "a", "q"))
        heat = list(csv.DictReader(io.StringIO(run("heatmap", "--csv", "--svg", str(heat_svg)))))
        agents = list(csv.DictReader(io.StringIO(run("agents", "--csv", "--svg", str(agents_svg)))))
        campaigns = list(csv.DictReader(io.StringIO(run("campaigns", "--csv"))))
        cdrs = list(csv.DictReader(io.StringIO(run("cdrs", "--csv"))))
        run("queues", "--svg", str(queues_svg))
        with pytest.raises(SystemExit, match="--svg is for"):
            main([base[0], "campaigns", *base[1:], "--svg", str(tmp_path / "c.svg")])
    assert [r["day"] for r in heat] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert heat[6]["01"] == "1" and heat[0]["01"] == "0"
    assert {r["agent"] for r in agents} == {"anna", "ben"}
    assert all(float(r["logged-out_s"]) > 0 for r in agents)
    assert [(r["campaign"], r["offered"], r["abandoned"]) for r in campaigns] == [
        ("(none)", "1", "1")
    ]
    assert [(r["call_id"], r["outcome"], r["caller_number"]) for r in cdrs] == [
        ("r1", "abandoned", "+4930111")
    ]
    assert cdrs[0]["wait_ms"] == "3000" and cdrs[0]["ended_at"].startswith(day)
    rects = ElementTree.parse(heat_svg).getroot().findall("{http://www.w3.org/2000/svg}rect")
    assert len(rects) == 1 + 7 * 24  # the background and one cell per weekday x hour
    titles = [
        t.text for t in ElementTree.parse(agents_svg).getroot().iter() if t.tag.endswith("title")
    ]
    assert any(t and t.startswith("anna logged-out:") for t in titles)
    assert ElementTree.parse(queues_svg).getroot().tag.endswith("svg")
