"""grpc.health.v1 for the service: Check, and Watch streams that end at shutdown.

grpc_health's servicer keeps a Watch stream open after telling it NOT_SERVING, and a graceful
stop waits for every open RPC: one watcher (client-side health checking, a probe with
``-watch``) would hold the stop for the whole grace period. Here a watcher is told NOT_SERVING
and its stream then ends, so the stop waits only for real work.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc  # type: ignore[import-untyped]

Status = int  # health_pb2.HealthCheckResponse.ServingStatus
SERVING: Status = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING: Status = health_pb2.HealthCheckResponse.NOT_SERVING
UNKNOWN: Status = health_pb2.HealthCheckResponse.SERVICE_UNKNOWN


class Health(health_pb2_grpc.HealthServicer):  # type: ignore[misc]
    def __init__(self) -> None:
        self._status: dict[str, Status] = {}
        self._changed = asyncio.Condition()
        self.shutting_down = False

    async def set(self, service: str, status: Status) -> None:
        if self.shutting_down:
            return
        async with self._changed:
            self._status[service] = status
            self._changed.notify_all()

    async def enter_graceful_shutdown(self) -> None:
        """Every service NOT_SERVING from now on; watchers are told and their streams end."""
        async with self._changed:
            self.shutting_down = True
            for service in self._status:
                self._status[service] = NOT_SERVING
            self._changed.notify_all()

    async def Check(self, request: Any, context: Any) -> Any:
        status = self._status.get(request.service)
        if status is None:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"unknown service {request.service!r}")
        return health_pb2.HealthCheckResponse(status=status)

    async def Watch(self, request: Any, context: Any) -> AsyncIterator[Any]:
        last: Status | None = None
        while True:
            async with self._changed:
                status = self._status.get(request.service, UNKNOWN)
                while status == last and not self.shutting_down:
                    await self._changed.wait()
                    status = self._status.get(request.service, UNKNOWN)
                ending = self.shutting_down
            if status != last:
                yield health_pb2.HealthCheckResponse(status=status)
                last = status
            if ending:
                return
