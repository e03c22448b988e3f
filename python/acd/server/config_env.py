"""Environment overrides: ``ACD_<SECTION>__<KEY>[__<KEY>...]=<value>`` sets one key of acd.toml.

The rule, in full:
- Only variables whose name, after ``ACD_``, contains ``__`` are overrides; other ``ACD_*``
  variables (say, one naming the config file) are left alone.
- ``__`` separates the levels of the key path and names are lower-cased:
  ``ACD_SERVER__RATE_LIMIT__BURST`` sets ``server.rate_limit.burst``; missing tables are created.
- Only ``server.*`` and ``storage.*`` can be set; tenants and tokens live in the file (a tenant's
  queues are arrays, and a token set from the environment would escape review).
- The value is read as a TOML value when it is one (``true``, ``50051``, ``1.5``,
  ``["a:1", "b:2"]``, ``"quoted"``) and as a plain string otherwise, so
  ``ACD_SERVER__LISTEN=127.0.0.1:50051`` and ``ACD_STORAGE__DATA_DIR=/srv/acd`` need no quotes.
- An override replaces the file's value, and is validated exactly like it; an error in it names
  the variable: ``server.max_message_bytes (from ACD_SERVER__MAX_MESSAGE_BYTES): ...``.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping

from acd.server.config_fields import ConfigError

PREFIX = "ACD_"
SEPARATOR = "__"
OVERRIDABLE = ("server", "storage")


def _value(text: str) -> object:
    try:
        parsed = tomllib.loads(f"v = {text}")
    except tomllib.TOMLDecodeError:
        return text
    # "1\nx = 2" parses as two keys: that is no single TOML value, so it stays text.
    return parsed["v"] if parsed.keys() == {"v"} else text


def apply_env(doc: dict[str, object], environ: Mapping[str, str]) -> dict[str, str]:
    """Applies the overrides in ``environ`` to ``doc``; returns key path -> variable name."""
    origins: dict[str, str] = {}
    for variable in sorted(environ):
        rest = variable[len(PREFIX) :]
        if not variable.startswith(PREFIX) or SEPARATOR not in rest:
            continue
        parts = rest.lower().split(SEPARATOR)
        path = ".".join(parts)
        if not all(parts):
            raise ConfigError("", "expected ACD_<SECTION>__<KEY>[__<KEY>...]", variable)
        if parts[0] not in OVERRIDABLE:
            raise ConfigError(
                path, "only server.* and storage.* can be set from the environment", variable
            )
        table = doc
        for depth, part in enumerate(parts[:-1]):
            node = table.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(".".join(parts[: depth + 1]), "is not a table", variable)
            table = node
        table[parts[-1]] = _value(environ[variable])
        origins[path] = variable
    return origins


def origin(path: str, origins: Mapping[str, str]) -> str | None:
    """The variable that set ``path`` or a table holding it, if one did."""
    for key, variable in origins.items():
        if path == key or path.startswith((key + ".", key + "[")):
            return variable
    return None
