"""The ``[[tokens]]`` table and the dev-only ``[[dev.demo_tokens]]``.

```toml
[[tokens]]
hash = "sha256:<64 hex>"   # python -m acd.server.auth prints a token and this line
tenant = "store"           # omitted for role platform-admin, required otherwise
name = "asterisk-1"        # the identity: logs, rate limits, seat report
role = "adapter"           # adapter | agent | supervisor | crm | admin | platform-admin
agent = "anna"             # role agent only: the agent this token acts as
```

Demo tokens are the same entries with ``token = "<plaintext>"`` instead of ``hash``. They exist
so that ``make run`` can print working tokens, and are safe only because the loader accepts them
under ``mode = "dev"`` alone, and only while every listen address is loopback: a dev config
cannot be exposed to a network by editing one line or setting one variable. They are hashed
into the same token table as the others; the plaintext is kept only to be printed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from acd.server.auth import Identity, Role, TokenEntry, hash_token
from acd.server.config_fields import REQUIRED, ConfigError, Table
from acd.server.config_tenant import TenantConfig

_HASH = re.compile(r"sha256:[0-9a-f]{64}")
_IDENTITY_KEYS = ("tenant", "name", "role", "agent")
TOKEN_KEYS = ("hash", *_IDENTITY_KEYS)
DEMO_TOKEN_KEYS = ("token", *_IDENTITY_KEYS)


@dataclass(frozen=True, slots=True)
class DemoToken:
    """A dev-mode token in plaintext, to be printed at start; never in a production config."""

    token: str = field(repr=False)
    identity: Identity


AgentIds = Callable[[str], frozenset[str]]


def _identity(t: Table, tenants: Mapping[str, TenantConfig], agents: AgentIds) -> Identity:
    role = Role(t.choice("role", REQUIRED, [r.value for r in Role]))
    name = t.ident("name")
    tenant = t.optional_string("tenant")
    if role is Role.PLATFORM_ADMIN:
        if tenant is not None:
            raise ConfigError(t.key("tenant"), "platform-admin tokens belong to no tenant")
    elif tenant is None:
        raise ConfigError(t.key("tenant"), f"missing (a {role} token belongs to a tenant)")
    elif tenant not in tenants:
        raise ConfigError(t.key("tenant"), f"unknown tenant {tenant!r}")
    agent = t.optional_string("agent")
    if role is Role.AGENT:
        if agent is None:
            raise ConfigError(t.key("agent"), "missing (an agent token names its agent)")
        assert tenant is not None
        if agent not in agents(tenant):
            raise ConfigError(t.key("agent"), f"unknown agent {agent!r} in tenant {tenant!r}")
    elif agent is not None:
        raise ConfigError(t.key("agent"), "only agent tokens name an agent")
    return Identity(tenant, name, role, agent)


def parse_tokens(
    root: Table, tenants: Mapping[str, TenantConfig], demo: list[Table]
) -> tuple[tuple[TokenEntry, ...], tuple[DemoToken, ...]]:
    """The token table (demo tokens hashed in) and the demo tokens themselves."""
    # Each tenant's agent ids, built once: a large roster has one token per agent.
    ids: dict[str, frozenset[str]] = {}

    def agents(tenant: str) -> frozenset[str]:
        if tenant not in ids:
            ids[tenant] = tenants[tenant].agent_ids()
        return ids[tenant]

    entries: list[tuple[str, TokenEntry]] = []
    for t in root.tables("tokens", TOKEN_KEYS):
        digest = t.string("hash")
        if not _HASH.fullmatch(digest):
            raise ConfigError(t.key("hash"), "expected 'sha256:' and 64 lower-case hex digits")
        entries.append((t.key("hash"), TokenEntry(digest, _identity(t, tenants, agents))))
    demo_tokens = []
    for t in demo:
        token = t.ident("token")
        identity = _identity(t, tenants, agents)
        demo_tokens.append(DemoToken(token, identity))
        entries.append((t.key("token"), TokenEntry(hash_token(token), identity)))
    by_hash: dict[str, str] = {}
    by_name: dict[tuple[str | None, str], tuple[str, Identity]] = {}
    for path, entry in entries:
        if entry.hash in by_hash:
            raise ConfigError(path, f"the same token as {by_hash[entry.hash]}")
        by_hash[entry.hash] = path
        key = (entry.identity.tenant, entry.identity.name)
        first = by_name.setdefault(key, (path, entry.identity))
        # Two tokens may share an identity (a rotation), but a name means one role and agent.
        if first[1] != entry.identity:
            where = path.rsplit(".", 1)[0]
            raise ConfigError(
                f"{where}.name", f"{key[1]!r} is already another identity at {first[0]}"
            )
    return tuple(e for _, e in entries), tuple(demo_tokens)
