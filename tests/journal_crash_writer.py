"""Helper process of tests/test_journal_crash.py: appends to a journal until killed.

    python journal_crash_writer.py JOURNAL TENANT RUN SEED

Appends commands ``("timeout", id)`` with ids unique to this run, a few concurrent appends at a
time (so commits are grouped), and prints ``<seq> <id>`` for each append once it is
acknowledged, flushed at once: every line on stdout is a promise that the entry is durable.
"""

from __future__ import annotations

import asyncio
import random
import sys

from acd.server.journal import Journal

MAX_APPENDS = 100_000  # bounded, in case nobody kills it


async def main(path: str, tenant: str, run: int, seed: int) -> None:
    rng = random.Random(seed)
    next_id = run * MAX_APPENDS
    async with Journal(path) as journal:
        while next_id < (run + 1) * MAX_APPENDS:
            ids = list(range(next_id, next_id + rng.randint(1, 16)))
            next_id += len(ids)
            futures = [journal.append(tenant, ("timeout", i)) for i in ids]
            for i, future in zip(ids, futures, strict=True):
                seq = await future
                sys.stdout.write(f"{seq} {i}\n")
                sys.stdout.flush()


if __name__ == "__main__":
    journal_path, tenant_name, run_number, run_seed = sys.argv[1:5]
    asyncio.run(main(journal_path, tenant_name, int(run_number), int(run_seed)))
