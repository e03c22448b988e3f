"""Fuzz target: every RPC of every acd.v1 service, with requests built from the fuzzer's bytes.

One execution: pick a method (``fuzz_world.rpc_methods``), a token of a role allowed to call it,
fill its request (for a client stream: one to three requests) from the bytes
(``fuzz_values.fill``), call it. A finding is

- a status outside ``ALLOWED`` (UNKNOWN or INTERNAL is an uncaught exception in a handler;
  UNAVAILABLE a tenant whose journal failed),
- INVALID_ARGUMENT without a message naming what is wrong,
- a refused unary request after which a tenant's router, config or live calls, the set of
  tenants or the tokens differ from before (``World.fingerprint``), or its journal holds more
  than the clock movement of the refusal (``World.journaled_since``),
- health not SERVING (checked every ``HEALTH_EVERY`` executions and at the end).

Run it with ``make fuzz`` (``fuzz_run.py``, coverage-guided, bounded time) or a fixed number of
inputs from pytest (tests/test_fuzz_smoke.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import grpc
from fuzz_values import DataProvider, Values, fill
from fuzz_world import World

ALLOWED = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.NOT_FOUND,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.PERMISSION_DENIED,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
HEALTH_EVERY = 100


class Finding(AssertionError):
    """What the fuzzer reports (an uncaught exception ends a libFuzzer run with its input)."""


class RpcTarget:
    def __init__(self, world: World | None = None) -> None:
        base = os.environ.get("ACD_FUZZ_DIR")
        self.world = world or World(Path(base) if base else None)
        self.executions = 0
        self.codes: dict[str, int] = {}

    def one_input(self, fdp: DataProvider) -> None:
        world = self.world
        values = Values(fdp)
        method = world.methods[fdp.ConsumeIntInRange(0, len(world.methods) - 1)]
        token = str(values.choice(list(method.tokens)))
        n = fdp.ConsumeIntInRange(1, 3) if method.client_streaming else 1
        requests = [fill(method.request(), values) for _ in range(n)]
        unary = not method.client_streaming and not method.server_streaming
        before = world.fingerprint() if unary else None
        code, details = world.invoke(method, token, requests)
        self.codes[code.name] = self.codes.get(code.name, 0) + 1
        where = f"{method.path} ({token}) {requests[0]!r:.600}"
        if code not in ALLOWED and not (code is grpc.StatusCode.DEADLINE_EXCEEDED and not unary):
            raise Finding(f"{where}: {code.name} {details}")
        if code is grpc.StatusCode.INVALID_ARGUMENT and not details.strip():
            raise Finding(f"{where}: INVALID_ARGUMENT without a message")
        if unary and code is not grpc.StatusCode.OK:
            assert before is not None
            after = world.fingerprint()
            journaled = world.journaled_since(before.seqs)
            if after.state != before.state or journaled:
                parts = [
                    i
                    for i, (a, b) in enumerate(zip(before.state, after.state, strict=True))
                    if a != b
                ]
                why = f"journaled {journaled!r:.300}" if journaled else f"changed {parts}"
                raise Finding(f"{where}: refused with {code.name} ({details}) but {why}")
        if not unary:
            world.settle()
        self.executions += 1
        if self.executions % HEALTH_EVERY == 0:
            self.check_serving()
        if not world.intact():
            world.restart()

    def check_serving(self) -> None:
        if not self.world.serving():
            raise Finding(f"health is not SERVING after {self.executions} executions")

    def close(self) -> None:
        self.check_serving()
        self.world.close()


def make_target() -> RpcTarget:
    return RpcTarget()
