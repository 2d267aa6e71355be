"""``genzoo run``: the whole job on the embedded defaults, into one results directory.

Stages, each recorded as done in the results directory so that ``--resume`` skips it:
``ops`` (the op benchmark suite), ``train-<family>`` (checkpoints and sample previews),
``sweep-<family>`` (speed/quality sweeps); the report is rewritten at the end of every run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genzoo import fingerprint, sweeps
from genzoo.commands import bench
from genzoo.harness import suites
from genzoo.harness.timing import default_device
from genzoo.kernels import BACKENDS
from genzoo.models import checkpoint, protocol
from genzoo.report import write_report
from genzoo.results.store import RunDir
from genzoo.sweeps import plan

NAME = "run"
HELP = "run the whole job (op benchmarks, training, sweeps, report) into results/<run-id>/"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    bench.add_selection_arguments(parser)
    parser.add_argument(
        "--results", type=Path, default=Path("results"), help="root of the results directories"
    )
    parser.add_argument("--run-id", help="name of this run's directory (default: time and host)")
    parser.add_argument(
        "--resume", type=Path, metavar="RUN_DIR", help="finish the stages a stopped run left undone"
    )
    parser.add_argument(
        "--families",
        type=_family_list,
        default=protocol.names(),
        help=f"comma-separated subset of {','.join(protocol.names())}",
    )
    parser.add_argument(
        "--preset",
        choices=tuple(plan.SETTINGS),
        help="model and sweep size (default: gpu with CUDA, else cpu)",
    )
    stages = parser.add_mutually_exclusive_group()
    stages.add_argument("--skip-ops", action="store_true", help="leave out the op benchmark suite")
    stages.add_argument(
        "--ops-only", action="store_true", help="only the op benchmark suite (no training, no sweeps)"
    )


def _family_list(text: str) -> tuple[str, ...]:
    families = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = sorted(set(families) - set(protocol.names()))
    if unknown or not families:
        raise argparse.ArgumentTypeError(
            f"unknown families {unknown}; choose from {', '.join(protocol.names())}"
        )
    return families


def main(args: argparse.Namespace) -> int:
    device = default_device(args.device)
    preset = args.preset or ("gpu" if device == "cuda" else "cpu")
    bench_options = None if args.skip_ops else bench.options_from(args)  # refuses bad selections early
    if args.resume:
        run = RunDir.open(args.resume)
    else:
        run = RunDir.create(args.results, args.run_id, fingerprint.collect(device).as_flat_dict())
    print(f"genzoo run: results in {run.path} (preset {preset}, device {device})")

    if not args.skip_ops and not run.is_done("ops"):
        # pytest-benchmark creates its JSON file at start-up: keep it out of benchmarks/ until done
        partial = run.path / ".ops-benchmark.json"
        code = suites.run_suites(bench_options, partial)
        if partial.exists():
            run.add_benchmark_json("ops", partial)
            partial.unlink()
        if code != 0:
            print(f"genzoo run: `--resume {run.path}` retries the op benchmark suite")
            return bench.explain_failure("run", code, bench_options)
        run.mark_done("ops")

    backends = args.backends or BACKENDS  # each family runs those of its own backends among these
    for family in () if args.ops_only else args.families:
        if not run.is_done(f"train-{family}"):
            trained = checkpoint.ensure_trained(family, preset, device=device)
            protocol.get(family).write_preview(trained.model, run.samples_dir)
            run.mark_done(f"train-{family}")
        if not run.is_done(f"sweep-{family}"):
            run.write_rows(f"sweep-{family}", sweeps.run_family(family, preset, backends, device))
            run.mark_done(f"sweep-{family}")

    files = write_report([run.path], run.path / "report")
    if not args.skip_ops:
        bench.print_table(run.path / "benchmarks" / "ops.json")
    print(f"report: {files.markdown} and {files.html}")
    return 0
