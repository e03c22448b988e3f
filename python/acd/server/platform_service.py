"""PlatformService: the tenants themselves (role platform-admin; requests name the tenant).

Tenants come from acd.toml or from CreateTenant; both are listed, and both survive a restart
(``tenant_registry``). CreateTenant answers with the new tenant's first admin token, once.
"""

from __future__ import annotations

from acd.server.service_base import Context, guarded, require_id
from acd.server.tenant_admin import ManagedTenant
from acd.server.tenant_registry import TenantRegistry
from acd.v1 import platform_pb2, platform_pb2_grpc


class PlatformService(platform_pb2_grpc.PlatformServiceServicer):
    def __init__(self, registry: TenantRegistry) -> None:
        self._registry = registry

    def _tenant(self, managed: ManagedTenant) -> platform_pb2.Tenant:
        tenant = managed.tenant
        return platform_pb2.Tenant(
            tenant_id=tenant.id,
            display_name=tenant.config.name,
            created_at_ms=managed.created_at_ms,
            declared_in_config=tenant.id in self._registry.declared.tenants,
        )

    @guarded
    async def ListTenants(
        self, request: platform_pb2.ListTenantsRequest, context: Context
    ) -> platform_pb2.ListTenantsResponse:
        managed = self._registry.managed
        tenants = [self._tenant(managed[t]) for t in sorted(managed)]
        return platform_pb2.ListTenantsResponse(tenants=tenants)

    @guarded
    async def CreateTenant(
        self, request: platform_pb2.CreateTenantRequest, context: Context
    ) -> platform_pb2.CreateTenantResponse:
        tenant_id = require_id(request.tenant_id, "tenant_id")
        if request.display_name:
            require_id(request.display_name, "display_name")
        managed, token = await self._registry.create(tenant_id, request.display_name)
        return platform_pb2.CreateTenantResponse(tenant=self._tenant(managed), admin_token=token)

    @guarded
    async def DeleteTenant(
        self, request: platform_pb2.DeleteTenantRequest, context: Context
    ) -> platform_pb2.DeleteTenantResponse:
        tenant_id = require_id(request.tenant_id, "tenant_id")
        managed = await self._registry.delete(tenant_id)
        tenant = self._tenant(managed)
        return platform_pb2.DeleteTenantResponse(tenant=tenant)
