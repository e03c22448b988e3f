"""Charts of ``acd report`` as PNG: the SVG of ``acd.report_svg``, rasterized by resvg.

One definition per chart: the PNG is the SVG drawn to pixels, not a second drawing of the same
chart with a plotting library that could drift from it. resvg (through resvg-py, one
self-contained wheel with no system library behind it) renders the SVG that ``report_svg``
writes as a browser would.

resvg draws text only with a font it was given, and silently leaves labels out when the family
asked for is missing (its default sans-serif is Arial, which Debian does not have). So the
charts' text is always set in DejaVu Sans, from Debian's ``fonts-dejavu-core`` (``make build``
installs it where it is missing), and no other font is loaded: the same labels, and the same
pixels, on every machine. A machine without the font gets an error that says so, not a chart
without labels.
"""

from __future__ import annotations

import functools
from pathlib import Path

import resvg_py

FONT_FAMILY = "DejaVu Sans"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")  # the titles are bold
# Debian's place first; then where fontconfig looks on other systems.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)
NO_FONT = (
    f"no {FONT_FAMILY} font for the chart's labels"
    " (Debian: apt-get install fonts-dejavu-core; `make build` installs it)"
)


class ChartError(RuntimeError):
    """A chart could not be written; the message is for the command line."""


@functools.cache
def font_files() -> tuple[str, ...]:
    """The DejaVu Sans files found (regular first); empty when there is none."""
    found: list[str] = []
    for name in FONT_FILES:
        for directory in FONT_DIRS:
            path = directory / name
            if path.is_file():
                found.append(str(path))
                break
            if directory.is_dir() and (hit := next(directory.rglob(name), None)) is not None:
                found.append(str(hit))
                break
    return tuple(found) if found and found[0].endswith(FONT_FILES[0]) else ()


def svg_to_png(svg: str) -> bytes:
    """The PNG of ``svg``, at the size its ``width`` and ``height`` say (one pixel a unit)."""
    fonts = font_files()
    if not fonts:
        raise ChartError(NO_FONT)
    png = resvg_py.svg_to_bytes(
        svg_string=svg,
        skip_system_fonts=True,
        font_files=list(fonts),
        font_family=FONT_FAMILY,
        sans_serif_family=FONT_FAMILY,
    )
    return bytes(png)


def check_outputs(svg_path: str | None, png_path: str | None) -> None:
    """Fails before any work if a chart could not be written where asked."""
    named = [(flag, p) for flag, p in (("--svg", svg_path), ("--png", png_path)) if p]
    for flag, name in named:
        path = Path(name)
        if path.is_dir():
            raise ChartError(f"{flag} {name}: is a directory")
        if not path.parent.is_dir():
            raise ChartError(f"{flag} {name}: no directory {path.parent}")
    if len(named) == 2 and Path(named[0][1]).resolve() == Path(named[1][1]).resolve():
        raise ChartError(f"--svg and --png name the same file: {named[0][1]}")
    if png_path and not font_files():
        raise ChartError(f"--png: {NO_FONT}")


def write_chart(svg: str, svg_path: str | None, png_path: str | None) -> None:
    """Writes the chart as SVG and/or PNG, to the paths given."""
    try:
        if svg_path:
            Path(svg_path).write_text(svg)
        if png_path:
            Path(png_path).write_bytes(svg_to_png(svg))
    except OSError as e:
        raise ChartError(f"cannot write {e.filename}: {e.strerror}") from None
