"""``make fuzz``: each fuzz target under libFuzzer (atheris) for a bounded time, then a summary.

    python tests/fuzz/fuzz_run.py [--seconds 60] [--targets config,rpcs]

Each target (``fuzz_<name>.py``, which has ``make_target()``) runs in a process of its own,
imported under ``atheris.instrument_imports`` so the coverage of the ``acd`` package guides the
mutations. The summary has one row per target: executions, coverage (libFuzzer's ``cov``),
corpus size and findings; a finding (libFuzzer's crash, timeout or out-of-memory input, or a
target process that failed) keeps its input and log in a kept temporary directory, printed at
the end, and makes the exit status 1. Reproduce one with
``python tests/fuzz/fuzz_run.py --child <target> <input file>``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGETS = ("config", "rpcs")
_STAT = re.compile(r"stat::number_of_executed_units: (\d+)")
_COV = re.compile(r"cov: (\d+) ft: (\d+) corp: (\d+)")


def child(target: str, libfuzzer_args: list[str]) -> None:
    """Runs one target under libFuzzer; never returns (libFuzzer exits the process)."""
    import atheris  # type: ignore[import-untyped]

    sys.path.insert(0, str(HERE))
    with atheris.instrument_imports(include=["acd", "fuzz_values", "fuzz_world"]):
        module = importlib.import_module(f"fuzz_{target}")
    fuzz_target = module.make_target()

    def one_input(data: bytes) -> None:
        fuzz_target.one_input(atheris.FuzzedDataProvider(data))

    atheris.Setup([sys.argv[0], *libfuzzer_args], one_input)
    atheris.Fuzz()


def run_target(target: str, seconds: int, work: Path) -> tuple[list[str], bool]:
    """One target for ``seconds``; gives its summary row and whether it found something."""
    corpus, artifacts = work / "corpus", work / "artifacts"
    corpus.mkdir(parents=True)
    artifacts.mkdir()
    log = work / "libfuzzer.log"
    command = [
        *(sys.executable, str(Path(__file__).resolve()), "--child", target),
        *(f"-max_total_time={seconds}", "-print_final_stats=1", "-timeout=60"),
        *("-rss_limit_mb=4096", "-len_control=0", f"-artifact_prefix={artifacts}/", str(corpus)),
    ]
    env = {**os.environ, "ACD_FUZZ_DIR": str(work / "data")}
    started = time.monotonic()
    with log.open("w") as out:
        rc = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, env=env).returncode
    wall = time.monotonic() - started
    text = log.read_text(errors="replace")
    executions = int(m.group(1)) if (m := _STAT.search(text)) else 0
    cov = _COV.findall(text)
    coverage, corpus_size = (cov[-1][0], cov[-1][2]) if cov else ("-", "-")
    # A slow unit (over libFuzzer's 10 s) is kept and shown, but is no finding by itself.
    kept = sorted(p.name for p in artifacts.iterdir())
    findings = [name for name in kept if not name.startswith("slow-unit-")]
    found = bool(findings) or rc != 0
    if len(kept) > len(findings):
        print(f"--- {target}: {len(kept) - len(findings)} slow input(s) (over 10 s), no finding")
    row = [
        target,
        f"{wall:.0f}",
        str(executions),
        f"{executions / wall:.0f}" if wall else "-",
        coverage,
        corpus_size,
        str(len(findings) if findings else (1 if rc != 0 else 0)),
    ]
    if found:
        print(f"--- {target}: exit {rc}, findings {findings}; the log ends:", flush=True)
        print("\n".join(text.splitlines()[-40:]), flush=True)
    return row, found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=60, help="per target")
    parser.add_argument("--targets", default=",".join(TARGETS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.child:
        child(args.child, rest)
        return 0
    rows, kept = [], []
    for target in args.targets.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"acd-fuzz-{target}-"))
        row, found = run_target(target, args.seconds, work)
        rows.append(row)
        if found:
            kept.append(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    header = ["target", "seconds", "executions", "exec/s", "coverage", "corpus", "findings"]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, *rows]:
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )
    for work in kept:
        print(f"kept for reproduction: {work}")
    return 1 if kept else 0


if __name__ == "__main__":
    sys.exit(main())
