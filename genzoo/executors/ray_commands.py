"""``genzoo bench --executor ray`` and ``genzoo train --executor ray``: the op shards, or the
(family, seed) trainings, as tasks on a Ray cluster; the files land where the local command
puts them.

``bench`` writes one pytest-benchmark JSON per op beside ``--json`` (``benchmark-ops-<op>.json``):
each keeps the fingerprint and ceilings of the device that measured it, which one merged file
could not. ``train`` saves every checkpoint into this process's cache (or ``--cache-dir``), so
the driver's machine ends up with all of them whichever node trained each.
"""

from __future__ import annotations

import argparse

from tqdm.auto import tqdm

from genzoo import storage
from genzoo.commands import bench
from genzoo.executors import ExecutorError, RayOptions, cluster, ray_run, work
from genzoo.executors.dispatch import Dispatcher, Task
from genzoo.harness import suites
from genzoo.models import checkpoint


def bench_on_cluster(args: argparse.Namespace, options: RayOptions) -> int:
    with cluster.connected(options) as ray:
        device = cluster.cluster_device(ray, args.device)
        if args.goals and device != "cuda":
            raise ExecutorError("--goals reads the speed goals on the GPU grid; the cluster has no GPU")
        bench_options = suites.BenchOptions(
            device=device, quick=args.quick, goals=args.goals, backends=args.backends, select=args.select
        )
        shards = ray_run.op_shards(bench_options)
        if not shards:
            return bench.explain_failure("bench", suites.NO_POINTS_SELECTED, bench_options)
        outputs = {
            stage: args.json.with_name(f"{args.json.stem}-{stage}{args.json.suffix}") for stage in shards
        }
        exit_codes: dict[str, int] = {}

        def store(task: Task, report: work.TaskReport) -> str | None:
            exit_codes[task.stage] = report.exit_code
            if work.BENCHMARK_FILE in report.files:
                storage.atomic_write_bytes(outputs[task.stage], report.files[work.BENCHMARK_FILE])
            if report.exit_code not in (0, suites.NO_POINTS_SELECTED):
                return f"the op benchmark suite failed on it (pytest exit {report.exit_code})"
            return None

        tasks = [Task(stage, "ops", work.op_shard, (stage, shard)) for stage, shard in shards.items()]
        failures = Dispatcher(ray, device, options.max_retries, store).run(tasks)

    written = [path for path in outputs.values() if path.exists()]
    for path in written:
        bench.print_table(path)
    print("genzoo bench: wrote " + ", ".join(str(path) for path in written))
    if failures:
        return 1
    if all(code == suites.NO_POINTS_SELECTED for code in exit_codes.values()):
        return bench.explain_failure("bench", suites.NO_POINTS_SELECTED, bench_options)
    return 0


def train_on_cluster(args: argparse.Namespace, options: RayOptions, families: list[str]) -> int:
    if args.threads:
        raise ExecutorError("--threads is for the local executor: a Ray task runs on the CPUs it holds")
    if args.device not in (None, "cpu", "cuda"):
        raise ExecutorError(f"--device {args.device!r}: with --executor ray, cpu or cuda (Ray picks the GPU)")
    with cluster.connected(options) as ray:
        device = cluster.cluster_device(ray, args.device)
        tasks = []
        for family in families:
            seeds = checkpoint.seeds(family, args.preset)
            for seed in seeds:
                stage = ray_run.train_stage(family, seed)
                preview = args.samples_dir is not None and seed == seeds[0]
                arguments = (stage, family, args.preset, seed, device, preview, args.force)
                tasks.append(Task(stage, "train", work.train_seed, arguments))

        def store(task: Task, report: work.TaskReport) -> None:
            family, preset, seed = (report.summary[key] for key in ("family", "preset", "seed"))
            path = checkpoint.checkpoint_path(family, preset, seed, args.cache_dir)
            storage.atomic_write_bytes(path, report.checkpoint)
            for name, data in report.files.items():
                tqdm.write(f"{family}: wrote {storage.atomic_write_bytes(args.samples_dir / name, data)}")
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(report.summary["metrics"].items()))
            source = "trained" if report.summary["trained_now"] else "from its cache"
            host = report.fingerprint["hostname"]
            tqdm.write(f"{family} {preset} seed {seed}: {metrics}  [{path}] ({source} on {host})")

        failures = Dispatcher(ray, device, options.max_retries, store, progress=not args.quiet).run(tasks)
    return 1 if failures else 0
