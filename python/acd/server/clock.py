"""The service's clock."""

from __future__ import annotations

import time
from collections.abc import Callable


class Clock:
    """The service's time in ms since the epoch; never goes backwards (the router refuses a
    command older than the last one, so a wall clock stepped back must not reach it)."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._last = 0

    def now(self) -> int:
        self._last = max(self._last, int(self._wall() * 1000))
        return self._last
