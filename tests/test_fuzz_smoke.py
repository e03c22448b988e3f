"""The fuzz targets of tests/fuzz for a fixed number of inputs (no libFuzzer, no timing): every
input must pass the target's checks (``make fuzz`` runs them coverage-guided for a bounded
time). The inputs are pseudo-random bytes from a fixed seed, so a failure reproduces."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import atheris  # type: ignore[import-untyped]

sys.path.insert(0, str(Path(__file__).parent / "fuzz"))
from fuzz_config import ConfigTarget
from fuzz_rpcs import RpcTarget
from fuzz_world import World


def _inputs(seed: int, count: int) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(rng.randint(1, 512)) for _ in range(count)]


def test_config_loader_inputs() -> None:
    target = ConfigTarget()
    for data in _inputs(6, 1500):
        target.one_input(atheris.FuzzedDataProvider(data))
    assert target.executions == 1500
    assert target.loaded > 0  # some mutated configs are valid: validation got exercised


def test_every_rpc_inputs(tmp_path: Path) -> None:
    target = RpcTarget(World(tmp_path))
    try:
        for data in _inputs(6, 400):
            target.one_input(atheris.FuzzedDataProvider(data))
        target.check_serving()
    finally:
        target.world.close()
    assert target.executions == 400
    assert target.codes.get("OK", 0) > 0 and target.codes.get("INVALID_ARGUMENT", 0) > 0
