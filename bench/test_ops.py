"""Every registered op x backend x dtype x size, generated from the registry.

Each result's ``extra_info`` is one ``genzoo.measurement.Measurement`` made by the harness
pipeline: achieved GB/s or TFLOP/s from the op's cost model, the fraction of the ceiling
measured in this session, the speedup over eager and over the vendor's fused path (``sdpa``)
where the op has one, and the error against the float64 reference. A point outside its
tolerance, or run under Triton's interpreter, carries no speed figure.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from bench.conftest import option_backends, option_device, pedantic_timer, record
from genzoo.harness import ops, pipeline


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "point" in metafunc.fixturenames:
        config = metafunc.config
        points = ops.op_points(
            option_device(config),
            quick=config.getoption("--genzoo-quick"),
            backends=option_backends(config),
            goals_only=config.getoption("--genzoo-goals"),
        )
        metafunc.parametrize("point", points, ids=[p.id for p in points])


def _measure(point, device, ceilings, baselines, benchmark):
    """The point's row, or None when the device ran out of memory."""
    subject = ops.OpSubject(point, device, ceilings)
    if subject.too_slow_to_interpret:
        pytest.skip("Triton interpreter: only small sizes run on the CPU (no speed figure either way)")
    try:
        return pipeline.measure(subject, pedantic_timer(benchmark, interpreted=point.interpreted), baselines)
    except torch.OutOfMemoryError:  # eager's [Nq, Nk] scores at the grid's longest sequences
        return None


def test_op(point, device, ceilings, baselines, benchmark):
    benchmark.group = f"{point.op} {point.case.label} {point.dtype}".replace("torch.", "")
    row = _measure(point, device, ceilings, baselines, benchmark)
    if row is None:  # the tensors went with _measure's frame
        ops.release_device_memory()
        pytest.skip(f"{point.backend} needs more memory than {device} has at this size")
    record(benchmark, row)
    if not row.within_tolerance:  # recorded, excluded from speed claims, and said aloud
        warnings.warn(f"{point.id}: error {row.error:.3g} exceeds {row.error_limit:.3g}", stacklevel=1)
