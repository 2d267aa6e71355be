"""The op benchmark suite end to end (a small selection) and the rows it produces."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from genzoo import tolerance
from genzoo.harness import ops, pipeline, suites
from genzoo.harness.ceilings import Ceilings
from genzoo.harness.timing import Timing
from genzoo.kernels import registry
from genzoo.results import benchmark_json


def test_points_cover_every_op_backend_and_put_the_baselines_first():
    points = ops.op_points("cpu", quick=True)
    assert {p.op for p in points} == {op.name for op in registry.all_ops()}
    for op in registry.all_ops():
        mine = [p for p in points if p.op == op.name]
        assert {p.backend for p in mine} == set(op.backends)
        assert mine[0].backend == "eager"
        if op.vendor_backend:  # measured before the backends that are compared with it
            assert mine[1].backend == op.vendor_backend
    assert (
        registry.get("attention").vendor_backend == "sdpa"
        and registry.get("ddim_step").vendor_backend is None
    )


def _row(backend: str, error: float, seconds: float, baselines: pipeline.Baselines):
    point = ops.OpPoint("ddim_step", backend, torch.float32, registry.get("ddim_step").bench_cases["cpu"][0])
    subject = ops.OpSubject(point, "cpu", Ceilings("cpu", copy_gbps=10.0, matmul_tflops={"float32": 1.0}))
    return subject, subject.row(Timing.from_samples([seconds]), ops.Accuracy(error, 1e-7, 1e-5), baselines)


def test_a_wrong_output_gets_no_speed_figure():
    baselines = pipeline.Baselines()
    _row("eager", 1e-7, 2e-5, baselines)
    subject, good = _row("compile", 1e-7, 1e-5, baselines)
    _, bad = _row("compile", 1e-3, 1e-5, baselines)
    assert good.speedup_vs_eager == pytest.approx(2.0) and good.speedup_vs_vendor is None
    cost = registry.get("ddim_step").cost(subject.call)
    assert good.throughput == pytest.approx(cost.bytes_moved / 1e9 / 1e-5)
    assert good.fraction_of_ceiling == pytest.approx(good.throughput / 10.0)
    assert bad.within_tolerance is False
    assert bad.speedup_vs_eager is None and bad.throughput is None and bad.fraction_of_ceiling is None


def test_suite_writes_json_with_metrics_for_every_point(tmp_path):
    json_path = tmp_path / "bench.json"
    options = suites.BenchOptions(
        device="cpu", quick=True, backends=("eager", "triton"), select="ddim_step and float32"
    )
    assert suites.run_suites(options, json_path) == 0
    data = json.loads(json_path.read_text())
    assert data["genzoo"]["ceilings"]["copy_gbps"] > 0
    assert data["genzoo"]["fingerprint"]["device"] == "cpu"
    frame = benchmark_json.load(json_path)
    ops = frame[frame["kind"] == "op"]
    eager = ops[ops["backend"] == "eager"]
    assert len(eager) == len([c for c in registry.get("ddim_step").bench_cases["cpu"] if c.quick])
    assert (eager["throughput"] > 0).all() and (eager["fraction_of_ceiling"] > 0).all()
    assert (eager["speedup_vs_eager"] == 1.0).all()
    assert (eager["error"] < 1e-5).all() and eager["within_tolerance"].all()
    interpreted = ops[ops["backend"] == "triton"]
    assert (
        len(interpreted) and interpreted["interpreted"].all() and interpreted["speedup_vs_eager"].isna().all()
    )
    assert set(frame.loc[frame["kind"] == "ceiling", "metric"]) >= {"copy_bandwidth", "matmul_float32"}
    assert not list(tmp_path.glob(".*partial")), "no temporary file may be left behind"
    table = suites.op_table(frame)
    assert set(table["backend"]) == {"eager", "triton"}


def test_attention_rows_carry_the_speedup_over_sdpa(tmp_path):
    json_path = tmp_path / "bench.json"
    options = suites.BenchOptions(
        device="cpu",
        quick=True,
        backends=("eager", "sdpa", "compile"),
        select="test_op and attention- and float32",
    )
    assert suites.run_suites(options, json_path) == 0
    ops = benchmark_json.load(json_path).query("kind == 'op'").set_index("backend")
    assert set(ops.index) == {"eager", "sdpa", "compile"}
    assert ops.loc["sdpa", "speedup_vs_vendor"] == 1.0
    ratio = ops.loc["sdpa", "value"] / ops.loc["compile", "value"]
    assert ops.loc["compile", "speedup_vs_vendor"] == pytest.approx(ratio)
    assert pd.isna(ops.loc["eager", "speedup_vs_vendor"])  # measured first: sdpa's speedup_vs_eager says it


def test_the_reference_is_computed_once_per_point_and_survives_eager_running_out_of_memory(monkeypatch):
    op = registry.get("attention")
    calls, reference = [], op.reference

    def counting_reference(*args, **kwargs):
        calls.append(1)
        return reference(*args, **kwargs)

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(op, "reference", counting_reference)
    monkeypatch.setattr(op, "eager", out_of_memory)
    baselines = pipeline.Baselines()
    case = op.bench_cases["cpu"][0]
    for backend in ("sdpa", "triton"):  # compile would compile the patched eager code
        subject = ops.OpSubject(ops.OpPoint("attention", backend, torch.bfloat16, case), "cpu", None)
        with subject.prepared() as run:
            accuracy = subject.check(run(), baselines)
        assert accuracy.eager_error is None and accuracy.limit == tolerance.TOLERANCES[torch.bfloat16].bound
        assert 0 < accuracy.error < accuracy.limit
    assert len(calls) == 1
