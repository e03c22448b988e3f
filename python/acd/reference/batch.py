"""Decoding of ``apply_batch`` tuples (ROUTING.md, Batch commands) into router calls."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from acd.reference.errors import InvalidArgumentError

if TYPE_CHECKING:
    from acd.reference.router import Router

# command name -> (field types after the name, how to apply them)
_COMMANDS: dict[str, tuple[tuple[type, ...], Callable[..., None]]] = {
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
_ENQUEUE = (str, str, int, int)


def dispatch(router: Router, command: tuple[Any, ...]) -> None:
    """Apply one batch command; a malformed one raises ``InvalidArgumentError``."""
    if not isinstance(command, tuple | list) or not command:
        raise InvalidArgumentError("expected a non-empty tuple")
    name, args = command[0], tuple(command[1:])
    if name == "enqueue":
        if len(args) == 3:  # priority may be left out
            args = (*args, 0)
        _check(name, args, _ENQUEUE)
        router.enqueue(args[0], args[1], args[2], args[3])
        return
    spec = _COMMANDS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise InvalidArgumentError(f"unknown command {name!r}")
    types, apply = spec
    _check(name, args, types)
    apply(router, *args)


def _check(name: str, args: tuple[Any, ...], types: tuple[type, ...]) -> None:
    if len(args) != len(types):
        raise InvalidArgumentError(f"{name}: expected {len(types)} fields, got {len(args)}")
    for position, (value, expected) in enumerate(zip(args, types, strict=True), start=1):
        if type(value) is not expected:
            raise InvalidArgumentError(
                f"{name}: field {position} must be {expected.__name__}, got {type(value).__name__}"
            )
