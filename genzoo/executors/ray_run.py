"""``genzoo run --executor ray``: the run's stages as tasks on a Ray cluster, their results
written into one results directory by this (driver) process as each task finishes.

Stages, each marked done as it finishes, so ``--resume`` runs only what is missing:
``train-<family>-seed<seed>`` (then ``train-<family>`` once every seed is), ``sweep-<family>``,
``ops-<op>`` (then ``ops`` once every op is). Checkpoints go from each training task to the
driver, which keeps them in its own cache and puts each into the object store once, for the
family's sweep on whichever node it lands; a resumed run takes them from that cache.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from genzoo import measurement, storage
from genzoo.executors import RayOptions, work
from genzoo.executors.dispatch import Dispatcher, Task
from genzoo.harness import ops, suites
from genzoo.kernels import registry
from genzoo.models import checkpoint
from genzoo.results.store import RunDir


@dataclasses.dataclass(frozen=True)
class RunPlan:
    preset: str
    device: str  # the tasks' device, which the driver itself need not have
    families: tuple[str, ...]
    backends: tuple[str, ...]
    bench_options: suites.BenchOptions | None  # None: no op benchmarks


def train_stage(family: str, seed: int) -> str:
    return f"train-{family}-seed{seed}"


def op_shards(options: suites.BenchOptions) -> dict[str, suites.BenchOptions]:
    """One shard per op with points in this run's grid: stage ``ops-<op>``, the points whose test
    id starts with the op's name and a dash (``attention-`` is not ``attention_decode-``), within
    the user's ``-k``. An op none of whose points that ``-k`` selects gets no shard: each shard
    pays a pytest start and a ceiling measurement."""
    shards = {}
    for op in registry.all_ops():
        points = ops.op_points(
            options.device or "cpu",
            quick=options.quick,
            ops=[op.name],
            backends=list(options.backends) if options.backends else None,
            goals_only=options.goals,
        )
        if not points or (options.select and not _any_selected(options.select, [p.id for p in points])):
            continue
        select = f"{op.name}-" if not options.select else f"({options.select}) and {op.name}-"
        shards[f"ops-{op.name}"] = dataclasses.replace(options, select=select)
    return shards


def _any_selected(select: str, point_ids: list[str]) -> bool:
    """Whether pytest's ``-k select`` may pick one of these ``test_op`` points (True when unsure:
    a shard that then selects nothing costs time, a shard left out would lose points)."""
    try:
        from _pytest.mark.expression import Expression  # pytest's own -k grammar

        expression = Expression.compile(select)
    except Exception:  # another pytest's internals, or a -k the shard's pytest will itself refuse
        return True
    return any(expression.evaluate(_keyword_matcher(point_id)) for point_id in point_ids)


def _keyword_matcher(point_id: str):
    """pytest's -k matching for one point: a word matches a substring of a name of the test or
    of what holds it (case-insensitive); ``name(arg=...)`` forms match nothing here."""
    names = ("bench", "test_ops.py", "test_op", f"test_op[{point_id}]")
    return lambda word, **arguments: not arguments and any(word.lower() in name.lower() for name in names)


@dataclasses.dataclass
class ClusterRun:
    """One run's tasks and what becomes of their reports."""

    run: RunDir
    plan: RunPlan
    op_exit_codes: dict[str, int] = dataclasses.field(default_factory=dict)

    def tasks(self, dispatcher: Dispatcher) -> list[Task]:
        """What is still missing, in the order it is handed out: training first (the sweeps wait
        for it), then the sweeps and op shards. Checkpoints of finished training come from the
        driver's cache."""
        plan, run = self.plan, self.run
        training, others = [], []
        for family in plan.families:
            sweep_done = run.is_done(f"sweep-{family}")
            seeds = checkpoint.seeds(family, plan.preset)
            needs = []
            for seed in seeds:
                stage = train_stage(family, seed)
                needs.append(stage)
                trained = run.is_done(stage) or run.is_done(f"train-{family}")
                cached = checkpoint.checkpoint_path(family, plan.preset, seed)
                if trained and sweep_done:
                    continue
                if trained and cached.is_file():
                    dispatcher.provide(stage, cached.read_bytes())
                    continue
                preview = seed == seeds[0]  # the first seed's model draws the samples, as `genzoo run` does
                arguments = (stage, family, plan.preset, seed, plan.device, preview, False)
                training.append(Task(stage, "train", work.train_seed, arguments))
            if not sweep_done:
                arguments = (f"sweep-{family}", family, plan.preset, plan.backends, plan.device)
                others.append(Task(f"sweep-{family}", "sweep", work.sweep_family, arguments, tuple(needs)))
        if plan.bench_options is not None and not run.is_done("ops"):
            for stage, options in op_shards(plan.bench_options).items():
                if not run.is_done(stage):
                    others.append(Task(stage, "ops", work.op_shard, (stage, options)))
        return training + others

    def store(self, task: Task, report: work.TaskReport) -> str | None:
        """Write a finished task's results (each file atomically) and mark its stage done."""
        run = self.run
        if task.kind == "train":
            family, preset, seed = (report.summary[key] for key in ("family", "preset", "seed"))
            storage.atomic_write_bytes(checkpoint.checkpoint_path(family, preset, seed), report.checkpoint)
            for name, data in report.files.items():
                run.write_sample(name, data)
            run.mark_done(task.stage)
            if all(run.is_done(train_stage(family, s)) for s in checkpoint.seeds(family, preset)):
                run.mark_done(f"train-{family}")
        elif task.kind == "sweep":
            family, preset = task.arguments[1:3]
            run.write_rows(task.stage, self._with_training_placement(report, family, preset))
            run.mark_done(task.stage)
        else:
            return self._store_op_shard(task.stage, report)
        return None

    def _with_training_placement(self, report: work.TaskReport, family: str, preset: str) -> pd.DataFrame:
        """The sweep's rows with its worker's fingerprint, except its ``training`` rows (seconds
        and steps of each seed's training), which keep the fingerprint of the node that trained
        that seed, as the task log has it (absent: trained by a local run, or before the log)."""
        frame = measurement.to_frame(report.rows, report.fingerprint)
        trained_by = {r["stage"]: r["fingerprint"] for r in self.run.task_log() if "fingerprint" in r}
        seed_column = f"{measurement.KNOB_PREFIX}train_seed"
        for seed in checkpoint.seeds(family, preset):
            trainer = trained_by.get(train_stage(family, seed))
            if trainer is None or seed_column not in frame.columns:
                continue
            rows = (frame["kind"] == "training") & (frame[seed_column] == seed)
            for column, value in trainer.items():
                frame.loc[rows, column] = value
        return frame

    def _store_op_shard(self, stage: str, report: work.TaskReport) -> str | None:
        self.op_exit_codes[stage] = report.exit_code
        if work.BENCHMARK_FILE in report.files:
            partial = self.run.path / f".{stage}.json"  # hidden: the store skips it until it is added
            storage.atomic_write_bytes(partial, report.files[work.BENCHMARK_FILE])
            try:
                self.run.add_benchmark_json(stage, partial)
            finally:
                partial.unlink()
        if report.exit_code not in (0, suites.NO_POINTS_SELECTED):
            return f"the op benchmark suite failed on it (pytest exit {report.exit_code})"
        self.run.mark_done(stage)
        if self.plan.bench_options is not None:
            if all(self.run.is_done(s) for s in op_shards(self.plan.bench_options)):
                self.run.mark_done("ops")
        return None

    def nothing_selected(self) -> bool:
        """Every op shard of this run selected no point: the user's -k matches nothing."""
        codes = self.op_exit_codes.values()
        return bool(codes) and all(code == suites.NO_POINTS_SELECTED for code in codes)


def run_on_cluster(ray, run: RunDir, plan: RunPlan, options: RayOptions) -> ClusterRun:
    """Run what ``run`` lacks; the stages that failed (with why) land in ``run.failures()``."""
    outcome = ClusterRun(run, plan)
    earlier_log = run.task_log()
    dispatcher = Dispatcher(
        ray,
        plan.device,
        options.max_retries,
        on_finished=outcome.store,
        on_log=lambda records: run.write_task_log(earlier_log + records),
    )
    tasks = outcome.tasks(dispatcher)
    try:
        dispatcher.run(tasks)
    finally:  # also on Ctrl-C: what failed before it is on record
        run.write_failures(dispatcher.failures)
    return outcome
