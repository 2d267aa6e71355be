"""The model benchmark's harness: its points, the error it charges a backend, and its rows."""

from __future__ import annotations

import torch

from genzoo import tolerance
from genzoo.models import model_benchmark, protocol


def test_points_cover_every_family_task_and_backend_with_eager_first():
    points = model_benchmark.model_points("cpu")
    assert {p.family for p in points} == set(protocol.names())
    assert {p.task for p in points} == set(model_benchmark.TASKS)
    assert all(p.preset == "tiny" for p in points)
    for name in protocol.names():
        mine = [p for p in points if p.family == name]
        assert {p.backend for p in mine} == set(protocol.get(name).backends())
        for case in {p.case for p in mine}:
            assert next(p.backend for p in mine if p.case == case) == "eager"
    llm_cases = {p.case for p in points if p.family == "llm" and p.task == "generate"}
    assert any("use_cache=True" in c for c in llm_cases) and any("use_cache=False" in c for c in llm_cases)
    assert len({p.id for p in points}) == len(points)


def test_backend_selection_keeps_eager():
    points = model_benchmark.model_points("cpu", backends=["sdpa"])
    assert {p.backend for p in points} == {"eager", "sdpa"}


def test_error_limits_fp32_by_the_model_tolerance_and_low_precision_by_twice_eager():
    point = model_benchmark.ModelPoint("gan", "generate", "eager", torch.float32, "tiny", (("n", 4),))
    outputs: dict = {}
    reference = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert model_benchmark.output_error(point, reference, outputs).within_tolerance is None  # the baseline
    other = model_benchmark.ModelPoint("gan", "generate", "triton", torch.float32, "tiny", (("n", 4),))
    near = model_benchmark.output_error(other, reference + 1e-6, outputs)
    assert near.limit == tolerance.MODEL_OUTPUT_FP32.bound and near.within_tolerance
    assert model_benchmark.output_error(other, reference + 1e-2, outputs).within_tolerance is False
    eager_bf16 = model_benchmark.ModelPoint("gan", "generate", "eager", torch.bfloat16, "tiny", (("n", 4),))
    model_benchmark.output_error(eager_bf16, reference + 3e-3, outputs)
    triton_bf16 = model_benchmark.ModelPoint("gan", "generate", "triton", torch.bfloat16, "tiny", (("n", 4),))
    limit = model_benchmark.output_error(triton_bf16, reference, outputs).limit
    assert limit == tolerance.error_limit(
        torch.bfloat16, tolerance.relative_error(reference + 3e-3, reference)
    )


def test_rows_give_throughput_and_no_speedup_where_untrusted(monkeypatch):
    point = model_benchmark.ModelPoint(
        "llm", "generate", "sdpa", torch.float32, "tiny", (("n", 4), ("new_tokens", 16))
    )
    ok = model_benchmark.OutputError(1e-7, 1e-4)
    row = model_benchmark.measurement(point, 0.5, 0.4, 0.6, 10, ok, 1.0, (123, "test"))
    assert (row.kind, row.subject, row.metric, row.unit) == ("model", "llm", "tokens_per_s", "tokens/s")
    assert row.value == 64 / 0.5 and row.p20 == 64 / 0.6 and row.p80 == 64 / 0.4
    assert row.speedup_vs_eager == 2.0 and row.within_tolerance
    wrong = model_benchmark.measurement(
        point, 0.5, 0.4, 0.6, 10, model_benchmark.OutputError(1.0, 1e-4), 1.0, (1, "")
    )
    assert wrong.speedup_vs_eager is None and wrong.within_tolerance is False
    triton = model_benchmark.ModelPoint("llm", "train_step", "triton", torch.float32, "tiny")
    monkeypatch.setattr(model_benchmark.triton_mode, "interpreted", lambda: True)
    row = model_benchmark.measurement(
        triton, 0.5, 0.4, 0.6, 1, model_benchmark.OutputError(None, None), 1.0, (1, "")
    )
    assert row.interpreted and row.speedup_vs_eager is None and row.metric == "train_step_latency"
