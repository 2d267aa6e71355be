"""Model points through the harness: the grid, the error charged to a backend, and the rows."""

from __future__ import annotations

import pytest
import torch

from genzoo import tolerance
from genzoo.harness import models, pipeline
from genzoo.harness.timing import Timing
from genzoo.models import protocol


def test_points_cover_every_family_task_and_backend_with_eager_first():
    points = models.model_points("cpu")
    assert {p.family for p in points} == set(protocol.names())
    assert {p.task for p in points} == {"generate", "train_step"}
    assert all(p.preset == "tiny" for p in points)
    for name in protocol.names():
        mine = [p for p in points if p.family == name]
        assert {p.backend for p in mine} == set(protocol.get(name).backends())
        for case in {p.case for p in mine}:
            assert next(p.backend for p in mine if p.case == case) == "eager"
    llm_cases = {p.case for p in points if p.family == "llm" and p.task == "generate"}
    assert any("use_cache=True" in c for c in llm_cases) and any("use_cache=False" in c for c in llm_cases)
    assert len({p.id for p in points}) == len(points)


def test_every_family_can_be_compiled_whole():
    """compile means one thing for every model: the whole model, so every family has it."""
    for name in protocol.names():
        assert {"eager", "compile"} <= set(protocol.get(name).backends())


def test_backend_selection_keeps_eager():
    points = models.model_points("cpu", backends=["sdpa"])
    assert {p.backend for p in points} == {"eager", "sdpa"}


def _gan_subject(backend, dtype=torch.float32):
    point = models.ModelPoint("gan", "generate", backend, dtype, "tiny", (("n", 4),))
    return models.ModelSubject(point, torch.nn.Identity(), None, "cpu")


def test_error_limits_fp32_by_the_model_tolerance_and_low_precision_by_twice_eager():
    baselines = pipeline.Baselines()
    reference = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert _gan_subject("eager").check(reference, baselines).within_tolerance is None  # the baseline
    near = _gan_subject("triton").check(reference + 1e-6, baselines)
    assert near.limit == tolerance.MODEL_OUTPUT_FP32.bound and near.within_tolerance
    assert _gan_subject("triton").check(reference + 1e-2, baselines).within_tolerance is False
    _gan_subject("eager", torch.bfloat16).check(reference + 3e-3, baselines)
    limit = _gan_subject("triton", torch.bfloat16).check(reference, baselines).limit
    assert limit == tolerance.error_limit(
        torch.bfloat16, tolerance.relative_error(reference + 3e-3, reference)
    )


def test_rows_give_throughput_and_no_speedup_where_untrusted(monkeypatch):
    knobs = (("n", 4), ("new_tokens", 16))
    baselines = pipeline.Baselines()
    eager = models.ModelSubject(
        models.ModelPoint("llm", "generate", "eager", torch.float32, "tiny", knobs),
        torch.nn.Identity(),
        None,
        "cpu",
    )
    eager.row(Timing.from_samples([1.0]), models.OutputError(None, None), baselines)
    sdpa = models.ModelSubject(
        models.ModelPoint("llm", "generate", "sdpa", torch.float32, "tiny", knobs),
        torch.nn.Identity(),
        None,
        "cpu",
    )
    timing = Timing.from_samples([0.4, 0.5, 0.6])
    row = sdpa.row(timing, models.OutputError(1e-7, 1e-4), baselines)
    assert (row.kind, row.subject, row.metric, row.unit, row.better) == (
        "model",
        "llm",
        "tokens_per_s",
        "tokens/s",
        "higher",
    )
    assert row.value == 64 / 0.5 and row.p20 == pytest.approx(64 / timing.p80_s) and row.samples == 4
    assert row.speedup_vs_eager == 2.0 and row.within_tolerance and dict(row.knobs)["new_tokens"] == 16
    wrong = sdpa.row(timing, models.OutputError(1.0, 1e-4), baselines)
    assert wrong.speedup_vs_eager is None and wrong.within_tolerance is False
    monkeypatch.setattr(models.triton_mode, "interpreted", lambda: True)
    triton = models.ModelSubject(
        models.ModelPoint("llm", "train_step", "triton", torch.float32, "tiny"),
        torch.nn.Identity(),
        None,
        "cpu",
    )
    row = triton.row(timing, models.OutputError(None, None), baselines)
    assert row.interpreted and row.speedup_vs_eager is None and row.metric == "train_step_latency"


def test_low_precision_is_judged_against_eager_float32_on_the_same_seed():
    """A bf16 speedup is over eager fp32, and a bf16 point draws fp32's noise: its error is
    the precision's, not another seed's."""
    knobs = (("n", 4),)
    fp32 = models.ModelPoint("gan", "generate", "eager", torch.float32, "tiny", knobs)
    bf16 = models.ModelPoint("gan", "generate", "eager", torch.bfloat16, "tiny", knobs)
    assert fp32.seed() == bf16.seed()
    baselines = pipeline.Baselines()
    models.ModelSubject(fp32, torch.nn.Identity(), None, "cpu").row(
        Timing.from_samples([1.0]), models.OutputError(None, None), baselines
    )
    row = models.ModelSubject(bf16, torch.nn.Identity(), None, "cpu").row(
        Timing.from_samples([0.25]), models.OutputError(1e-3, 1e-2), baselines
    )
    assert row.speedup_vs_eager == 4.0
