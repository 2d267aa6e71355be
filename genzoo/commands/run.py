"""``genzoo run``: the whole job on the embedded defaults, into one results directory.

Stages, each recorded as done in the results directory so that ``--resume`` skips it:
``ops`` (the op benchmark suite), ``train-<family>`` (checkpoints and sample previews),
``sweep-<family>`` (speed/quality sweeps); the report is rewritten at the end of every run.
With ``--executor ray`` the same stages run as tasks on a Ray cluster (``genzoo.executors.ray_run``).
``--quick`` is a smoke run of the whole job: the op suite's small grid and, unless ``--preset``
says otherwise, the ``quick`` preset (one training seed, short training, 200 samples a point).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genzoo import executors, fingerprint, sweeps
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
        help="model and sweep size (default: quick with --quick, else gpu with CUDA, else cpu)",
    )
    stages = parser.add_mutually_exclusive_group()
    stages.add_argument("--skip-ops", action="store_true", help="leave out the op benchmark suite")
    stages.add_argument(
        "--ops-only", action="store_true", help="only the op benchmark suite (no training, no sweeps)"
    )
    executors.add_arguments(parser)


def _preset(args: argparse.Namespace, device: str) -> str:
    if args.preset:
        return args.preset
    if args.quick:
        return "quick"
    return "gpu" if device == "cuda" else "cpu"


def _family_list(text: str) -> tuple[str, ...]:
    families = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = sorted(set(families) - set(protocol.names()))
    if unknown or not families:
        raise argparse.ArgumentTypeError(
            f"unknown families {unknown}; choose from {', '.join(protocol.names())}"
        )
    return families


def main(args: argparse.Namespace) -> int:
    ray_options = executors.ray_options_from(args)
    if ray_options is not None:
        return _main_on_ray(args, ray_options)
    device = default_device(args.device)
    preset = _preset(args, device)
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


def _main_on_ray(args: argparse.Namespace, options: executors.RayOptions) -> int:
    from genzoo.executors import cluster, ray_run

    with cluster.connected(options) as ray:
        device = cluster.cluster_device(ray, args.device)  # the cluster's devices, not this process's
        preset = _preset(args, device)
        if args.goals and device != "cuda":
            raise executors.ExecutorError(
                "--goals reads the speed goals on the GPU grid; the cluster has no GPU"
            )
        bench_options = None
        if not args.skip_ops:
            bench_options = suites.BenchOptions(
                device=device, quick=args.quick, goals=args.goals, backends=args.backends, select=args.select
            )
            if not ray_run.op_shards(bench_options):  # refused before a results directory exists
                return bench.explain_failure("run", suites.NO_POINTS_SELECTED, bench_options)
        if args.resume:
            run = RunDir.open(args.resume)
        else:
            # the driver's own environment: every row carries the fingerprint of the worker that made it
            driver_device = device if default_device() == device else "cpu"
            run = RunDir.create(args.results, args.run_id, fingerprint.collect(driver_device).as_flat_dict())
        print(f"genzoo run: results in {run.path} (preset {preset}, device {device}, executor ray)")
        families = () if args.ops_only else args.families
        plan = ray_run.RunPlan(preset, device, tuple(families), args.backends or BACKENDS, bench_options)
        outcome = ray_run.run_on_cluster(ray, run, plan, options)

    if outcome.nothing_selected():
        return bench.explain_failure("run", suites.NO_POINTS_SELECTED, bench_options)
    files = write_report([run.path], run.path / "report")
    for shard in sorted((run.path / "benchmarks").glob("ops-*.json")):
        bench.print_table(shard)
    print(f"report: {files.markdown} and {files.html}")
    failures = run.failures()
    if failures:
        print(
            f"genzoo run: {len(failures)} stages failed ({', '.join(sorted(failures))}); "
            f"`--resume {run.path} --executor ray` runs them again"
        )
        return 1
    return 0
