"""A whole family sweep on the tiny preset: every point yields a speed row, quality where asked,
and a kernel-swap comparison for every non-baseline point."""

from __future__ import annotations

import dataclasses

import pytest

from genzoo import sweeps
from genzoo.measurement import to_frame
from genzoo.sweeps import plan


@pytest.fixture(scope="module")
def vae_rows():
    return to_frame(sweeps.run_family("vae", "tiny", backends=("eager", "triton"), progress=False))


def test_speed_rows_for_every_point(vae_rows):
    speed = vae_rows[vae_rows["metric"] == "images_per_s"]
    assert (speed["value"] > 0).all()
    assert set(speed["case"]) >= {"default", "batch=1", "batch=4"}
    eager = speed[(speed["backend"] == "eager") & (speed["dtype"] == "float32")]
    assert (eager["speedup_vs_eager"] == 1.0).all()


def test_quality_and_anchors_beside_speed(vae_rows):
    fid = vae_rows[(vae_rows["metric"] == "fid")]
    assert {"vae", "anchor_real_balanced", "anchor_uniform_noise"} <= set(fid["subject"])
    assert not vae_rows.duplicated(subset=["kind", "subject", "backend", "dtype", "case", "metric"]).any()
    assert set(vae_rows.loc[vae_rows["subject"] == "vae", "metric"]) >= {
        "elbo",
        "latent_path_ratio",
        "train_seconds",
    }


def test_bf16_and_interpreted_triton_are_compared_with_eager(vae_rows):
    swaps = vae_rows[vae_rows["metric"] == "output_rel_l2_diff"]
    bf16 = swaps[swaps["dtype"] == "bfloat16"]
    assert len(bf16) == 1 and 0 < bf16["value"].iloc[0] < 0.1
    triton = swaps[swaps["backend"] == "triton"]
    assert len(triton) == 1 and triton["interpreted"].iloc[0] and triton["value"].iloc[0] < 1e-4
    assert vae_rows[(vae_rows["backend"] == "triton") & (vae_rows["metric"] == "images_per_s")].empty


def test_a_quality_set_of_one_batch_is_timed_over_more_batches(monkeypatch):
    """The CPU preset generates its 32 quality images in one batch: one timing, no spread, unless
    the runner times more batches while the budget lasts."""
    tiny = plan.SETTINGS["tiny"]
    one_batch = dataclasses.replace(tiny, quality_samples=tiny.batch, timing_budget_s=60.0, max_rounds=3)
    monkeypatch.setitem(plan.SETTINGS, "tiny", one_batch)
    rows = to_frame(sweeps.run_family("vae", "tiny", backends=("eager",), progress=False))
    speed = rows[rows["metric"] == "images_per_s"]
    assert "default" in set(speed["case"]) and (speed["rounds"] == 3).all()
    assert (speed["p20"] <= speed["value"]).all() and (speed["value"] <= speed["p80"]).all()


def test_points_time_with_the_benchmark_threads_and_training_keeps_every_core(monkeypatch):
    """On the CPU the timed points run with cpu_benchmark_threads(); training (whose seconds are
    the family's training compute) and whatever runs after keep the caller's thread count."""
    import torch

    from genzoo.harness import timing
    from genzoo.models import checkpoint
    from genzoo.sweeps.runner import FamilySweep

    seen = {"train": [], "point": []}
    train, run_point = checkpoint.ensure_trained_seeds, FamilySweep.run
    monkeypatch.setattr(timing, "cpu_benchmark_threads", lambda: 1)
    monkeypatch.setattr(
        checkpoint,
        "ensure_trained_seeds",
        lambda *a, **k: seen["train"].append(torch.get_num_threads()) or train(*a, **k),
    )
    monkeypatch.setattr(
        FamilySweep,
        "run",
        lambda self, point: seen["point"].append(torch.get_num_threads()) or run_point(self, point),
    )
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        sweeps.run_family("gan", "tiny", backends=("eager",), device="cpu", progress=False)
        assert seen["train"] == [2] and seen["point"] and set(seen["point"]) == {1}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_bf16_speed_is_judged_against_eager_float32(vae_rows):
    speed = vae_rows[(vae_rows["metric"] == "images_per_s") & (vae_rows["case"] == "default")].set_index(
        "dtype"
    )
    expected = speed.loc["bfloat16", "value"] / speed.loc["float32", "value"]
    assert speed.loc["bfloat16", "speedup_vs_eager"] == pytest.approx(expected)
