"""``genzoo bench``: the op benchmark suite (pytest-benchmark), its JSON and a table."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from genzoo import executors
from genzoo.harness import goals, suites
from genzoo.harness.timing import default_device
from genzoo.kernels import BACKENDS
from genzoo.results import benchmark_json

NAME = "bench"
HELP = "benchmark every registered op on every backend, dtype and size; print a table"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_selection_arguments(parser)
    parser.add_argument(
        "--json", type=Path, default=Path("results") / "benchmark.json", help="where to write the JSON"
    )
    executors.add_arguments(parser)


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    """What to benchmark and where: shared by ``genzoo bench`` and ``genzoo run``."""
    parser.add_argument("--quick", action="store_true", help="a smaller grid (a few sizes per op)")
    parser.add_argument(
        "--goals",
        action="store_true",
        help="only the points of the speed goals (GPU), then whether each was met",
    )
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    parser.add_argument(
        "--backends",
        type=_backend_list,
        help=f"comma-separated subset of {','.join(BACKENDS)} (eager always runs)",
    )
    parser.add_argument("-k", dest="select", help="pytest -k expression, e.g. 'ddim_step and float32'")


def _backend_list(text: str) -> tuple[str, ...]:
    backends = tuple(b.strip() for b in text.split(",") if b.strip())
    unknown = sorted(set(backends) - set(BACKENDS))
    if unknown or not backends:
        raise argparse.ArgumentTypeError(f"unknown backends {unknown}; choose from {', '.join(BACKENDS)}")
    return backends


def options_from(args: argparse.Namespace) -> suites.BenchOptions:
    default_device(args.device)  # a device this machine lacks is refused before anything runs
    if args.goals and default_device(args.device) != "cuda":
        raise SystemExit("genzoo: --goals reads the speed goals on the GPU grid; this run has no CUDA device")
    return suites.BenchOptions(
        device=args.device, quick=args.quick, goals=args.goals, backends=args.backends, select=args.select
    )


def print_table(json_path: Path) -> None:
    frame = benchmark_json.load(json_path)
    table = suites.op_table(frame)
    with pd.option_context("display.max_rows", None, "display.width", 200):
        print(table.to_string(index=False))
        print("speedup and throughput are empty for interpreted or out-of-tolerance points")
        verdicts = goals.evaluate(frame)
        if not (verdicts["status"] == "not measured").all():
            print(verdicts.to_string(index=False))


def explain_failure(command: str, code: int, options: suites.BenchOptions) -> int:
    """pytest's exit code of the suites as the command's own: 5 (nothing collected) is a
    selection that matches no benchmark point, said in one line."""
    if code == suites.NO_POINTS_SELECTED:
        print(
            f"genzoo {command}: -k {options.select!r} selects no benchmark point (e.g. -k 'ddim_step and float32')"
        )
        return 2
    if code != 0:
        print(f"genzoo {command}: the op benchmark suite failed (pytest exit {code})")
    return code


def main(args: argparse.Namespace) -> int:
    ray_options = executors.ray_options_from(args)
    if ray_options is not None:
        from genzoo.executors import ray_commands

        return ray_commands.bench_on_cluster(args, ray_options)
    options = options_from(args)
    code = suites.run_suites(options, args.json)
    if code == 0:
        print_table(args.json)
    return explain_failure("bench", code, options)
