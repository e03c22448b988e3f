"""Acknowledged means committed, even through SIGKILL: a writer process prints every seq the
journal acknowledged; it is killed at a seeded random point; after reopening, every printed
seq holds exactly the entry it was acknowledged for, once."""

from __future__ import annotations

import asyncio
import os
import random
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

from acd.server.journal import Journal

WRITER = Path(__file__).with_name("journal_crash_writer.py")
RUNS = 4
TIMEOUT_S = 60.0


def _read_acks(proc: subprocess.Popen[bytes], want: int) -> bytes:
    """Reads the writer's stdout until ``want`` lines came (or it exited), within a deadline."""
    assert proc.stdout is not None
    out = b""
    deadline = time.monotonic() + TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        while (lines := out.count(b"\n")) < want:
            left = deadline - time.monotonic()
            assert left > 0, f"the writer acknowledged only {lines} appends in time"
            if not selector.select(timeout=left):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break  # it exited by itself
            out += chunk
    return out


def _acks(output: bytes) -> list[tuple[int, int]]:
    # A line cut short by the kill was never a complete acknowledgement.
    lines = output.split(b"\n")[:-1]
    return [(int(seq), int(i)) for seq, i in (line.split() for line in lines)]


def test_every_acknowledged_append_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite3"
    rng = random.Random(20240611)
    acked: dict[int, int] = {}
    for run in range(RUNS):
        want = rng.randint(1, 400)
        proc = subprocess.Popen(
            [sys.executable, str(WRITER), str(path), "shop", str(run), str(rng.randrange(1000))],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=tmp_path,
        )
        try:
            out = _read_acks(proc, want)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=TIMEOUT_S)
            assert proc.stdout is not None and proc.stderr is not None
            out += proc.stdout.read()  # what it printed before dying counts too
            errors = proc.stderr.read().decode()
        finally:
            if proc.returncode is None:
                proc.kill()
                proc.wait(timeout=TIMEOUT_S)
        assert proc.returncode == -signal.SIGKILL, errors
        run_acks = _acks(out)
        assert len(run_acks) >= want, errors
        for seq, i in run_acks:
            assert seq not in acked, f"seq {seq} acknowledged twice"
            acked[seq] = i

        async def check() -> None:
            async with Journal(path) as journal:
                entries = list(journal.entries("shop"))
                seqs = [seq for seq, _ in entries]
                assert seqs == list(range(1, len(seqs) + 1))  # gap-free
                ids = [command[1] for _, command in entries]
                assert len(set(ids)) == len(ids)  # no entry twice
                held = dict(entries)
                for seq, i in acked.items():
                    assert held.get(seq) == ("timeout", i), f"acknowledged seq {seq} lost"

        asyncio.run(check())
