"""Traffic reports from the contact history: per campaign number, and the weekday x hour heatmap.

As in the queue report (``acd.server.reports``), a contact counts where and when it entered a
queue: its campaign is the one its dialled number belonged to at that moment, its heatmap cell
the local weekday and hour of its arrival.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from acd.server.history import Contact


@dataclass(slots=True)
class CampaignRow:
    """One campaign's contacts in a period ("" = calls to numbers of no campaign)."""

    campaign: str
    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    other: int = 0  # left unanswered otherwise
    waiting: int = 0  # still live
    unique_callers: int = 0
    dispositions: Counter[str] = field(default_factory=Counter)  # of answered contacts


def campaign_report(contacts: Iterable[Contact], start_ms: int, end_ms: int) -> list[CampaignRow]:
    """A row per campaign for the contacts that entered in [start_ms, end_ms), by campaign."""
    rows: dict[str, CampaignRow] = {}
    callers: dict[str, set[str]] = {}
    for c in contacts:
        if not start_ms <= c.enqueued_at < end_ms:
            continue
        row = rows.setdefault(c.campaign, CampaignRow(c.campaign))
        row.offered += 1
        if c.caller_number:
            callers.setdefault(c.campaign, set()).add(c.caller_number)
        if c.answered_at is not None:
            row.answered += 1
            if c.disposition:
                row.dispositions[c.disposition] += 1
        elif c.ended_at is None:
            row.waiting += 1
        elif c.outcome == "abandoned":
            row.abandoned += 1
        else:
            row.other += 1
    for campaign, row in rows.items():
        row.unique_callers = len(callers.get(campaign, ()))
    return [rows[k] for k in sorted(rows)]


@dataclass(frozen=True, slots=True)
class HeatCell:
    """Contacts that arrived on a local weekday (0 = Monday) in an hour (0..23)."""

    weekday: int
    hour: int
    offered: int
    answered: int
    abandoned: int


def heatmap(
    contacts: Iterable[Contact], start_ms: int, end_ms: int, zone: datetime.tzinfo
) -> list[HeatCell]:
    """All 7 x 24 cells (zeros included, so a chart needs no gaps filled), Monday 00:00 first."""
    counts: dict[tuple[int, int], list[int]] = {
        (d, h): [0, 0, 0] for d in range(7) for h in range(24)
    }
    for c in contacts:
        if not start_ms <= c.enqueued_at < end_ms:
            continue
        local = datetime.datetime.fromtimestamp(c.enqueued_at / 1000, zone)
        cell = counts[(local.weekday(), local.hour)]
        cell[0] += 1
        if c.answered_at is not None:
            cell[1] += 1
        elif c.outcome == "abandoned":
            cell[2] += 1
    return [HeatCell(d, h, *counts[(d, h)]) for d in range(7) for h in range(24)]
