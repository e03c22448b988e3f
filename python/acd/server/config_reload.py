"""ReloadConfig: acd.toml read again, validated whole, applied tenant by tenant.

The service remembers the file it was started with (``acd serve --config``). A reload reads it
(environment overrides included, as at start) and validates all of it before changing anything:
a mistake is INVALID_ARGUMENT naming its key path. A tenant admin's reload applies its own
tenant's section and tokens (a mistake elsewhere in the file is reported without details: other
tenants' sections are not its business); a platform admin's applies every tenant (starting the
ones the file adds) and every token. Each changed tenant goes through ``tenant_admin`` like an
upsert: a new configuration version, journaled, calls and agents kept. Removing a queue that
holds calls or an agent who is logged in is checked for every tenant first (FAILED_PRECONDITION,
nothing changed). ``[server]`` and ``[storage]`` take effect at the next start (a warning says
so), as does a tenant dropped from the file, which keeps running until deleted
(PlatformService.DeleteTenant).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc

from acd.server.auth import Identity, Role
from acd.server.commands import Refusal
from acd.server.config import Config, ConfigError, TenantConfig, load_config
from acd.server.config_fields import join
from acd.server.tenant_admin import check_removals
from acd.server.tenant_registry import TenantRegistry, merge_tenant
from acd.v1 import admin_pb2


def warnings_of(tenant: TenantConfig) -> list[str]:
    """What is valid but probably unintended in one tenant's configuration."""
    where = join("tenants", tenant.id)
    out = []
    for i, q in enumerate(tenant.queues):
        lower = 0
        max_tier = q.max_tier
        for step in q.escalation:  # the loosest requirement the queue reaches
            lower = step.lower_levels_by if step.lower_levels_by is not None else lower
            max_tier = step.max_tier if step.max_tier is not None else max_tier
        needs = {s: max(1, level - lower) for s, level in q.skills.items()}
        if not any(
            all(a.skills.get(s, 0) >= level for s, level in needs.items())
            and (max_tier == 0 or a.tier <= max_tier)
            for a in tenant.agents
        ):
            out.append(f"{where}.queues[{i}] ({q.id}): no agent can serve it")
    for i, a in enumerate(tenant.agents):
        if tenant.queues and not any(
            all(a.skills.get(s, 0) >= level for s, level in q.skills.items()) for q in tenant.queues
        ):
            out.append(f"{where}.agents[{i}] ({a.id}): has the skills of no queue")
    used = {q.hours for q in tenant.queues}
    for i, h in enumerate(tenant.hours):
        if h.id not in used:
            out.append(f"{where}.hours[{i}] ({h.id}): no queue uses it")
    return out


def _refusal(e: ConfigError, who: Identity) -> Refusal:
    if who.role is Role.PLATFORM_ADMIN or who.tenant is None:
        return Refusal(grpc.StatusCode.INVALID_ARGUMENT, str(e), e.path)
    own = join("tenants", who.tenant)
    if e.path == own or e.path.startswith((own + ".", own + "[")):
        return Refusal(grpc.StatusCode.INVALID_ARGUMENT, str(e), e.path)
    return Refusal(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"acd.toml does not validate outside tenant {who.tenant!r}'s section; ask the platform"
        " administrator",
    )


async def reload(
    registry: TenantRegistry, who: Identity, dry_run: bool
) -> admin_pb2.ReloadConfigResponse:
    path = registry.config_path
    if path is None:
        raise Refusal(
            grpc.StatusCode.FAILED_PRECONDITION,
            "the service was started without a config file (acd serve --config PATH)",
        )
    async with registry.reload_lock:
        try:
            new = await asyncio.to_thread(load_config, path)
        except ConfigError as e:
            raise _refusal(e, who) from None
        platform = who.role is Role.PLATFORM_ADMIN
        if platform:
            scope = sorted(new.tenants)
        else:
            assert who.tenant is not None
            if who.tenant not in new.tenants:
                raise Refusal(
                    grpc.StatusCode.FAILED_PRECONDITION,
                    f"tenant {who.tenant!r} is not declared in acd.toml (created through the"
                    " API): change its configuration with the Upsert methods",
                )
            scope = [who.tenant]
        changes = []
        for tenant_id in scope:
            managed = registry.managed.get(tenant_id)
            config = new.tenants[tenant_id]
            if managed is not None and managed.tenant.config != config:
                running = managed.tenant.config.seed
                if config.seed != running:
                    seed = join(join("tenants", tenant_id), "seed")
                    raise Refusal(
                        grpc.StatusCode.INVALID_ARGUMENT,
                        f"{seed}: a running tenant keeps its seed ({running}; replay depends"
                        " on it)",
                        seed,
                    )
                check_removals(managed.tenant, config, join("tenants", tenant_id))
                changes.append(tenant_id)
        warnings = [w for t in scope for w in warnings_of(new.tenants[t])]
        if platform:
            warnings += _platform_warnings(registry, new)
        if not dry_run:
            for tenant_id in scope:
                config = new.tenants[tenant_id]
                if tenant_id in changes:
                    await registry.change(
                        tenant_id, _replace_with(config), join("tenants", tenant_id)
                    )
                elif tenant_id not in registry.managed:
                    await registry.start_tenant(tenant_id, config)
            assert who.tenant is not None or platform
            declared = new if platform else merge_tenant(registry.declared, new, str(who.tenant))
            registry.replace_declared(declared)
        versions = {t: registry.managed[t].version for t in scope if t in registry.managed}
        version = 0 if platform else versions.get(str(who.tenant), 0)
        return admin_pb2.ReloadConfigResponse(
            config_version=version, warnings=warnings, tenant_versions=versions
        )


def _replace_with(config: TenantConfig) -> Callable[[TenantConfig], TenantConfig]:
    return lambda _: config


def _platform_warnings(registry: TenantRegistry, new: Config) -> list[str]:
    out = []
    old = registry.declared
    for tenant_id in sorted(set(old.tenants) - set(new.tenants)):
        out.append(
            f"tenants.{tenant_id}: no longer in acd.toml; it keeps running and can now be"
            " deleted (PlatformService.DeleteTenant)"
        )
    for section in ("mode", "server", "storage"):
        if getattr(old, section) != getattr(new, section):
            out.append(f"{section}: changed; takes effect at the next start")
    return out
