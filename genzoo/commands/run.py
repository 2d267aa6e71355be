"""``genzoo run``: the whole job on the embedded defaults, into one results directory."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

import torch

from genzoo import bench_suite
from genzoo.commands import bench

NAME = "run"
HELP = "run the whole job (op benchmarks, models, sweeps, report) and write results/<run-id>/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    bench.add_selection_arguments(parser)
    parser.add_argument("--results", type=Path, default=Path("results"), help="root of the results directories")
    parser.add_argument("--run-id", help="name of this run's directory (default: UTC time and device)")


def default_run_id(device: str | None) -> str:
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d-%H%M%S") + f"-{device}"


def main(args: argparse.Namespace) -> int:
    run_dir = args.results / (args.run_id or default_run_id(args.device))
    json_path = run_dir / "benchmark.json"
    code = bench_suite.run_suites(bench.options_from(args), json_path)
    if code != 0:
        print(f"genzoo run: the benchmark suite failed (exit {code}); nothing written to {run_dir}")
        return code
    bench.print_table(json_path)
    print(f"results: {run_dir}")
    return 0
