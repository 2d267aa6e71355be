"""End-to-end benchmarks of the model families, one group per family: a generation call
(images/s, or tokens/s with and without the KV cache) and a training step, with peak memory, on
every backend that can change the family's computation (generated from the families).

Each result's ``extra_info`` is one ``genzoo.measurement.Measurement`` (kind "model") made by
the harness pipeline, plus peak_memory_bytes and preset. A backend whose float32 output leaves
its tolerance of eager's fails the point; interpreted Triton rows (the CPU) carry no speedup.
On the CPU the ``tiny`` presets run, so that the bench stays short.
"""

from __future__ import annotations

import math

import pytest
import torch

from bench.conftest import option_backends, option_device, pedantic_timer, record
from genzoo.harness import models, pipeline


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "model_point" in metafunc.fixturenames:
        config = metafunc.config
        points = models.model_points(
            option_device(config), quick=config.getoption("--genzoo-quick"), backends=option_backends(config)
        )
        metafunc.parametrize("model_point", points, ids=[p.id for p in points])


@pytest.fixture(scope="session")
def workbench(device: str) -> models.Workbench:
    return models.Workbench(device)


def _rounds(seconds: float) -> tuple[int, int]:
    """About 2 s of calls, 3 to 50."""
    return int(min(50, max(3, 2.0 / max(seconds, 1e-6)))), 1


def test_model(model_point, device, workbench, baselines, benchmark):
    point = model_point
    benchmark.group = f"model {point.family}"
    timer = pedantic_timer(benchmark, _rounds, interpreted=point.interpreted)
    peak = []

    def timed_with_peak_memory(run):
        peak.extend(models.peak_memory_bytes(run, device))
        return timer(run)

    row = pipeline.measure(workbench.subject(point), timed_with_peak_memory, baselines)
    record(benchmark, row)
    benchmark.extra_info.update(
        {"peak_memory_bytes": peak[0], "peak_memory": peak[1], "preset": point.preset}
    )
    assert math.isfinite(row.value)
    assert row.within_tolerance is not False, (
        f"{point.id}: output differs from eager by {row.error:.3g} (limit {row.error_limit:.3g})"
    )
    if point.task == "generate" and torch.device(device).type == "cuda":
        torch.cuda.empty_cache()  # one family's cached blocks must not count in the next one's peak
