"""Decoding of ``apply_batch`` tuples (ROUTING.md, Batch commands) into router calls.

Every tuple is decoded before any is applied, so a malformed batch (unknown command, wrong
number of fields, wrong field type) changes nothing: it raises ``ValueError``, as the core's
binding does. Commands that are well formed but refused become ``error`` events instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Apply = Callable[..., object]

# command name -> (field types after the name, the router method that applies them)
_COMMANDS: dict[str, tuple[tuple[type, ...], Apply]] = {
    "enqueue": (
        (str, str, int, int),
        lambda r, call, queue, t, priority: r.enqueue(call, queue, t, priority),
    ),
    "abandon": ((str, int), lambda r, c, t: r.abandon(c, t)),
    "login": ((str, int), lambda r, a, t: r.login(a, t)),
    "logout": ((str, int), lambda r, a, t: r.logout(a, t)),
    "ready": ((str, int), lambda r, a, t: r.set_ready(a, t)),
    "not_ready": ((str, str, int), lambda r, a, why, t: r.set_not_ready(a, why, t)),
    "accept": ((str, str, int), lambda r, a, c, t: r.accept(a, c, t)),
    "reject": ((str, str, int), lambda r, a, c, t: r.reject(a, c, t)),
    "end": ((str, int), lambda r, c, t: r.end_call(c, t)),
    "wrapup_done": ((str, str, int), lambda r, a, c, t: r.wrapup_done(a, c, t)),
    "timeout": ((int,), lambda r, t: r.handle_timeout(t)),
}


def parse_batch(commands: list[tuple[Any, ...]]) -> list[tuple[Apply, tuple[Any, ...]]]:
    """Decode every command; the first malformed one raises ``ValueError``."""
    return [_parse_one(command, index) for index, command in enumerate(commands)]


def _parse_one(command: object, index: int) -> tuple[Apply, tuple[Any, ...]]:
    if not isinstance(command, tuple):
        raise ValueError(f"commands[{index}]: expected a tuple")
    name = command[0] if command else None
    if not isinstance(name, str):
        raise ValueError(f"commands[{index}][0]: expected a command name (str)")
    spec = _COMMANDS.get(name)
    if spec is None:
        raise ValueError(f"commands[{index}]: unknown command '{name}'")
    types, apply = spec
    args = command[1:]
    if len(args) != len(types):
        raise ValueError(
            f"commands[{index}]: '{name}' takes {len(types)} arguments, got {len(args)}"
        )
    for position, (value, expected) in enumerate(zip(args, types, strict=True), start=1):
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ValueError(
                f"commands[{index}][{position}]: expected {expected.__name__},"
                f" got {type(value).__name__}"
            )
    return apply, args
