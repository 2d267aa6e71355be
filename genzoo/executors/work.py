"""The units of work of a distributed run, as they run on a worker: one training run of a
(family, seed), one sweep of a family, one shard of the op benchmark suite.

Each is a plain function returning a ``TaskReport`` (the dispatcher makes it a Ray task); it
holds its device for its whole length, so everything it times ran alone on that device. A report
carries the worker's own fingerprint (host, device, Ray node id): the rows of each task keep
the machine that measured them.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from genzoo import fingerprint, sweeps
from genzoo.executors import checkpoint_transfer
from genzoo.harness import suites
from genzoo.measurement import Measurement
from genzoo.models import checkpoint, protocol

BENCHMARK_FILE = "benchmark.json"  # the name an op shard's pytest-benchmark JSON has in ``files``


@dataclasses.dataclass
class TaskReport:
    stage: str
    fingerprint: dict[str, object]  # the worker's, with ray_node_id and ray_gpu_ids
    started: float  # time.time() on the worker: the task log's start and end, for timing isolation
    finished: float
    rows: list[Measurement] = dataclasses.field(default_factory=list)
    files: dict[str, bytes] = dataclasses.field(default_factory=dict)  # samples, or the shard's JSON
    checkpoint: bytes | None = None  # a training task's checkpoint file, for the tasks that need it
    summary: dict[str, object] = dataclasses.field(default_factory=dict)  # a training's key and metrics
    exit_code: int = 0  # an op shard's pytest exit code


def train_seed(
    stage: str, family: str, preset: str, seed: int, device: str, preview: bool, force: bool
) -> TaskReport:
    """Train (or find in this worker's cache) one seed; with ``preview``, also its sample files."""
    started = time.time()
    _hold_assigned_cores()
    trained = checkpoint.ensure_trained_seed(family, preset, seed, device=device, progress=False, force=force)
    files = {}
    if preview:
        with tempfile.TemporaryDirectory() as directory:
            for path in protocol.get(family).write_preview(trained.model, Path(directory)):
                files[path.name] = path.read_bytes()
    summary = {
        "family": family,
        "preset": preset,
        "seed": seed,
        "metrics": trained.metrics,
        "trained_now": trained.trained_now,
    }
    return TaskReport(
        stage,
        worker_fingerprint(device),
        started,
        time.time(),
        files=files,
        checkpoint=trained.path.read_bytes(),
        summary=summary,
    )


def sweep_family(
    stage: str, family: str, preset: str, backends: tuple[str, ...], device: str, *checkpoints: bytes
) -> TaskReport:
    """The family's whole sweep on the checkpoints its training tasks made (one per seed, in
    ``checkpoint.seeds`` order), installed into this worker's cache first so nothing retrains."""
    started = time.time()
    _hold_assigned_cores()
    for seed, payload in zip(checkpoint.seeds(family, preset), checkpoints, strict=True):
        checkpoint_transfer.install(payload, family, preset, seed)
    rows = sweeps.run_family(family, preset, backends, device, progress=False)
    return TaskReport(stage, worker_fingerprint(device), started, time.time(), rows=list(rows))


def op_shard(stage: str, options: suites.BenchOptions) -> TaskReport:
    """The op benchmark suite on the points ``options.select`` picks. The pytest session measures
    this device's ceilings itself; its JSON gains this worker's Ray node id."""
    started = time.time()
    _hold_assigned_cores()
    device = options.device or "cpu"
    worker = worker_fingerprint(device)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / BENCHMARK_FILE
        code = suites.run_suites(options, path)
        files = {BENCHMARK_FILE: _with_ray_placement(path, worker)} if path.exists() else {}
    return TaskReport(stage, worker, started, time.time(), files=files, exit_code=code)


def worker_fingerprint(device: str) -> dict[str, object]:
    import ray  # only ever called inside a Ray task

    context = ray.get_runtime_context()
    placement = {
        "ray_node_id": context.get_node_id(),
        "ray_gpu_ids": ",".join(str(i) for i in ray.get_gpu_ids()),
    }
    return {**fingerprint.collect(device).as_flat_dict(), **placement}


def _with_ray_placement(path: Path, worker: dict[str, object]) -> bytes:
    """The pytest-benchmark JSON at ``path`` with the Ray placement added to its fingerprints
    (the session's, and any benchmark's own), so its rows name the node that measured them."""
    document = json.loads(path.read_text())
    placement = {k: v for k, v in worker.items() if k.startswith("ray_")}
    session = document.setdefault("genzoo", {})
    session["fingerprint"] = {**(session.get("fingerprint") or {}), **placement}
    for benchmark in document.get("benchmarks", []):
        own = (benchmark.get("extra_info") or {}).get("fingerprint")
        if isinstance(own, dict):
            own.update(placement)
    return json.dumps(document).encode()


def _hold_assigned_cores() -> None:
    """torch's threads = the CPUs Ray gave this task (the whole node's, for a CPU task): a
    reused worker would otherwise keep the thread count of whatever ran in it before."""
    import ray

    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 0)
    if cpus >= 1:
        torch.set_num_threads(int(cpus))
