"""Reading a parsed TOML document field by field, so every mistake names its exact key path.

A ``Table`` wraps one TOML table found at a path such as ``tenants.store.queues[2]``; its
accessors check type and range and raise ``ConfigError`` with the path of the offending key.
Unknown keys are refused up front, before any value is read: a misspelt key would otherwise
surface as a confusing "missing" error for the key that was meant.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TypeVar

# Times in the file are seconds; the router counts milliseconds. Bounded so that adding a
# delay to any realistic ``now_ms`` cannot overflow the router's u64 arithmetic.
MAX_SECONDS = 10**9

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_MISSING = object()
REQUIRED: object = _MISSING  # as a default: the key must be present
T = TypeVar("T")


class ConfigError(ValueError):
    """A mistake in the service configuration; the message starts with the key path.

    ``variable`` names the environment variable the value came from, when it came from one.
    """

    def __init__(self, path: str, reason: str, variable: str | None = None) -> None:
        self.path = path
        self.reason = reason
        self.variable = variable
        where = path or "config"
        if variable:
            where = f"{where} (from {variable})"
        super().__init__(f"{where}: {reason}")


def join(path: str, key: str) -> str:
    """The path of ``key`` inside the table at ``path``, quoting keys TOML would quote."""
    name = key if _BARE_KEY.fullmatch(key) else '"' + key.replace('"', '\\"') + '"'
    return f"{path}.{name}" if path else name


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def type_name(value: object) -> str:
    """The TOML name of a value's type, for error messages."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return "a date/time"


def check_id(path: str, value: object) -> str:
    """An id as the router accepts it: 1..256 UTF-8 bytes, no control characters."""
    if not isinstance(value, str):
        raise ConfigError(path, f"expected a string, got {type_name(value)}")
    if (
        not value
        or len(value.encode()) > 256
        or any(unicodedata.category(c) == "Cc" for c in value)
    ):
        raise ConfigError(path, "must be 1..256 characters without control characters")
    return value


def frozen(mapping: Mapping[str, T]) -> Mapping[str, T]:
    """A read-only copy, so frozen dataclasses holding it are immutable all the way down."""
    return MappingProxyType(dict(mapping))


def unique(path_of: Iterable[tuple[str, str]], what: str) -> set[str]:
    """Refuses the second use of an id; ``path_of`` yields ``(path, id)`` in file order."""
    seen: set[str] = set()
    for path, value in path_of:
        if value in seen:
            raise ConfigError(path, f"duplicate {what} {value!r}")
        seen.add(value)
    return seen


class Table:
    """One TOML table at ``path``; refuses keys outside ``known``."""

    def __init__(self, raw: object, path: str, known: Iterable[str]) -> None:
        if not isinstance(raw, dict):
            raise ConfigError(path, f"expected a table, got {type_name(raw)}")
        allowed = set(known)
        for key in raw:
            if key not in allowed:
                raise ConfigError(join(path, key), "unknown key")
        self.raw: dict[str, object] = raw
        self.path = path

    def key(self, name: str) -> str:
        return join(self.path, name)

    def has(self, name: str) -> bool:
        return name in self.raw

    def _get(self, name: str, default: object) -> object:
        if name in self.raw:
            return self.raw[name]
        if default is _MISSING:
            raise ConfigError(self.key(name), "missing")
        return default

    def string(self, name: str, default: object = _MISSING) -> str:
        value = self._get(name, default)
        if not isinstance(value, str):
            raise ConfigError(self.key(name), f"expected a string, got {type_name(value)}")
        return value

    def optional_string(self, name: str) -> str | None:
        return self.string(name) if name in self.raw else None

    def ident(self, name: str, default: object = _MISSING) -> str:
        return check_id(self.key(name), self._get(name, default))

    def choice(self, name: str, default: object, choices: Iterable[str]) -> str:
        value = self.string(name, default)
        options = tuple(choices)
        if value not in options:
            raise ConfigError(
                self.key(name), f"{value!r} is not one of {', '.join(map(repr, options))}"
            )
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self._get(name, default)
        if not isinstance(value, bool):
            raise ConfigError(self.key(name), f"expected a boolean, got {type_name(value)}")
        return value

    def integer(self, name: str, default: object, lo: int, hi: int) -> int:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(self.key(name), f"expected an integer, got {type_name(value)}")
        if not lo <= value <= hi:
            raise ConfigError(self.key(name), f"{value} is outside {lo}..{hi}")
        return value

    def number(self, name: str, default: object, lo: float, hi: float) -> float:
        value = self._get(name, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(self.key(name), f"expected a number, got {type_name(value)}")
        if not lo <= value <= hi:  # also refuses nan
            raise ConfigError(self.key(name), f"{value} is outside {_num(lo)}..{_num(hi)}")
        return float(value)

    def millis(self, name: str, default_ms: int | None, minimum_s: float = 0) -> int:
        """A duration given in seconds (integer or fractional), as whole milliseconds.

        ``default_ms`` None makes the key required.
        """
        default = _MISSING if default_ms is None else default_ms / 1000
        seconds = self.number(name, default, 0, MAX_SECONDS)
        if seconds < minimum_s:
            raise ConfigError(self.key(name), f"must be at least {_num(minimum_s)} s")
        return round(seconds * 1000)

    def table(self, name: str, known: Iterable[str]) -> Table:
        """A sub-table; an absent one reads as empty, so every key takes its default."""
        return Table(self.raw.get(name, {}), self.key(name), known)

    def array(self, name: str) -> list[object]:
        value = self._get(name, [])
        if not isinstance(value, list):
            raise ConfigError(self.key(name), f"expected an array, got {type_name(value)}")
        return value

    def tables(self, name: str, known: Iterable[str]) -> list[Table]:
        """An array of tables (``[[name]]``), each with its index in its path."""
        fields = tuple(known)
        path = self.key(name)
        return [Table(item, f"{path}[{i}]", fields) for i, item in enumerate(self.array(name))]
