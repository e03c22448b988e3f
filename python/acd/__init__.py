"""ACD core: the routing core (Rust, ``acd._core``) and the Python around it.

The router is deterministic and has no clock: every command carries ``now_ms``.
See ``acd_core/ROUTING.md`` for the semantics shared by the core and the reference router.
"""

from collections.abc import Sequence

from acd._core import (
    AcdError,
    ConfigError,
    Event,
    Events,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
    Router,
)

# A batch's events are a read-only sequence (``isinstance(events, Sequence)`` holds).
Sequence.register(Events)

__all__ = [
    "AcdError",
    "ConfigError",
    "Event",
    "Events",
    "IllegalTransitionError",
    "InvalidArgumentError",
    "NotFoundError",
    "Router",
]
