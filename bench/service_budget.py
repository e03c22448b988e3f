"""Where the service's time goes: bench/service_vs_echo.py's unary, lifecycle and batch
figures for the service as it is and with one part of it replaced (bench/service_variant.py),
in one run, on the same client and the same echo server.

    python bench/service_budget.py [--quick]

Each variant gets a server of its own, started afresh:
- ``empty-handler``: EnqueueCall answers at once. Left: grpc.aio, protobuf, the auth
  interceptor: what no handler can avoid;
- ``commit-only``: EnqueueCall waits for one journal entry's commit and does nothing else: the
  durable acknowledgement the service promises, alone;
- ``free-journal``: the real service on a journal that costs nothing (appends settled at once,
  nothing written): the most any journal could give;
- ``real``: the service as it is.

Unary EnqueueCall is measured for every variant as service_vs_echo measures it (requests
serialized before the phase, the same concurrency and metadata), taking turns with the echo
server's unary phase; its ratio to echo is the variant's ``unary_ratio``. Lifecycles and
EnqueueCalls batches are measured for ``free-journal`` and ``real`` (the other two change only
EnqueueCall).

Prints a table (with the load generator's CPU beside the server's: on a machine whose cores
the generator shares, it says when the generator was the limit) and, as its last line, one
JSON object: ``unary_ratio_<variant>``, ``lifecycle_calls_per_s_<variant>``,
``batch_enqueue_per_s_<variant>`` (variant names with ``_`` for ``-``), ``echo_unary_per_s``,
and the phases the generator held back.

Reading it: where ``free-journal`` stays under one of service_vs_echo's targets, no journal
work can meet that target; where ``commit-only`` does, neither can a service that does nothing
but acknowledge durably.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import grpc
import uvloop

from acd.client import connect
from service_lifecycles import answering, lifecycle_phase
from service_measure import Plan, Row, print_table
from service_servers import ADAPTER_TOKEN, Process, start_echo, start_service, wait_serving
from service_variant import VARIANTS
from service_vs_echo import enqueue_batch_phase, unary_rounds

ORDER = ("empty-handler", "commit-only", "free-journal", "real")
WHOLE = ("free-journal", "real")  # the variants that change more than EnqueueCall
assert set(ORDER) == set(VARIANTS)


def key(variant: str) -> str:
    return variant.replace("-", "_")


async def measure(
    variant: str, plan: Plan, log_dir: Path, echo: Process, echo_channel: grpc.aio.Channel
) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    out: dict[str, Any] = {}
    directory = log_dir / variant
    directory.mkdir()
    service, target = start_service(directory, plan.lifecycle_agents, variant)
    try:
        await wait_serving(service, target, 60)
        if variant in WHOLE:
            async with connect(target, ADAPTER_TOKEN, timeout_s=30) as adapter:
                async with adapter.adapter_stream(keep_decisions=False) as stream:
                    engine = await answering(adapter, stream, plan.lifecycle_agents)
                    rows.append(await lifecycle_phase(engine, plan, service))
                    await engine.stop_agents()
                out[f"lifecycle_calls_per_s_{key(variant)}"] = round(rows[-1].rate, 1)
                rows.append(await enqueue_batch_phase(adapter, plan, service))
                out[f"batch_enqueue_per_s_{key(variant)}"] = round(rows[-1].rate)
        rate, echo_rate = await unary_rounds(
            rows, plan, service, target, echo, echo_channel, tag=key(variant)
        )
        out[f"unary_ratio_{key(variant)}"] = round(rate / echo_rate, 3)
        out[f"echo_unary_per_s_{key(variant)}"] = round(echo_rate)
    except Exception:
        log = directory / "service.log"
        if log.exists():
            print(f"--- {variant}: service.log (last lines)", file=sys.stderr)
            print("\n".join(log.read_text().splitlines()[-20:]), file=sys.stderr)
        raise
    finally:
        service.stop()
    for row in rows:
        row.phase = f"{row.phase} [{variant}]"
    return rows, out


async def run(plan: Plan) -> dict[str, Any]:
    rows: list[Row] = []
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="acd-budget-") as tmp:
        echo, echo_target = start_echo(Path(tmp))
        try:
            await wait_serving(echo, echo_target, 30)
            async with grpc.aio.insecure_channel(echo_target) as echo_channel:
                for variant in ORDER:
                    more, figures = await measure(variant, plan, Path(tmp), echo, echo_channel)
                    rows += more
                    result |= figures
        finally:
            echo.stop()
    print_table(rows)
    result["quick"] = plan.seconds < 5
    result["client_cpu_bound_phases"] = [r.phase for r in rows if "GENERATOR" in r.meter.limit()]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short phases (about a minute)")
    args = parser.parse_args()
    started = time.perf_counter()
    result = uvloop.run(run(Plan.of(args.quick)))
    result["bench_wall_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
