"""The screen pop's call counts of the numbers that call most, answered from memory.

Counting a number's contacts walks one index entry per contact, up to ``COUNT_CAP``: for a
switchboard or withheld number with a thousand calls a month that is two walks of a thousand
entries on every offer (about a quarter of a millisecond on the event loop). A number seen
with at least ``HEAVY`` contacts is loaded once (its newest ``COUNT_CAP``) and then kept up to
date from the contacts the journal commits, so its counts are the ones the index would give,
by bisection. Other numbers are counted by the index as before.

Exactness: the memory holds every committed contact of the number from ``floor`` on (the
start of the window loaded, or the oldest kept once there were ``COUNT_CAP``), fed as the
journal's commits land (a contact the load already saw is not counted twice). A window from
``floor`` on is counted exactly; one starting before it that holds ``COUNT_CAP`` kept contacts
counts the cap; any other window goes to the index.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from acd.server.history import COUNT_CAP

HEAVY = 64  # contacts in the widest window that make a number worth keeping in memory
MAX_NUMBERS = 256  # numbers kept at once (least recently asked goes first)

# (caller, since, until) -> the counts of each window, from the index
Count = Callable[[str, Sequence[int], int], tuple[int, ...]]
# (caller, since) -> (enqueued_at, call_id) of its newest COUNT_CAP contacts from ``since`` on
Newest = Callable[[str, int], list[tuple[int, str]]]


@dataclass(slots=True)
class _Number:
    # Every committed contact after ``floor`` is in ``keys``; those at ``floor`` too when
    # ``whole`` (a load that found fewer than COUNT_CAP), else at least COUNT_CAP are kept
    # from ``floor`` on (a load that hit the cap, or a trim: ties at the floor may be cut).
    floor: int
    whole: bool
    keys: list[tuple[int, str]] = field(default_factory=list)  # sorted (enqueued_at, call_id)


class CallerCounts:
    def __init__(self, count: Count, newest: Newest) -> None:
        self._count = count
        self._newest = newest
        self._numbers: OrderedDict[str, _Number] = OrderedDict()

    def counts(self, caller: str, since: Sequence[int], until: int) -> tuple[int, ...]:
        """For each start in ``since``: contacts of ``caller`` in [start, until], up to
        ``COUNT_CAP`` (``HistoryStore.counts_by_caller``'s answer)."""
        number = self._numbers.get(caller)
        if number is None:
            counted = self._count(caller, since, until)
            if since and max(counted) >= HEAVY:
                self._load(caller, min(since))
            return counted
        self._numbers.move_to_end(caller)
        keys, end = number.keys, bisect.bisect_right(number.keys, (until, "\U0010ffff"))
        out = []
        for start in since:
            n = end - bisect.bisect_left(keys, (start, ""))
            before = start < number.floor or (start == number.floor and not number.whole)
            if before and n < COUNT_CAP:
                return self._count(caller, since, until)  # before what is kept
            out.append(min(n, COUNT_CAP))
        return tuple(out)

    def committed(self, contacts: Iterable[tuple[str, int, str]]) -> None:
        """(caller, enqueued_at, call_id) of contact rows a commit just wrote (a row written
        again is ignored)."""
        if not self._numbers:  # nobody busy yet: nothing to learn
            return
        for caller, enqueued_at, call_id in contacts:
            number = self._numbers.get(caller)
            if number is None or enqueued_at < number.floor:
                continue
            key = (enqueued_at, call_id)
            i = bisect.bisect_left(number.keys, key)
            if i < len(number.keys) and number.keys[i] == key:
                continue
            number.keys.insert(i, key)
            if len(number.keys) > 2 * COUNT_CAP:  # keep the newest COUNT_CAP
                del number.keys[:-COUNT_CAP]
                number.floor, number.whole = number.keys[0][0], False

    def _load(self, caller: str, since: int) -> None:
        newest = self._newest(caller, since)
        keys = sorted(newest)
        whole = len(keys) < COUNT_CAP
        self._numbers[caller] = _Number(since if whole else keys[0][0], whole, keys)
        if len(self._numbers) > MAX_NUMBERS:
            self._numbers.popitem(last=False)
