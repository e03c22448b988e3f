"""The `acd` command line."""

from __future__ import annotations

import argparse
import importlib.resources
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

BUNDLED_DAY = "store_day.csv"


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _add_simulate(sub: Any) -> None:
    p = sub.add_parser(
        "simulate",
        help="drive the router on a virtual clock and report KPIs",
        description=(
            "Single-queue mode (Poisson arrivals, exponential handle time, optional exponential "
            "patience, several seeds) or, with --day, a day of 15-minute intervals through a "
            "scenario of queues and agent groups."
        ),
    )
    p.add_argument("--arrivals-per-hour", type=_positive_float, help="single mode: arrival rate")
    p.add_argument("--aht", type=_positive_float, default=180.0, help="mean handle time, s")
    p.add_argument("--agents", type=_positive_int, help="single mode / scenario single: agents")
    p.add_argument("--threshold", type=_positive_float, default=20.0, help="SL threshold, s")
    p.add_argument(
        "--patience",
        type=_positive_float,
        help="mean caller patience, s (default: none in single mode, 60 with --day)",
    )
    p.add_argument("--calls", type=_positive_int, help="single mode: calls per seed (200000)")
    p.add_argument("--seeds", type=_positive_int, help="single mode: number of seeds (5)")
    p.add_argument("--seed", type=int, default=1, help="first seed (default 1)")
    p.add_argument(
        "--day",
        nargs="?",
        const=BUNDLED_DAY,
        metavar="FILE.csv",
        help="day mode: interval_start,calls_per_hour per 15 minutes (default: bundled store day)",
    )
    p.add_argument(
        "--scenario",
        choices=("first-line-overflow", "single"),
        default="first-line-overflow",
        help="day mode: routing scenario",
    )
    p.add_argument(
        "--no-overflow", action="store_true", help="day mode: tier 1 only (no overflow to tier 2)"
    )
    p.add_argument(
        "--callbacks",
        action="store_true",
        help="day mode: waiting callers are offered a callback, abandoned ones are called back",
    )
    p.add_argument(
        "--callback-after",
        type=float,
        default=30.0,
        metavar="S",
        help="day mode: offer a callback after S s of waiting (0: only missed calls; 30)",
    )
    p.add_argument(
        "--callback-take-rate", type=float, default=0.5, help="share taking the offer (0.5)"
    )
    p.add_argument(
        "--callback-reach-rate", type=float, default=0.8, help="share of attempts answered (0.8)"
    )
    p.add_argument("--callback-attempts", type=_positive_int, default=3, help="per caller (3)")
    p.add_argument(
        "--callback-priority", type=int, default=0, help="of callback calls; inbound is 0 (0)"
    )
    p.add_argument(
        "--callback-retry-gap", type=float, default=120.0, metavar="S", help="between tries (120)"
    )
    p.add_argument(
        "--compare",
        metavar="CHANGES",
        help=(
            "day mode: run the same callers a second time with CHANGES (comma-separated: "
            "overflow, no-overflow, callbacks, no-callbacks) and print both side by side"
        ),
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--progress", action="store_true", help="progress bar even if not a tty")


def _add_serve(sub: Any) -> None:
    p = sub.add_parser(
        "serve",
        help="run the gRPC service",
        description=(
            "Runs the gRPC service (acd.v1) until SIGTERM or SIGINT, then shuts down gracefully. "
            "Without --config it runs the bundled dev config (loopback only, demo tokens printed)."
        ),
    )
    p.add_argument("--config", metavar="PATH", help="acd.toml (default: the bundled dev config)")


def _add_demo(sub: Any) -> None:
    from acd.demo import add_arguments

    p = sub.add_parser(
        "demo",
        help="play the sample day's callers and agents against a running service",
        description=(
            "Simulated callers and agents from the sample day, speeded up, through the public "
            "client against a running `acd serve` (make run); a live line a second and a "
            "summary, then it stops. Address and tokens default to the dev config's."
        ),
    )
    add_arguments(p)


def _add_report(sub: Any) -> None:
    from acd.report_cli import add_arguments

    p = sub.add_parser(
        "report",
        help="reports from a running service (ReportService), as a table or CSV",
        description=(
            "Queue KPIs per interval for a range of local days from a running `acd serve`: "
            "offered, answered, abandoned, the SL variants, ASA, AWT, AHT, wait percentiles."
        ),
    )
    add_arguments(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="acd", description="ACD core: contact-center router")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    _add_serve(sub)
    _add_demo(sub)
    _add_report(sub)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from acd.server.app import run
    from acd.server.config import ConfigError, load_bundled_config, load_config

    try:
        config = load_config(args.config) if args.config else load_bundled_config()
    except ConfigError as e:
        print(f"acd serve: {e}", file=sys.stderr)
        return 2
    run(config, Path(args.config) if args.config else None)
    return 0


def _read_rates(name: str) -> Any:
    from acd.sim.arrivals import read_day

    if name == BUNDLED_DAY and not Path(name).exists():
        with importlib.resources.as_file(
            importlib.resources.files("acd").joinpath("data", BUNDLED_DAY)
        ) as path:
            return read_day(path)
    return read_day(Path(name))


def _simulate_day(
    args: argparse.Namespace, parser: argparse.ArgumentParser, bar: Any
) -> tuple[dict[str, Any], str]:
    from acd.sim.callbacks import CallbackPolicy
    from acd.sim.day import DayParams, changed, run_compare, run_day
    from acd.sim.table import render_compare, render_day

    if args.arrivals_per_hour is not None or args.calls is not None or args.seeds:
        parser.error("--arrivals-per-hour, --calls and --seeds are for single mode")
    if args.agents is not None and args.scenario != "single":
        parser.error("--agents applies to --scenario single only")
    try:
        policy = CallbackPolicy(
            offer_after_ms=round(args.callback_after * 1000),
            take_rate=args.callback_take_rate,
            reach_rate=args.callback_reach_rate,
            max_attempts=args.callback_attempts,
            retry_gap_ms=round(args.callback_retry_gap * 1000),
            priority=args.callback_priority,
        )
        rates = _read_rates(args.day)
        a = DayParams(
            scenario=args.scenario,
            overflow=not args.no_overflow,
            seed=args.seed,
            aht_s=args.aht,
            patience_s=60.0 if args.patience is None else args.patience,
            threshold_s=args.threshold,
            agents=16 if args.agents is None else args.agents,
            callbacks=policy if args.callbacks else None,
        )
        if args.compare is None:
            result = run_day(rates, a, progress=bar)
            return result, render_day(result)
        b = changed(a, [c.strip() for c in args.compare.split(",")], policy)
        result = run_compare(rates, a, b, progress=bar)
        return result, render_compare(result)
    except (OSError, ValueError) as e:
        parser.error(str(e))


def _simulate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from acd.sim.progress import ProgressBar
    from acd.sim.single import SingleParams, run_single
    from acd.sim.table import render_single

    show = args.progress or sys.stderr.isatty()
    bar = ProgressBar("simulate") if show else None
    try:
        if args.day is not None:
            result, text = _simulate_day(args, parser, bar)
        else:
            if args.arrivals_per_hour is None or args.agents is None:
                parser.error("single mode needs --arrivals-per-hour and --agents (or use --day)")
            if args.no_overflow or args.scenario != "first-line-overflow":
                parser.error("--scenario and --no-overflow are for --day")
            if args.callbacks or args.compare is not None:
                parser.error("--callbacks and --compare are for --day")
            result = run_single(
                SingleParams(
                    arrivals_per_hour=args.arrivals_per_hour,
                    aht_s=args.aht,
                    agents=args.agents,
                    threshold_s=args.threshold,
                    patience_s=args.patience,
                    calls=200_000 if args.calls is None else args.calls,
                    seeds=5 if args.seeds is None else args.seeds,
                    seed=args.seed,
                ),
                progress=bar,
            )
            text = render_single(result)
    finally:
        if bar is not None:
            bar.close()
    print(json.dumps(result, sort_keys=True) if args.json else text)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "simulate":
        return _simulate(args, parser)
    if args.command == "serve":
        return _serve(args)
    if args.command == "demo":
        from acd.demo import main as demo

        return demo(args)
    if args.command == "report":
        from acd.report_cli import main as report

        return report(args)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
