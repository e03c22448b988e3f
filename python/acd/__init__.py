"""ACD core: the routing core (Rust, ``acd._core``) and the Python around it.

The router is deterministic and has no clock: every command carries ``now_ms``.
See ``acd_core/ROUTING.md`` for the semantics shared by the core and the reference router.
"""

from acd._core import (
    AcdError,
    ConfigError,
    Event,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
    Router,
)

__all__ = [
    "AcdError",
    "ConfigError",
    "Event",
    "IllegalTransitionError",
    "InvalidArgumentError",
    "NotFoundError",
    "Router",
]
