"""The ``[server]`` and ``[storage]`` sections of ``acd.toml``.

Relative paths (TLS files, ``data_dir``) are taken relative to the working directory the
service starts in, as a command-line tool would; the TLS files must exist when the config loads,
so a typo fails at start instead of at the first handshake.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path

from acd.server.config_fields import ConfigError, Table, type_name
from acd.server.wallboard_config import WallboardConfig, parse_wallboard

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")
_HOST_PORT = re.compile(
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9.-]+)):(?P<port>\d{1,5})"
)


@dataclass(frozen=True, slots=True)
class TlsConfig:
    cert_file: Path
    key_file: Path
    # Mutual TLS: clients must present a certificate signed by this CA when required.
    client_ca_file: Path | None
    require_client_cert: bool


@dataclass(frozen=True, slots=True)
class RateLimit:
    """A token bucket per identity; ``requests_per_second`` 0 turns it off."""

    requests_per_second: float
    burst: int


@dataclass(frozen=True, slots=True)
class Keepalive:
    time_ms: int
    timeout_ms: int


@dataclass(frozen=True, slots=True)
class ServerConfig:
    listen: tuple[str, ...]
    tls: TlsConfig | None
    reflection: bool
    max_message_bytes: int
    max_concurrent_rpcs: int
    rate_limit: RateLimit
    keepalive: Keepalive
    log_format: str
    log_level: str
    # host:port of the Prometheus exposition (/metrics, plain HTTP); None: off.
    metrics_listen: str | None = None
    # The live wallboard's HTTP server (acd.server.wallboard); its listen None: off.
    wallboard: WallboardConfig = field(default_factory=WallboardConfig)


@dataclass(frozen=True, slots=True)
class StorageConfig:
    data_dir: Path
    # A snapshot is taken after this many journal entries or this long, whichever comes
    # first; 0 turns that trigger off (not both: replay time must stay bounded).
    snapshot_every_entries: int
    snapshot_every_ms: int
    group_commit_max_batch: int


_SERVER_KEYS = (
    *("listen", "tls", "reflection", "max_message_bytes", "max_concurrent_rpcs"),
    *("rate_limit", "keepalive", "log_format", "log_level", "metrics"),
    "wallboard",
)
_TLS_KEYS = ("cert_file", "key_file", "client_ca_file", "require_client_cert")
_STORAGE_KEYS = (
    "data_dir",
    "snapshot_every_entries",
    "snapshot_every_s",
    "group_commit_max_batch",
)


def is_loopback(address: str) -> bool:
    """Whether a listen address (already validated) is reachable from this host only."""
    if address.startswith("unix:"):
        return True
    match = _HOST_PORT.fullmatch(address)
    assert match is not None
    host = match["v6"] or match["host"]
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _listen(t: Table) -> tuple[str, ...]:
    """A list of ``host:port``, ``[v6]:port`` or ``unix:path``; a string is a comma list."""
    raw = t.raw.get("listen", ["127.0.0.1:50051"])
    path = t.key("listen")
    if isinstance(raw, str):
        raw = [part.strip() for part in raw.split(",")]
    if not isinstance(raw, list) or not raw:
        raise ConfigError(path, f"expected a non-empty array of addresses, got {type_name(raw)}")
    for i, address in enumerate(raw):
        if not isinstance(address, str):
            raise ConfigError(f"{path}[{i}]", f"expected a string, got {type_name(address)}")
        if address.startswith("unix:") and len(address) > len("unix:"):
            continue
        match = _HOST_PORT.fullmatch(address)
        if match is None or not 1 <= int(match["port"]) <= 65535:
            raise ConfigError(
                f"{path}[{i}]", f"{address!r} is not 'host:port', '[v6]:port' or 'unix:path'"
            )
    if len(set(raw)) != len(raw):
        raise ConfigError(path, "an address is listed twice")
    return tuple(raw)


def _file(t: Table, name: str) -> Path:
    path = Path(t.string(name))
    if not path.is_file():
        raise ConfigError(t.key(name), f"no such file {str(path)!r}")
    return path


def _tls(t: Table) -> TlsConfig | None:
    if "tls" not in t.raw:
        return None
    tls = t.table("tls", _TLS_KEYS)
    client_ca = _file(tls, "client_ca_file") if tls.has("client_ca_file") else None
    require = tls.boolean("require_client_cert", False)
    if require and client_ca is None:
        raise ConfigError(tls.key("require_client_cert"), "needs client_ca_file")
    return TlsConfig(_file(tls, "cert_file"), _file(tls, "key_file"), client_ca, require)


def parse_server(raw: object) -> ServerConfig:
    t = Table(raw, "server", _SERVER_KEYS)
    rate = t.table("rate_limit", ("requests_per_second", "burst"))
    keepalive = t.table("keepalive", ("time_s", "timeout_s"))
    return ServerConfig(
        listen=_listen(t),
        tls=_tls(t),
        reflection=t.boolean("reflection", False),
        max_message_bytes=t.integer("max_message_bytes", 4 * 2**20, 1024, 2**31 - 1),
        max_concurrent_rpcs=t.integer("max_concurrent_rpcs", 10_000, 1, 10**6),
        rate_limit=RateLimit(
            requests_per_second=rate.number("requests_per_second", 1000, 0, 10**7),
            burst=rate.integer("burst", 2000, 1, 10**8),
        ),
        keepalive=Keepalive(
            time_ms=keepalive.millis("time_s", 60_000, minimum_s=1),
            timeout_ms=keepalive.millis("timeout_s", 20_000, minimum_s=1),
        ),
        log_format=t.choice("log_format", "text", LOG_FORMATS),
        log_level=t.choice("log_level", "info", LOG_LEVELS),
        metrics_listen=_metrics(t),
        wallboard=parse_wallboard(t),
    )


def _metrics(t: Table) -> str | None:
    """``[server.metrics] listen = "host:port"`` (an IP literal or localhost); absent: off."""
    m = t.table("metrics", ("listen",))
    listen = m.optional_string("listen")
    if listen is None:
        return None
    match = _HOST_PORT.fullmatch(listen)
    if match is None or match["v6"] is not None or not 0 <= int(match["port"]) <= 65535:
        raise ConfigError(m.key("listen"), f"{listen!r} is not 'host:port'")
    return listen


def parse_storage(raw: object) -> StorageConfig:
    t = Table(raw, "storage", _STORAGE_KEYS)
    data_dir = t.string("data_dir", "data")
    if not data_dir:
        raise ConfigError(t.key("data_dir"), "must not be empty")
    entries = t.integer("snapshot_every_entries", 100_000, 0, 10**12)
    every_ms = t.millis("snapshot_every_s", 300_000)
    if entries == 0 and every_ms == 0:
        raise ConfigError(
            t.key("snapshot_every_entries"),
            "snapshots need a trigger: set it or snapshot_every_s above 0",
        )
    return StorageConfig(
        data_dir=Path(data_dir),
        snapshot_every_entries=entries,
        snapshot_every_ms=every_ms,
        group_commit_max_batch=t.integer("group_commit_max_batch", 512, 1, 100_000),
    )
