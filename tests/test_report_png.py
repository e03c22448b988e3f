"""The PNG charts of ``acd report``: what their pixels say about small, fixed data sets, the
labels really drawn (a missing font would leave them out silently), and the command line's
``--png`` with its mistakes reported without a traceback.

Where to look in a PNG comes from the SVG it was made from (the <rect> of a cell or bar, the
points of the SL line); what is there is read from the pixels and compared with the data.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterator
from pathlib import Path
from xml.etree import ElementTree

import pytest
from PIL import Image

from acd import report_png, report_svg
from acd.cli import main
from acd.server.clock import Clock
from report_figures import make_figures
from server_helpers import running
from test_server_lifecycle import enqueue
from test_server_queue_kpis import DAY, FakeWall

SVG = "{http://www.w3.org/2000/svg}"
WHITE = (255, 255, 255)
BAR = (0x90, 0xCA, 0xF9)
Pixels = dict[tuple[int, int], tuple[int, int, int]]


def rendered(svg: str) -> tuple[Image.Image, ElementTree.Element]:
    png = report_png.svg_to_png(svg)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    root = ElementTree.fromstring(svg)
    assert image.size == (int(root.attrib["width"]), int(root.attrib["height"]))
    return image.convert("RGB"), root


def titled(root: ElementTree.Element) -> Iterator[tuple[str, ElementTree.Element]]:
    """Each <rect> that has a <title>, with the title's text."""
    for rect in root.iter(f"{SVG}rect"):
        title = rect.find(f"{SVG}title")
        if title is not None and title.text:
            yield title.text, rect


def box(rect: ElementTree.Element) -> tuple[float, float, float, float]:
    a = rect.attrib
    return float(a["x"]), float(a["y"]), float(a["width"]), float(a["height"])


def pixel(image: Image.Image, x: float, y: float) -> tuple[int, int, int]:
    value = image.getpixel((round(x), round(y)))
    assert isinstance(value, tuple)
    return value[0], value[1], value[2]


def near(a: tuple[int, int, int], b: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(p - q) <= tolerance for p, q in zip(a, b, strict=True))


def dark_pixels(image: Image.Image, left: int, top: int, right: int, bottom: int) -> int:
    return sum(
        1
        for x in range(left, right)
        for y in range(top, bottom)
        if sum(pixel(image, x, y)) < 3 * 128
    )


def test_heatmap_darkest_cell_is_the_busiest_and_empty_cells_are_background() -> None:
    counts = {(0, 9): 12, (0, 10): 6, (2, 14): 3, (5, 11): 1}
    image, root = rendered(report_svg.heatmap(counts, "Contacts by hour"))
    corner: dict[tuple[str, int], tuple[int, int, int]] = {}
    for title, rect in titled(root):
        day_hour = title.partition(": ")[0]
        day, hour = day_hour.split()
        x, y, _, _ = box(rect)
        corner[(day, int(hour.removesuffix(":00")))] = pixel(image, x + 2, y + 2)  # no text
    assert len(corner) == 7 * 24
    background = pixel(image, 2, image.height - 2)
    assert background == WHITE
    assert corner[("Mon", 9)] == (55, 55, 255)  # the peak: the darkest shade
    assert corner[("Mon", 10)] == (155, 155, 255)  # half the peak: half way to white
    assert min(corner, key=lambda k: sum(corner[k])) == ("Mon", 9)
    assert sum(corner[("Wed", 14)]) > sum(corner[("Mon", 10)]) > sum(corner[("Mon", 9)])
    assert corner[("Sun", 3)] == background and corner[("Tue", 9)] == background
    busy = {k for k, colour in corner.items() if colour != background}
    assert busy == {("Mon", 9), ("Mon", 10), ("Wed", 14), ("Sat", 11)}


def test_labels_are_drawn() -> None:
    counts = {(0, 9): 12}
    image, root = rendered(report_svg.heatmap(counts, "Contacts by hour"))
    assert dark_pixels(image, 10, 6, 200, 24) > 100  # the title
    assert dark_pixels(image, 4, 40, 36, image.height - 10) > 100  # Mon .. Sun
    ((_, rect),) = [(t, r) for t, r in titled(root) if t == "Mon 9:00: 12"]
    x, y, w, h = (round(v) for v in box(rect))
    count_pixels = sum(  # "12" in white on the darkest cell
        1
        for px in range(x + 3, x + w - 2)
        for py in range(y + 6, y + h - 4)
        if near(pixel(image, px, py), WHITE, 60)
    )
    assert count_pixels > 10


def test_volume_bars_and_service_level_line_at_the_right_heights() -> None:
    labels = ["08:00", "09:00", "10:00", "11:00", "12:00"]
    offered = [10, 5, 0, 8, 4]
    service_level: list[float | None] = [1.0, 0.5, None, 0.25, 0.75]
    # The bars alone first (the SL line crosses their tops), then the whole chart.
    bars_only, root = rendered(report_svg.volume_and_sl(labels, offered, [None] * 5, None, "SL"))
    image, _ = rendered(report_svg.volume_and_sl(labels, offered, service_level, 0.8, "SL"))
    centres = {t.split(":")[0] + ":00": box(r)[0] + box(r)[2] / 2 for t, r in titled(root)}

    def column(image: Image.Image, x: float, colour: tuple[int, int, int]) -> list[int]:
        return [y for y in range(image.height) if near(pixel(image, x, y), colour, 12)]

    def orange(x: float, y: float) -> bool:  # the SL colour, or a blend of it with white
        r, _, b = pixel(image, x, y)
        return r - b > 60

    bars = {label: column(bars_only, centres[label], BAR) for label in labels}
    top, bottom = min(bars["08:00"]), max(bars["08:00"]) + 1  # the peak bar: full height
    full = bottom - top
    assert full > 150
    assert bars["10:00"] == []  # nothing offered: no bar
    for label, n in zip(labels, offered, strict=True):
        if n:
            assert max(bars[label]) + 1 == bottom
            assert abs((bottom - min(bars[label])) - full * n / 10) <= 1.5, label

    target_y = bottom - full * 0.8

    def line_y(label: str) -> float:
        ys = [y for y in range(image.height) if orange(centres[label], y) and abs(y - target_y) > 3]
        assert ys, label
        return sum(ys) / len(ys)

    dashes = [x for x in range(image.width) if orange(x, target_y - 0.5)]
    assert 100 < len(dashes) < image.width - 60  # dashed, across the plot
    for label, sl in (("08:00", 1.0), ("09:00", 0.5), ("11:00", 0.25), ("12:00", 0.75)):
        assert abs(line_y(label) - (bottom - full * sl)) <= 2.5, label
    # SL 100% at the top of the busiest bar, 50% at the top of the bar of half its calls.
    assert abs(line_y("08:00") - top) <= 2.5 and abs(line_y("09:00") - min(bars["09:00"])) <= 2.5
    # No SL in an interval with no call: a gap in the line, not a dip to zero.
    assert not [
        y for y in range(image.height) if orange(centres["10:00"], y) and abs(y - target_y) > 3
    ]


def test_time_in_state_bar_shares() -> None:
    agents = {"anna": {"busy": 2700.0, "ready": 900.0}, "ben": {"not-ready": 3600.0}}
    image, root = rendered(report_svg.time_in_state(agents, "Time in state"))
    colours = {s: tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for s, c in
               report_svg.STATE_COLOURS.items()}  # fmt: skip
    rows = {t.split()[0]: box(r)[1] + box(r)[3] / 2 for t, r in titled(root)}

    def share(agent: str) -> dict[str, int]:
        found = dict.fromkeys(colours, 0)
        for x in range(image.width):
            colour = pixel(image, x, rows[agent])
            for state, c in colours.items():
                if colour == c:
                    found[state] += 1
        return found

    anna, ben = share("anna"), share("ben")
    assert anna["busy"] + anna["ready"] > 500
    assert abs(anna["busy"] / (anna["busy"] + anna["ready"]) - 0.75) < 0.01
    assert {s for s, n in anna.items() if n} == {"busy", "ready"}
    assert {s for s, n in ben.items() if n} == {"not-ready"}
    assert abs(ben["not-ready"] - anna["busy"] - anna["ready"]) <= 2  # both span the period


def test_no_font_is_an_error_not_a_chart_without_labels(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(report_png, "font_files", lambda: ())
    with pytest.raises(report_png.ChartError, match="DejaVu Sans"):
        report_png.svg_to_png(report_svg.heatmap({}, "t"))
    args = ["report", "heatmap", "--target", "127.0.0.1:1", "--token", "t"]
    with pytest.raises(SystemExit, match="fonts-dejavu-core"):
        main([*args, "--png", str(tmp_path / "h.png")])


def test_bad_chart_paths_fail_before_the_report(tmp_path: Path) -> None:
    # No service listens at the target: each mistake must be found before it is asked.
    args = ["report", "heatmap", "--target", "127.0.0.1:1", "--token", "t"]
    with pytest.raises(SystemExit, match=r"--png .*: is a directory"):
        main([*args, "--png", str(tmp_path)])
    with pytest.raises(SystemExit, match=r"--png .*: no directory .*missing"):
        main([*args, "--png", str(tmp_path / "missing" / "h.png")])
    with pytest.raises(SystemExit, match=r"--svg .*: no directory"):
        main([*args, "--svg", str(tmp_path / "missing" / "h.svg"), "--png", "h.png"])
    with pytest.raises(SystemExit, match="--svg and --png name the same file"):
        main([*args, "--svg", str(tmp_path / "h"), "--png", str(tmp_path / "h")])
    for what in ("campaigns", "cdrs"):
        with pytest.raises(SystemExit, match="--png is for queues, agents, heatmap"):
            main(["report", what, *args[2:], "--png", str(tmp_path / "c.png")])
    assert list(tmp_path.iterdir()) == []


def test_report_writes_svg_and_png_of_the_same_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wall = FakeWall(DAY + 3_600_000)  # Sunday 01:00 UTC
    with running(tmp_path, clock=Clock(wall)) as (server, s):
        for n in range(3):
            enqueue(s, f"h{n}")
        wall.ms += 3_600_000
        enqueue(s, "h3")
        day = datetime.datetime.fromtimestamp(DAY / 1000, datetime.UTC).date().isoformat()
        args = ["report", "heatmap", "--target", server.address, "--token", "t-supervisor"]
        svg_path, png_path = tmp_path / "heat.svg", tmp_path / "heat.png"
        assert main([*args, "--from", day, "--svg", str(svg_path), "--png", str(png_path)]) == 0
        assert capsys.readouterr().out.splitlines()[0].split()[:3] == ["day", "00", "01"]
        queues_png = tmp_path / "queues.png"
        assert main([*args[:1], "queues", *args[2:], "--from", day, "--png", str(queues_png)]) == 0
    image, root = rendered(svg_path.read_text())
    assert Image.open(png_path).convert("RGB").tobytes() == image.tobytes()
    cells = {t: box(r) for t, r in titled(root)}
    x, y, _, _ = cells["Sun 1:00: 3"]
    assert pixel(image, x + 2, y + 2) == (55, 55, 255)
    x, y, _, _ = cells["Sun 2:00: 1"]
    assert pixel(image, x + 2, y + 2) == (188, 188, 255)  # 255 - 200 * 1/3
    assert Image.open(queues_png).format == "PNG"


def test_figure_script_plays_a_day_through_the_service(tmp_path: Path) -> None:
    """``make figures`` at a small scale: one Monday, 5% of the store day's callers."""
    tally, tables = make_figures(tmp_path, days=1, load=0.05)
    assert tally.offered > 20 and tally.answered > 0
    assert tally.offered == tally.answered + tally.abandoned  # every caller was answered or left
    rows = {
        line.split()[0]: [int(n) for n in line.split()[1:]]
        for line in tables["heatmap"].splitlines()[1:]
    }
    assert sum(rows["Mon"]) == tally.offered
    assert all(sum(counts) == 0 for day, counts in rows.items() if day != "Mon")
    assert all(n == 0 for hour, n in enumerate(rows["Mon"]) if not 8 <= hour < 22)  # shop hours
    layout, root = rendered(report_svg.heatmap({}, "the same cells whatever the data"))
    image = Image.open(tmp_path / "heatmap.png").convert("RGB")
    assert image.size == layout.size
    shade: dict[tuple[str, int], int] = {}
    for title, rect in titled(root):
        day, hour = title.partition(":")[0].split()
        x, y, _, _ = box(rect)
        shade[(day, int(hour))] = sum(pixel(image, x + 2, y + 2))
    assert {k for k, v in shade.items() if v < 3 * 255} == {
        (day, hour) for day, counts in rows.items() for hour, n in enumerate(counts) if n
    }
    peak = max(rows["Mon"])
    assert {rows["Mon"][h] for (d, h), v in shade.items() if v == min(shade.values())} == {peak}
    assert Image.open(tmp_path / "volume_and_sl.png").format == "PNG"
