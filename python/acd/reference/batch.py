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
        lambda r, call, queue, t, priority, **options: r.enqueue(
            call, queue, t, priority, **options
        ),
    ),
    "abandon": ((str, int), lambda r, c, t: r.abandon(c, t)),
    "login": ((str, int), lambda r, a, t: r.login(a, t)),
    "logout": ((str, int), lambda r, a, t: r.logout(a, t)),
    "ready": ((str, int), lambda r, a, t: r.set_ready(a, t)),
    "not_ready": ((str, str, int), lambda r, a, why, t: r.set_not_ready(a, why, t)),
    "accept": ((str, str, int), lambda r, a, c, t: r.accept(a, c, t)),
    "reject": ((str, str, int), lambda r, a, c, t: r.reject(a, c, t)),
    "withdraw": ((str, str, str, int), lambda r, a, c, why, t: r.withdraw(a, c, why, t)),
    "end": ((str, int), lambda r, c, t: r.end_call(c, t)),
    "wrapup_done": ((str, str, int), lambda r, a, c, t: r.wrapup_done(a, c, t)),
    "configure": ((str, int), lambda r, config, t: r.reconfigure(config, t)),
    "timeout": ((int,), lambda r, t: r.handle_timeout(t)),
}


_ENQUEUE_OPTIONS = frozenset(
    {
        "channel",
        "skills",
        "caller",
        "dialled",
        "preferred_agent",
        "preferred_wait_ms",
        "attributes",
    }
)


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
    if name == "enqueue" and len(args) == len(types) + 1:
        # The options form: keyword arguments of ``enqueue`` (unsupported ones are refused
        # by the reference router itself, as error events).
        options = args[-1]
        if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
            raise ValueError(f"commands[{index}][5]: expected a dict of options")
        unknown = sorted(set(options) - _ENQUEUE_OPTIONS)
        if unknown:
            raise ValueError(f"commands[{index}][5]: unknown option '{unknown[0]}'")
        _check_types(name, args[:-1], types, index)
        enqueue = apply

        def apply_with_options(r: Any, *a: Any) -> object:
            return enqueue(r, *a[:-1], **a[-1])

        return apply_with_options, args
    _check_types(name, args, types, index)
    return apply, args


def _check_types(name: str, args: tuple[Any, ...], types: tuple[type, ...], index: int) -> None:
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
