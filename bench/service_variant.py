"""``acd serve`` with one part of the service replaced, for bench/service_budget.py:

    python bench/service_variant.py VARIANT serve --config acd.toml

VARIANT is one of:
- ``real``: the service as it is;
- ``empty-handler``: EnqueueCall answers at once with an empty response. What is left is the
  transport's work (grpc.aio, protobuf) and the service's around the handler (the auth
  interceptor, the server's options);
- ``commit-only``: EnqueueCall journals one entry and answers once it is committed, and does
  nothing else: the durable acknowledgement alone (group commit, ``synchronous=FULL``);
- ``free-journal``: the real service, but every journal append is settled at once and written
  nowhere, and snapshots are not stored: what the service would do with a journal that cost
  nothing, an upper bound for any journal.

A bench instrument only: nothing ``free-journal`` acknowledges is durable, and the entries
``commit-only`` writes are no commands a router could replay.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence
from typing import Any

from acd import cli
from acd.server import group_commit, journal, routing_service
from acd.server.group_commit import Then
from acd.server.service_base import Context
from acd.server.sql_transaction import Statement
from acd.v1 import routing_pb2

VARIANTS = ("real", "empty-handler", "commit-only", "free-journal")
COMMIT_ONLY_TENANT = "bench-commit-only"  # a journal sequence of its own, beside the tenant's


async def _empty_enqueue(
    self: routing_service.RoutingService,
    request: routing_pb2.EnqueueCallRequest,
    context: Context,
) -> routing_pb2.EnqueueCallResponse:
    return routing_pb2.EnqueueCallResponse()


async def _commit_only_enqueue(
    self: routing_service.RoutingService,
    request: routing_pb2.EnqueueCallRequest,
    context: Context,
) -> routing_pb2.EnqueueCallResponse:
    tenant = self._shared.tenant()
    await tenant.journal.append(COMMIT_ONLY_TENANT, ("bench", request.call.call_id))
    return routing_pb2.EnqueueCallResponse()


def _free_journal() -> None:
    last_seqs: dict[str, int] = {}

    def submit_append(
        self: group_commit.GroupCommitWriter,
        tenant: str,
        encoded: list[str],
        many: bool,
        extra: Sequence[Statement] = (),
        then: Then | None = None,
    ) -> asyncio.Future[Any]:
        first = last_seqs.get(tenant, 0) + 1
        last_seqs[tenant] = first + len(encoded) - 1
        value: Any = list(range(first, first + len(encoded))) if many else first
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        future.set_result(value)
        if then is not None:
            then(value, None)
        return future

    def save_snapshot(
        self: journal.Journal, tenant: str, seq: int, data: bytes, then: Any = None
    ) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    group_commit.GroupCommitWriter.submit_append = submit_append  # type: ignore[method-assign]
    journal.Journal.save_snapshot = save_snapshot  # type: ignore[method-assign]


def apply(variant: str) -> None:
    """Replaces the variant's part of the service (before the server is built)."""
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; one of {', '.join(VARIANTS)}")
    service = routing_service.RoutingService
    if variant == "empty-handler":
        service.EnqueueCall = _empty_enqueue  # type: ignore[method-assign]
    elif variant == "commit-only":
        service.EnqueueCall = _commit_only_enqueue  # type: ignore[method-assign]
    elif variant == "free-journal":
        _free_journal()


if __name__ == "__main__":
    apply(sys.argv[1])
    sys.exit(cli.main(sys.argv[2:]))
