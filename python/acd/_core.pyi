"""Native routing core (Rust, pyo3). See acd_core/ROUTING.md for the semantics."""

from collections.abc import Iterator, Sequence
from typing import Any, Final, final, overload

__all__ = [
    "AcdError",
    "ConfigError",
    "Event",
    "Events",
    "IllegalTransitionError",
    "InvalidArgumentError",
    "NotFoundError",
    "Router",
    "Transactions",
    "__version__",
    "heap_bytes",
]

__version__: Final[str]

class AcdError(Exception):
    """Base of every error the routing core raises."""

class ConfigError(AcdError):
    """The router or a queue/agent definition is invalid; the message names the field."""

class NotFoundError(AcdError):
    """An id (call, agent, queue) is unknown to this router."""

class InvalidArgumentError(AcdError):
    """An argument is out of range or malformed; the message names the argument."""

class IllegalTransitionError(AcdError):
    """The command is not allowed in the current state of the agent or call."""

@final
class Event:
    """One decision or notification produced by the router (see ROUTING.md, Events)."""

    @property
    def kind(self) -> str: ...
    @property
    def call_id(self) -> str: ...
    @property
    def agent_id(self) -> str: ...
    @property
    def queue_id(self) -> str: ...
    @property
    def at_ms(self) -> int: ...
    @property
    def expires_at_ms(self) -> int: ...
    @property
    def rule(self) -> str: ...
    @property
    def detail(self) -> str: ...
    def as_tuple(self) -> tuple[str, str, str, str, int, int, str, str]: ...

@final
class Events(Sequence[Event]):
    """A batch's events, kept native until read: an item makes its ``Event`` when asked."""

    def __len__(self) -> int: ...
    @overload
    def __getitem__(self, index: int, /) -> Event: ...
    @overload
    def __getitem__(self, index: slice, /) -> list[Event]: ...
    def __iter__(self) -> Iterator[Event]: ...
    def as_tuples(self) -> list[tuple[str, str, str, str, int, int, str, str]]:
        """Every event as ``Event.as_tuple()`` gives it, in one call."""

@final
class Router:
    """One tenant's router: queues, agents, waiting calls, offers. Deterministic, no clock."""

    def __new__(cls, config_json: str) -> Router: ...
    @staticmethod
    def from_snapshot(data: bytes) -> Router: ...
    def snapshot(self) -> bytes: ...
    def enqueue(
        self,
        call_id: str,
        queue_id: str,
        now_ms: int,
        priority: int = 0,
        channel: str = "voice",
        skills: dict[str, int] | None = None,
        caller: str = "",
        dialled: str = "",
        preferred_agent: str | None = None,
        preferred_wait_ms: int = 0,
        attributes: dict[str, str] | None = None,
    ) -> bool: ...
    def abandon(self, call_id: str, now_ms: int) -> None: ...
    def login(self, agent_id: str, now_ms: int) -> None: ...
    def logout(self, agent_id: str, now_ms: int) -> None: ...
    def set_ready(self, agent_id: str, now_ms: int) -> None: ...
    def set_not_ready(self, agent_id: str, reason: str, now_ms: int) -> None: ...
    def accept(self, agent_id: str, call_id: str, now_ms: int) -> None: ...
    def reject(self, agent_id: str, call_id: str, now_ms: int) -> None: ...
    def end_call(self, call_id: str, now_ms: int) -> None: ...
    def wrapup_done(self, agent_id: str, call_id: str, now_ms: int) -> None: ...
    def transfer(
        self,
        call_id: str,
        now_ms: int,
        queue: str | None = None,
        agent: str | None = None,
        destination: str | None = None,
    ) -> None: ...
    def pick(self, agent_id: str, call_id: str, now_ms: int) -> None: ...
    def withdraw(self, agent_id: str, call_id: str, reason: str, now_ms: int) -> None: ...
    def request_callback(self, call_id: str, callback_id: str, number: str, now_ms: int) -> None:
        """Turns a waiting call into callback ``callback_id`` in its place (ROUTING.md)."""
    def reconfigure(self, config_json: str, now_ms: int) -> None:
        """A new configuration for the running router (ROUTING.md, Reconfiguration)."""
    def handle_timeout(self, now_ms: int) -> None: ...
    def poll_timeout(self) -> int | None: ...
    def drain(self) -> Events:
        """The events produced since the last drain, cleared from the router; native until
        read, like ``apply_batch``'s (all empty drains share one empty ``Events``)."""
    def apply_batch(self, commands: list[tuple[Any, ...]]) -> Events: ...
    def queue_stats(self, queue_id: str, now_ms: int) -> dict[str, int]: ...
    def interval_stats(self, queue_id: str) -> list[dict[str, int]]: ...
    def agent_time_stats(self) -> list[dict[str, Any]]: ...
    def agent_info(self, agent_id: str) -> dict[str, Any]: ...
    def call_info(self, call_id: str) -> dict[str, Any] | None: ...
    def waiting_key(self, call_id: str) -> tuple[str, int, int] | None:
        """(queue_id, score, seq) of a waiting call, its line ordered by (-score, seq); None for
        a call that is not waiting."""
    def queue_ids(self) -> list[str]: ...
    def agent_ids(self) -> list[str]: ...
    def call_ids(self) -> list[str]:
        """Every live call id (waiting, held, offered or connected), in arrival order."""
    def waiting_count(self) -> int: ...

@final
class Transactions:
    """The journal writer's transactions, run from BEGIN to COMMIT without the GIL (one
    wait for it, after COMMIT, where Python's sqlite3 waits about twice per statement). Opens
    the existing database at ``path`` for writing, through the same SQLite library as Python's
    sqlite3, and runs ``setup`` (PRAGMAs) on it. Failures raise what Python's sqlite3 would:
    ``sqlite3.OperationalError`` (busy, I/O error, full), ``sqlite3.IntegrityError``,
    ``sqlite3.ProgrammingError`` (a wrong number of values, a type it cannot store),
    ``OverflowError`` (an int beyond 64 bits)."""

    def __new__(cls, path: str, setup: Sequence[str] = ...) -> Transactions: ...
    def run(self, statements: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        """Runs ``(sql, values)`` statements (``?`` placeholders) in one transaction, BEGIN
        IMMEDIATE ... COMMIT: all or nothing, committed when it returns."""
    def close(self) -> None:
        """Closes the connection; a later ``run`` raises ``sqlite3.ProgrammingError``."""

def heap_bytes() -> int:
    """Bytes currently allocated by the native module (a counting allocator)."""
