"""End-to-end benchmarks of the four model families, one group per family: a generation call
(images/s, or tokens/s with and without the KV cache) and a training step, with peak memory, on
every backend the family's ops have (generated from the families and the registry).

Each result's ``extra_info`` is one ``genzoo.measurement.Measurement`` (kind "model") plus the
plain fields images_per_s / tokens_per_s, peak_memory_bytes, preset and error_vs_eager. A backend
whose float32 output leaves its tolerance of eager's fails the point; interpreted Triton rows (the
CPU) carry no speedup. On the CPU the ``tiny`` presets run, so that the bench stays short.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from bench.conftest import option_backends, option_device
from genzoo import kernels
from genzoo.models import model_benchmark


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "model_point" in metafunc.fixturenames:
        config = metafunc.config
        points = model_benchmark.model_points(
            option_device(config), quick=config.getoption("--genzoo-quick"), backends=option_backends(config)
        )
        metafunc.parametrize("model_point", points, ids=[p.id for p in points])


@pytest.fixture(scope="session")
def workbench(device: str) -> model_benchmark.Workbench:
    return model_benchmark.Workbench(device)


@pytest.fixture(scope="session")
def eager_outputs() -> dict:
    """Each point's eager output, by dtype, for the error of the other backends."""
    return {}


def _rounds(seconds_per_call: float) -> int:
    """About 2 s of calls, 3 at least (the interpreter's one round means nothing anyway)."""
    return int(min(50, max(3, 2.0 / max(seconds_per_call, 1e-6))))


def test_model(model_point, device, workbench, eager_outputs, medians, synchronized_benchmark):
    point, benchmark = model_point, synchronized_benchmark
    benchmark.group = f"model {point.family}"
    with kernels.use(point.backend):
        call = workbench.generate(point) if point.task == "generate" else workbench.train_step(point)
        result = call()  # the warm-up, and torch.compile's compilation for the compile backend
        rounds = 1
        if not point.interpreted:  # how many rounds fit: timed on a warm call
            start = benchmark._timer()
            call()
            rounds = _rounds(benchmark._timer() - start)
        accuracy = model_benchmark.OutputError(None, None)
        if point.task == "generate":
            accuracy = model_benchmark.output_error(
                point, workbench.error_output(point, result), eager_outputs
            )
        peak = model_benchmark.peak_memory_bytes(call, device)
        benchmark.pedantic(call, rounds=rounds, iterations=1, warmup_rounds=0)

    stats = benchmark.stats.stats
    if point.backend == "eager":
        medians[point.baseline_key] = stats.median
    row = model_benchmark.measurement(
        point,
        stats.median,
        stats.q1,
        stats.q3,
        stats.rounds,
        accuracy,
        medians.get(point.baseline_key),
        peak,
    )
    benchmark.extra_info.update(dataclasses.asdict(row))
    benchmark.extra_info.update(
        {
            row.metric: row.value,
            "peak_memory_bytes": peak[0],
            "preset": point.preset,
            "error_vs_eager": accuracy.error,
        }
    )
    assert math.isfinite(row.value)
    assert accuracy.within_tolerance is not False, (
        f"{point.id}: output differs from eager by {accuracy.error:.3g} (limit {accuracy.limit:.3g})"
    )
    if point.task == "generate" and torch.device(device).type == "cuda":
        torch.cuda.empty_cache()  # one family's cached blocks must not count in the next one's peak
