"""Callbacks in the simulated world: which callers take one, which attempts reach them.

Two ways a caller gets a callback, as issue 4 describes them for the stores:
- *offered while waiting* ("keep your place"): after ``offer_after_ms`` in line the caller is
  offered a callback and takes it with probability ``take_rate``. The caller hangs up, but the
  router's call stays in line where it was (no patience any more); when its turn comes the agent
  it is offered to dials the customer.
- *missed call*: a caller who hangs up while waiting gets an automatic callback, a new call of
  channel ``callback`` enqueued ``missed_delay_ms`` later with ``priority``.

An attempt reaches the customer with probability ``reach_rate``; then the conversation takes
the caller's own handle time. An attempt that does not reach them rings for ``ring_ms`` and, up
to ``max_attempts`` in all, is tried again ``retry_gap_ms`` later as a new callback call.

The draws are a hash of (seed, call, attempt), not a shared random stream, so a caller makes
the same choice in both runs of a comparison whatever else differs between them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallbackPolicy:
    offer_after_ms: int = 30_000  # 0: callers are never offered a callback while waiting
    take_rate: float = 0.5
    missed: bool = True  # abandoned callers get an automatic callback
    missed_delay_ms: int = 0
    # 0: in line with new calls; 1: ahead of them (sooner callbacks, longer waits on the line)
    priority: int = 0
    reach_rate: float = 0.8
    ring_ms: int = 25_000
    retry_gap_ms: int = 120_000
    max_attempts: int = 3

    def __post_init__(self) -> None:
        for name in ("take_rate", "reach_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"callback {name.replace('_', ' ')} must be within 0..1")
        if self.max_attempts < 1:
            raise ValueError("callback attempts must be at least 1")
        for name in ("offer_after_ms", "missed_delay_ms", "ring_ms", "retry_gap_ms"):
            if getattr(self, name) < 0:
                raise ValueError(f"callback {name} must not be negative")


def draw(seed: int, what: str, call_id: str, attempt: int = 0) -> float:
    """A uniform number in [0, 1) fixed by its arguments."""
    key = f"acd-sim:{seed}:{what}:{call_id}:{attempt}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") / 2.0**64


def callback_id(call_id: str, attempt: int) -> str:
    """The router id of a callback attempt of ``call_id`` (attempts count from 1)."""
    return f"{call_id}~cb{attempt}"
