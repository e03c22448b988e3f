"""Pure-Python reference router: the **[ref]** subset of acd_core/ROUTING.md.

Same method names and signatures as ``acd._core.Router`` for that subset, and equally named
exception classes (distinct classes: this package never imports the native module).
"""

from acd.reference.errors import (
    AcdError,
    ConfigError,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
)
from acd.reference.events import Event
from acd.reference.router import Router

__all__ = [
    "AcdError",
    "ConfigError",
    "Event",
    "IllegalTransitionError",
    "InvalidArgumentError",
    "NotFoundError",
    "Router",
]
