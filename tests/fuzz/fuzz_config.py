"""Fuzz target: the config loader (``acd.server.config.parse_config``, the path of ``acd serve``
and ``ReloadConfig``), with TOML text and environment overrides built from the fuzzer's bytes.

The documented outcome of loading is one of two: a ``Config``, or one ``ConfigError``. Any other
exception is a finding, and so is a config that loads but that the router refuses to be built
from (``Router(core_config_json(tenant))``: the service would fail at start instead of naming
the mistake).

An input is either raw text, or one of the seed configs (the bundled samples and the tests'
config) with a few values replaced, deleted or added at fuzzed key paths, written back as TOML,
so most inputs get past the TOML parser into the validation of every section. Overrides
(``ACD_SERVER__...``, ``ACD_STORAGE__...`` and a few malformed names) come with the input.
"""

from __future__ import annotations

import importlib.resources
import json
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: server_helpers

from fuzz_values import DataProvider, Values

from acd._core import Router
from acd.server.config import ConfigError, core_config_json, parse_config
from server_helpers import TEST_CONFIG

SEEDS = (
    TEST_CONFIG,
    importlib.resources.files("acd").joinpath("data", "acd.toml").read_text(encoding="utf-8"),
    importlib.resources.files("acd").joinpath("data", "acd-dev.toml").read_text("utf-8"),
)
ENV_NAMES = (
    *("ACD_SERVER__MAX_MESSAGE_BYTES", "ACD_SERVER__LISTEN", "ACD_SERVER__RATE_LIMIT__BURST"),
    *("ACD_STORAGE__SNAPSHOT_EVERY_S", "ACD_SERVER__NOPE", "ACD_TENANTS__STORE__SKILLS"),
    *("ACD___", "ACD_SERVER__", "ACD_STORAGE__GROUP_COMMIT_MAX_BATCH", "ACD_SERVER__TLS"),
)


def toml_value(value: Any) -> str:
    """``value`` as a TOML value (inline tables and arrays, any depth)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON's escapes are TOML basic-string escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise TypeError(f"no TOML for {type(value).__name__}")


def toml_text(doc: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in doc.items())


class ConfigTarget:
    def __init__(self) -> None:
        self.seeds = [tomllib.loads(text) for text in SEEDS]
        self.executions = 0
        self.loaded = 0  # inputs that gave a Config

    def one_input(self, fdp: DataProvider) -> None:
        values = Values(fdp)
        kind = fdp.ConsumeIntInRange(0, len(self.seeds))
        environ = {}
        for _ in range(fdp.ConsumeIntInRange(0, 2)):
            environ[str(values.choice(list(ENV_NAMES)))] = self._env_value(values)
        if kind == len(self.seeds):
            text = fdp.ConsumeUnicodeNoSurrogates(fdp.remaining_bytes())
        else:
            doc = json.loads(json.dumps(self.seeds[kind]))  # a deep copy
            for _ in range(fdp.ConsumeIntInRange(1, 4)):
                self._mutate(doc, values)
            text = toml_text(doc)
        self.executions += 1
        try:
            config = parse_config(text, environ=environ)
        except ConfigError:
            return
        self.loaded += 1
        for tenant in config.tenants.values():
            Router(core_config_json(tenant))  # raises: the config loaded, the core refused it
        config.token_table()

    def _env_value(self, values: Values) -> str:
        if values.fdp.ConsumeBool():
            return values.text()
        return str(values.choice(["0", "-1", "1e999", "[]", "{}", "nan", '"x"', "true", "[1,"]))

    def _mutate(self, doc: dict[str, Any], values: Values) -> None:
        """Walks from the root to a fuzzed key path and replaces, deletes or adds there."""
        fdp = values.fdp
        node: Any = doc
        for _ in range(6):
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                break
            key = values.choice(keys)
            child = node[key]
            if not isinstance(child, dict | list) or not child or fdp.ConsumeBool():
                action = fdp.ConsumeIntInRange(0, 5)
                if action == 0 and isinstance(node, dict):
                    del node[key]
                elif action == 1 and isinstance(node, dict):
                    node[values.text() or "k"] = self._value(values, 0)
                else:
                    node[key] = self._value(values, 0)
                return
            node = child

    def _value(self, values: Values, depth: int) -> Any:
        fdp = values.fdp
        kind = fdp.ConsumeIntInRange(0, 7 if depth < 2 else 4)
        if kind == 0:
            return values.text()
        if kind == 1:
            return values.integer(-(2**63), 2**63 - 1)
        if kind == 2:
            return values.real()
        if kind == 3:
            return fdp.ConsumeBool()
        if kind == 4:
            return values.choice(["sales", "until-done", "dev", "production", "1..10", "09:00"])
        if kind == 5:
            return [self._value(values, depth + 1) for _ in range(values.count() % 5)]
        return {values.text(): self._value(values, depth + 1) for _ in range(values.count() % 4)}

    def close(self) -> None:
        pass


def make_target() -> ConfigTarget:
    return ConfigTarget()
