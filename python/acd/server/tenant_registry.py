"""Which tenants the service runs, and the bearer tokens they are reached with.

The journal's tenant registry is the list: a tenant of acd.toml is registered at its first
start, one created through the API (``create``) when it is created, each with its first
configuration version in the same transaction. At start the service runs every registered
tenant plus the ones acd.toml declares, each with its stored live configuration version (see
``tenant_admin``): changes made through the API survive a restart, and acd.toml edits reach a
running tenant through ReloadConfig (the service warns at start when they differ).

Tokens: the live ``TokenTable`` is acd.toml's tokens plus the tokens issued through the API
(``issue_token``, and the admin token ``create`` returns), whose hashes the journal keeps.
A new tenant is reached through its admin token; its admin issues the other tokens
(AdminService.IssueToken), agents' included. Tokens in acd.toml name only tenants acd.toml
declares.

``delete`` refuses a tenant acd.toml declares (it would come back at the next start) and one
holding live calls; otherwise it takes the tenant out of service at once (its tokens stop
working, its commands are refused), stops its router and streams, and deletes its rows.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from collections.abc import Callable
from pathlib import Path

import grpc

from acd.server.auth import Identity, Role, TokenEntry, TokenTable, hash_token, new_token
from acd.server.clock import Clock
from acd.server.commands import Refusal
from acd.server.config import Config, StorageConfig, TenantConfig
from acd.server.config_raw import dumps, loads
from acd.server.config_tenant import parse_tenant
from acd.server.journal import IssuedToken, Journal, StoredConfig
from acd.server.tenant import Tenant
from acd.server.tenant_admin import (
    ManagedTenant,
    change_config,
    settle_pending,
)

log = logging.getLogger("acd.server")

TENANT_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")  # as config.py checks acd.toml's
ADMIN_NAME = "admin"  # the identity of the admin token ``create`` returns


class TenantRegistry:
    """The running tenants (``tenants`` is the mapping the services read), their versions and
    the token table."""

    def __init__(
        self,
        declared: Config,
        journal: Journal,
        storage: StorageConfig,
        clock: Clock,
        stats_period_s: float,
        config_path: Path | None = None,
    ) -> None:
        self.declared = declared  # acd.toml as last loaded or reloaded
        self.config_path = config_path
        self.journal = journal
        self.clock = clock
        self.tenants: dict[str, Tenant] = {}
        self.managed: dict[str, ManagedTenant] = {}
        self.tokens = TokenTable(())
        self._issued: list[IssuedToken] = []
        self._storage = storage
        self._stats_period_s = stats_period_s
        self.reload_lock = asyncio.Lock()

    # ---- start / stop -----------------------------------------------------------------

    async def start(self) -> None:
        registered = self.journal.registry()
        for tenant_id in sorted(set(self.declared.tenants) | set(registered)):
            await self.start_tenant(tenant_id, self.declared.tenants.get(tenant_id))
        self._issued = self.journal.issued_tokens()
        self.refresh_tokens()

    async def start_tenant(self, tenant_id: str, declared: TenantConfig | None) -> Tenant:
        """Runs a registered tenant (registering it first with ``declared``, or an empty
        configuration) from its live configuration version and its journal."""
        now = self.clock.now()
        fresh = declared if declared is not None else parse_tenant({}, tenant_id)
        await self.journal.register_tenant(tenant_id, now, dumps(fresh))
        created_at = self.journal.registry().get(tenant_id, now)
        stored = await settle_pending(self.journal, tenant_id)
        if stored is None:  # registered before configurations were stored
            stored = StoredConfig(1, 0, now, dumps(fresh))
            await self.journal.put_config(tenant_id, stored)
        config = loads(stored.text, tenant_id)
        if declared is not None and declared != config:
            log.warning(
                "tenant %s: runs configuration version %d (changed through the API), which"
                " differs from acd.toml; ReloadConfig applies acd.toml",
                tenant_id,
                stored.version,
            )
        tenant = Tenant(config, self.journal, self._storage, self.clock, self._stats_period_s)
        await tenant.start()
        self.tenants[tenant_id] = tenant
        self.managed[tenant_id] = ManagedTenant(tenant, stored.version, stored.seq or 0, created_at)
        log.info(
            "tenant %s ready: config version %d, %d live calls",
            tenant_id,
            stored.version,
            len(tenant.live_calls),
        )
        return tenant

    def close_streams(self) -> None:
        for tenant in self.tenants.values():
            tenant.close_streams()

    async def stop(self) -> None:
        for tenant in self.tenants.values():
            await tenant.stop()

    # ---- configuration ----------------------------------------------------------------

    def get(self, tenant_id: str) -> ManagedTenant:
        return self.managed[tenant_id]

    async def change(
        self, tenant_id: str, build: Callable[[TenantConfig], TenantConfig], where: str
    ) -> tuple[TenantConfig, int]:
        """Builds the tenant's next configuration from its current one (``build`` validates;
        it may raise :class:`Refusal`) and puts it live; gives it and its version."""
        managed = self.managed[tenant_id]
        async with managed.lock:
            config = build(managed.tenant.config)
            version = await change_config(managed, self.journal, config, where)
            return config, version

    # ---- tokens -----------------------------------------------------------------------

    def refresh_tokens(self) -> None:
        issued = [
            TokenEntry(t.hash, Identity(t.tenant, t.name, Role(t.role), t.agent))
            for t in self._issued
            if t.tenant in self.tenants
        ]
        self.tokens.replace((*self.declared.tokens, *issued))

    def issued_entries(self) -> list[TokenEntry]:
        return [
            TokenEntry(t.hash, Identity(t.tenant, t.name, Role(t.role), t.agent))
            for t in self._issued
        ]

    def identity_named(self, tenant_id: str, name: str) -> Identity | None:
        for entry in self.tokens.entries():
            if entry.identity.tenant == tenant_id and entry.identity.name == name:
                return entry.identity
        return None

    async def issue_token(self, who: Identity) -> tuple[str, str]:
        """A new token for ``who`` (a tenant's account); gives the token and its hash."""
        assert who.tenant is not None
        token, _ = new_token()
        issued = IssuedToken(
            who.tenant, hash_token(token), who.name, who.role.value, who.agent_id, self.clock.now()
        )
        await self.journal.issue_token(issued)
        self._issued.append(issued)
        self.refresh_tokens()
        return token, issued.hash

    async def revoke_tokens(self, tenant_id: str, name: str) -> int:
        revoked = await self.journal.revoke_tokens(tenant_id, name)
        self._issued = [t for t in self._issued if (t.tenant, t.name) != (tenant_id, name)]
        self.refresh_tokens()
        return revoked

    # ---- tenants ----------------------------------------------------------------------

    async def create(self, tenant_id: str, display_name: str) -> tuple[ManagedTenant, str]:
        """Creates and starts an empty tenant; gives it and its admin token."""
        if not TENANT_ID.fullmatch(tenant_id):
            raise Refusal(
                grpc.StatusCode.INVALID_ARGUMENT,
                "tenant_id: 1..63 of a-z, 0-9, '_', '-', starting with a letter or digit",
                "tenant_id",
            )
        if tenant_id in self.tenants or tenant_id in self.journal.tenants():
            raise Refusal(
                grpc.StatusCode.ALREADY_EXISTS,
                f"tenant_id {tenant_id!r}: a tenant with this id exists",
                "tenant_id",
            )
        config = parse_tenant({"name": display_name} if display_name else {}, tenant_id)
        now = self.clock.now()
        token, _ = new_token()
        admin = IssuedToken(tenant_id, hash_token(token), ADMIN_NAME, Role.ADMIN.value, None, now)
        if not await self.journal.register_tenant(tenant_id, now, dumps(config), admin):
            raise Refusal(
                grpc.StatusCode.ALREADY_EXISTS,
                f"tenant_id {tenant_id!r}: a tenant with this id exists",
                "tenant_id",
            )
        await self.start_tenant(tenant_id, None)
        self._issued.append(admin)
        self.refresh_tokens()
        log.info("tenant %s created", tenant_id)
        return self.managed[tenant_id], token

    async def delete(self, tenant_id: str) -> ManagedTenant:
        managed = self.managed.get(tenant_id)
        if managed is None:
            raise Refusal(
                grpc.StatusCode.NOT_FOUND, f"tenant_id {tenant_id!r}: unknown tenant", "tenant_id"
            )
        if tenant_id in self.declared.tenants:
            raise Refusal(
                grpc.StatusCode.FAILED_PRECONDITION,
                f"tenant_id {tenant_id!r}: declared in acd.toml, it would come back at the next"
                " start; remove it from acd.toml and reload (ReloadConfig) first",
                "tenant_id",
            )
        async with managed.lock:
            tenant = managed.tenant
            if tenant.live_calls:
                raise Refusal(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"tenant_id {tenant_id!r}: holds {len(tenant.live_calls)} live call(s);"
                    " delete it once they have ended",
                    "tenant_id",
                )
            # From here on nothing reaches it: not its tokens, not a request holding it.
            del self.tenants[tenant_id]
            del self.managed[tenant_id]
            self._issued = [t for t in self._issued if t.tenant != tenant_id]
            self.refresh_tokens()
            tenant.failed = "the tenant was deleted"
            tenant.close_streams()
            await tenant.stop()
            await self.journal.delete_tenant(tenant_id)
        log.info("tenant %s deleted", tenant_id)
        return managed

    def replace_declared(self, declared: Config) -> None:
        self.declared = declared
        self.refresh_tokens()


def merge_tenant(old: Config, new: Config, tenant_id: str) -> Config:
    """``old`` with one tenant's section and tokens taken from ``new`` (a tenant admin's
    reload changes only its own tenant)."""
    tenants = {k: v for k, v in old.tenants.items() if k != tenant_id}
    if tenant_id in new.tenants:
        tenants[tenant_id] = new.tenants[tenant_id]
    tokens = (
        *(t for t in old.tokens if t.identity.tenant != tenant_id),
        *(t for t in new.tokens if t.identity.tenant == tenant_id),
    )
    return dataclasses.replace(old, tenants=tenants, tokens=tokens)
