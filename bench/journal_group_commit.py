"""Journal appends per second with group commit against one commit per append, same run.

Many clients (coroutines) each append and await the commit, one command after another, as the
service's request handlers do. With group commit the writer gathers whatever arrived during
the previous fsync into one transaction; with ``max_batch=1`` every append pays its own fsync.

    python bench/journal_group_commit.py [--clients N] [--appends N] [--tenants N]

Prints a table, then as its last line one JSON object with both rates, commits per mode and
the ratio. The journal lives in a temporary directory on the default temporary file system:
point TMPDIR at the disk the service would use for a meaningful figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from acd.server.journal import Journal, JournalStats


async def _client(journal: Journal, tenant: str, client: int, appends: int) -> None:
    for i in range(appends):
        await journal.append(tenant, ("enqueue", f"c{client}-{i}", "sales", i, 0))


async def _measure(
    path: Path, max_batch: int, clients: int, appends: int, tenants: int
) -> tuple[float, JournalStats]:
    async with Journal(path, max_batch=max_batch) as journal:
        start = time.perf_counter()
        await asyncio.gather(
            *(_client(journal, f"t{c % tenants}", c, appends) for c in range(clients))
        )
        elapsed = time.perf_counter() - start
        return clients * appends / elapsed, journal.stats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--appends", type=int, default=50, help="per client")
    parser.add_argument("--tenants", type=int, default=4)
    args = parser.parse_args()

    results: dict[str, tuple[float, JournalStats]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, max_batch in (("group", 1024), ("single", 1)):
            path = Path(tmp) / f"{name}.sqlite3"
            results[name] = asyncio.run(
                _measure(path, max_batch, args.clients, args.appends, args.tenants)
            )

    print(f"{'mode':<8} {'appends/s':>12} {'commits':>8} {'largest batch':>14}")
    for name, (rate, stats) in results.items():
        print(f"{name:<8} {rate:>12,.0f} {stats.commits:>8} {stats.largest_batch:>14}")
    group, single = results["group"][0], results["single"][0]
    print(
        json.dumps(
            {
                "clients": args.clients,
                "appends": args.clients * args.appends,
                "group_appends_per_s": round(group),
                "single_appends_per_s": round(single),
                "group_commits": results["group"][1].commits,
                "single_commits": results["single"][1].commits,
                "ratio": round(group / single, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
