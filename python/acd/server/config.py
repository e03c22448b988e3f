"""The service configuration: ``acd.toml`` plus environment overrides, validated up front.

```toml
mode = "production"            # or "dev": allows [dev] demo tokens (see config_tokens)
[server]   ...                 # listen, tls, reflection, limits, keepalive, logs (config_server)
[storage]  ...                 # data_dir, snapshots, group commit (config_server)
[tenants.<id>] ...             # skills, groups, hours, queues, agents (config_tenant)
[[tokens]] ...                 # hashed bearer tokens -> identities (config_tokens)
```

The bundled samples (``acd/data/acd.toml``, ``acd/data/acd-dev.toml``) show every section.
Loading either succeeds completely or raises one ``ConfigError`` whose message starts with the
key path of the first mistake (``tenants.store.queues[2].skills.billing: level 11 is outside
1..10``), and names the variable when the value came from the environment (config_env).
"""

from __future__ import annotations

import importlib.resources
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from acd.server.auth import TokenEntry, TokenTable
from acd.server.config_env import apply_env, origin
from acd.server.config_fields import ConfigError, Table, frozen, join
from acd.server.config_hours import HoursConfig
from acd.server.config_server import (
    Keepalive,
    RateLimit,
    ServerConfig,
    StorageConfig,
    TlsConfig,
    is_loopback,
    parse_server,
    parse_storage,
)
from acd.server.config_tenant import (
    AgentConfig,
    EscalationStep,
    GroupConfig,
    NoAnswerPolicy,
    Overflow,
    QueueConfig,
    TenantConfig,
    core_config_json,
    parse_tenant,
)
from acd.server.config_tokens import DEMO_TOKEN_KEYS, DemoToken, parse_tokens

__all__ = [
    "BUNDLED_CONFIGS",
    "AgentConfig",
    "Config",
    "ConfigError",
    "DemoToken",
    "EscalationStep",
    "GroupConfig",
    "HoursConfig",
    "Keepalive",
    "NoAnswerPolicy",
    "Overflow",
    "QueueConfig",
    "RateLimit",
    "ServerConfig",
    "StorageConfig",
    "TenantConfig",
    "TlsConfig",
    "core_config_json",
    "load_bundled_config",
    "load_config",
    "parse_config",
]

MODES = ("production", "dev")
BUNDLED_CONFIGS = ("acd.toml", "acd-dev.toml")
# Tenant ids name directories under data_dir and label metrics: keep them to safe characters.
_TENANT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_ROOT_KEYS = ("mode", "server", "storage", "tenants", "tokens", "dev")


@dataclass(frozen=True, slots=True)
class Config:
    mode: str
    server: ServerConfig
    storage: StorageConfig
    tenants: Mapping[str, TenantConfig]
    # Every accepted token, dev demo tokens included (hashed like the others).
    tokens: tuple[TokenEntry, ...]
    # Dev mode only: the demo tokens in plaintext, for the server to print at start.
    demo_tokens: tuple[DemoToken, ...]

    def token_table(self) -> TokenTable:
        return TokenTable(self.tokens)


def _validate(doc: dict[str, object]) -> Config:
    root = Table(doc, "", _ROOT_KEYS)
    mode = root.choice("mode", "production", MODES)
    server = parse_server(doc.get("server", {}))
    storage = parse_storage(doc.get("storage", {}))
    raw_tenants = doc.get("tenants", {})
    # Any key may be a tenant id: the loop checks them; Table checks that it is a table.
    tenants_table = Table(
        raw_tenants, "tenants", raw_tenants if isinstance(raw_tenants, dict) else ()
    )
    tenants = {}
    for tenant_id, raw in tenants_table.raw.items():
        if not _TENANT_ID.fullmatch(tenant_id):
            raise ConfigError(
                join("tenants", tenant_id), "tenant ids are 1..63 of a-z, 0-9, '_', '-'"
            )
        tenants[tenant_id] = parse_tenant(raw, tenant_id)
    demo: list[Table] = []
    if root.has("dev"):
        if mode != "dev":
            raise ConfigError("dev", 'allowed only with mode = "dev" (it holds plaintext tokens)')
        demo = root.table("dev", ("demo_tokens",)).tables("demo_tokens", DEMO_TOKEN_KEYS)
    tokens, demo_tokens = parse_tokens(root, tenants, demo)
    if demo_tokens:
        for i, address in enumerate(server.listen):
            if not is_loopback(address):
                raise ConfigError(
                    f"server.listen[{i}]",
                    f"{address!r} is not loopback: dev demo tokens are public, so a dev"
                    " config listens on 127.0.0.1, [::1], localhost or unix: only",
                )
        wallboard = server.wallboard.listen
        if wallboard is not None and not is_loopback(wallboard):
            raise ConfigError(
                "server.wallboard.listen",
                f"{wallboard!r} is not loopback: dev demo tokens are public, so a dev"
                " wallboard listens on 127.0.0.1 or localhost only",
            )
    return Config(mode, server, storage, frozen(tenants), tokens, demo_tokens)


def parse_config(
    text: str, *, environ: Mapping[str, str] | None = None, source: str = "acd.toml"
) -> Config:
    """Validates config ``text``; ``environ`` (default ``os.environ``) supplies overrides."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("", f"{source} is not valid TOML: {e}") from None
    origins = apply_env(doc, os.environ if environ is None else environ)
    try:
        return _validate(doc)
    except ConfigError as e:
        variable = origin(e.path, origins)
        if variable is None:
            raise
        raise ConfigError(e.path, e.reason, variable) from None


def load_config(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> Config:
    """Reads and validates the config file at ``path`` (see ``parse_config``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError("", f"cannot read {os.fspath(path)!r}: {e}") from None
    return parse_config(text, environ=environ, source=os.fspath(path))


def load_bundled_config(
    name: str = "acd-dev.toml", *, environ: Mapping[str, str] | None = None
) -> Config:
    """One of the sample configs shipped in the package (``BUNDLED_CONFIGS``)."""
    if name not in BUNDLED_CONFIGS:
        raise ConfigError("", f"no bundled config {name!r} (there are {BUNDLED_CONFIGS})")
    text = importlib.resources.files("acd").joinpath("data", name).read_text(encoding="utf-8")
    return parse_config(text, environ=environ, source=name)
