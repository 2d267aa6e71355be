"""Every registered op x backend x dtype x size, generated from the registry.

Each result's ``extra_info`` is one ``genzoo.measurement.Measurement``: achieved GB/s or TFLOP/s
from the op's cost model, the fraction of the ceiling measured in this session, the speedup over
eager and over the vendor's fused path (``sdpa``) where the op has one, and the error against the
float64 reference. A point outside its tolerance, or run under
Triton's interpreter, carries no speed figure.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest
import torch

from bench.conftest import option_backends, option_device
from genzoo import op_benchmark
from genzoo.kernels import registry


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "point" in metafunc.fixturenames:
        config = metafunc.config
        points = op_benchmark.op_points(
            option_device(config), quick=config.getoption("--genzoo-quick"), backends=option_backends(config),
            goals_only=config.getoption("--genzoo-goals"),
        )
        metafunc.parametrize("point", points, ids=[p.id for p in points])


def _rounds_and_iterations(seconds_per_call: float) -> tuple[int, int]:
    """About 1 ms per round (timer resolution and sync overhead vanish), ~0.3 s per point."""
    iterations = max(1, math.ceil(1e-3 / max(seconds_per_call, 1e-9)))
    rounds = int(min(200, max(5, 0.3 / (seconds_per_call * iterations))))
    return rounds, iterations


def _measure(point, device, benchmark):
    """Check, then time ``point``: its call and accuracy, or None when the device ran out of memory."""
    try:
        call = op_benchmark.make_call(point, device)
        if op_benchmark.too_slow_to_interpret(point, call):
            pytest.skip("Triton interpreter: only small sizes run on the CPU (no speed figure either way)")
        accuracy = op_benchmark.check_accuracy(point, call)
        fn = registry.get(point.op).implementation(point.backend)

        def run():
            with torch.no_grad():
                return call.run(fn)

        first = benchmark._timer()
        run()  # also the compile, for the ``compile`` backend
        rounds, iterations = _rounds_and_iterations(benchmark._timer() - first)
        benchmark.pedantic(run, rounds=rounds, iterations=iterations, warmup_rounds=2)
        return call, accuracy
    except torch.OutOfMemoryError:  # eager's [Nq, Nk] scores at the grid's longest sequences
        return None


def test_op(point, device, ceilings, medians, synchronized_benchmark):
    benchmark = synchronized_benchmark
    benchmark.group = f"{point.op} {point.case.label} {point.dtype}".replace("torch.", "")
    measured = _measure(point, device, benchmark)
    if measured is None:  # the tensors went with _measure's frame
        op_benchmark.release_device_memory()
        pytest.skip(f"{point.backend} needs more memory than {device} has at this size")
    call, accuracy = measured
    stats = benchmark.stats.stats
    op = registry.get(point.op)
    if point.backend in ("eager", op.vendor_backend) and accuracy.within_tolerance:
        medians[point.median_key()] = stats.median
    row = op_benchmark.measurement(
        point, call, accuracy, stats.median, stats.q1, stats.q3, stats.rounds, ceilings,
        medians.get(point.median_key("eager")),
        medians.get(point.median_key(op.vendor_backend)) if op.vendor_backend else None,
    )  # fmt: skip
    benchmark.extra_info.update(dataclasses.asdict(row))
    if not accuracy.within_tolerance:  # recorded, excluded from speed claims, and said aloud
        warnings.warn(f"{point.id}: error {accuracy.error:.3g} exceeds {accuracy.limit:.3g} (eager {accuracy.eager_error})")
