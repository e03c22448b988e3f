"""Charts of ``acd report`` as standalone SVG: no plotting library, a file any browser opens.

- ``heatmap``: contacts by local weekday x hour, shaded by volume, with the count in each cell;
- ``volume_and_sl``: offered calls per interval as bars, service level as a line on a 0-100%
  axis, with the target drawn across;
- ``time_in_state``: one stacked bar per agent, the share of the period in each state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
STATE_COLOURS = {
    "ready": "#4caf50",
    "reserved": "#ffc107",
    "busy": "#2196f3",
    "wrap-up": "#9c27b0",
    "not-ready": "#f44336",
    "logged-out": "#bdbdbd",
}
FONT = 'font-family="sans-serif" font-size="11"'
TITLE_FONT = 'font-family="sans-serif" font-size="14" font-weight="bold"'


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
            f' viewBox="0 0 {width} {height}">',
            f'<rect width="{width}" height="{height}" fill="white"/>',
            f'<text x="10" y="20" {TITLE_FONT}>{escape(title)}</text>',
            *body,
            "</svg>",
            "",
        ]
    )


def heatmap(counts: Mapping[tuple[int, int], int], title: str) -> str:
    """``counts``: (weekday 0 = Monday, hour) -> contacts."""
    cell, left, top = 28, 40, 40
    peak = max(counts.values(), default=0) or 1
    body = []
    for hour in range(24):
        body.append(f'<text x="{left + hour * cell + 8}" y="{top - 6}" {FONT}>{hour}</text>')
    for day in range(7):
        y = top + day * cell
        body.append(f'<text x="8" y="{y + 18}" {FONT}>{WEEKDAYS[day]}</text>')
        for hour in range(24):
            n = counts.get((day, hour), 0)
            shade = round(255 - 200 * n / peak)
            x = left + hour * cell
            body.append(
                f'<rect x="{x}" y="{y}" width="{cell - 2}" height="{cell - 2}"'
                f' fill="rgb({shade},{shade},255)"><title>{WEEKDAYS[day]} {hour}:00: {n}'
                "</title></rect>"
            )
            if n:
                colour = "white" if n > peak / 2 else "black"
                body.append(f'<text x="{x + 4}" y="{y + 17}" {FONT} fill="{colour}">{n}</text>')
    return _svg(left + 24 * cell + 10, top + 7 * cell + 10, title, body)


def volume_and_sl(
    labels: Sequence[str],
    offered: Sequence[int],
    service_level: Sequence[float | None],
    target: float | None,
    title: str,
) -> str:
    """Bars of ``offered`` per interval, the service level (0..1) as a line; gaps stay gaps."""
    # Wide enough for the bold title (about 9 px a character) as well as the bars.
    width = max(400, 40 + 22 * len(labels), 20 + 9 * len(title))
    height, left, top, bottom = 300, 40, 40, 250
    step = (width - left - 20) / max(1, len(labels))
    every = max(1, math.ceil(40 / step))  # a label ("08:00", about 32 px) every few bars
    peak = max(offered, default=0) or 1
    body = [
        f'<line x1="{left}" y1="{bottom}" x2="{width - 10}" y2="{bottom}" stroke="black"/>',
        f'<text x="4" y="{top + 4}" {FONT}>{peak}</text>',
        f'<text x="{width - 38}" y="{top + 4}" {FONT}>100%</text>',
    ]
    for i, (label, n) in enumerate(zip(labels, offered, strict=True)):
        h = (bottom - top) * n / peak
        x = left + i * step
        body.append(
            f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}"'
            f' fill="#90caf9"><title>{escape(label)}: {n} offered</title></rect>'
        )
        if i % every == 0:
            body.append(f'<text x="{x:.1f}" y="{bottom + 14}" {FONT}>{escape(label)}</text>')
    points: list[tuple[float, float]] = []
    for i, sl in enumerate(service_level):
        if sl is None:
            if len(points) > 1:
                body.append(_polyline(points))
            points = []
            continue
        points.append((left + i * step + step * 0.35, bottom - (bottom - top) * sl))
    if len(points) > 1:
        body.append(_polyline(points))
    for x, y in points[-1:]:
        body.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="#e65100"/>')
    if target is not None:
        y = bottom - (bottom - top) * target
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#e65100"'
            ' stroke-dasharray="4 3"/>'
        )
        body.append(f'<text x="{left + 4}" y="{y - 4:.1f}" {FONT}>target {target:.0%}</text>')
    body.append(
        f'<text x="{left}" y="{height - 12}" {FONT}>bars: offered; line: service level</text>'
    )
    return _svg(width, height, title, body)


def _polyline(points: list[tuple[float, float]]) -> str:
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    return f'<polyline points="{coords}" fill="none" stroke="#e65100" stroke-width="2"/>'


def time_in_state(agents: Mapping[str, Mapping[str, float]], title: str) -> str:
    """``agents``: agent -> state -> seconds; one 100% bar each."""
    bar, left, top, width = 22, 90, 40, 640
    body = []
    for i, (agent, states) in enumerate(agents.items()):
        y = top + i * (bar + 6)
        total = sum(states.values()) or 1.0
        body.append(f'<text x="8" y="{y + 15}" {FONT}>{escape(agent)}</text>')
        x = float(left)
        for state, colour in STATE_COLOURS.items():
            seconds = states.get(state, 0.0)
            w = (width - left - 10) * seconds / total
            if w <= 0:
                continue
            body.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{bar}" fill="{colour}">'
                f"<title>{escape(agent)} {state}: {seconds / 60:.1f} min</title></rect>"
            )
            x += w
    legend_y = top + len(agents) * (bar + 6) + 14
    x = left
    for state, colour in STATE_COLOURS.items():
        body.append(f'<rect x="{x}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text x="{x + 14}" y="{legend_y}" {FONT}>{state}</text>')
        x += 90
    return _svg(width, legend_y + 16, title, body)
