"""Spread over seeds and loss-curve oscillation on values whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genzoo.quality.inputs import QualityInputError
from genzoo.quality.seed_spread import loss_curve_spread, oscillation, spread


def test_spread_of_random_fids_matches_numpy():
    fids = (10 + 5 * torch.rand(7)).tolist()
    result = spread(fids)
    assert result.mean == pytest.approx(np.mean(fids))
    assert result.std == pytest.approx(np.std(fids, ddof=1))
    assert result.range == pytest.approx(max(fids) - min(fids))
    assert result.cv == pytest.approx(np.std(fids, ddof=1) / np.mean(fids))
    assert result.n == 7


def test_spread_edge_cases():
    assert spread([3.0, 3.0]).cv == 0.0
    assert spread([-1.0, 1.0]).cv == math.inf
    with pytest.raises(QualityInputError, match="values has 1 values; at least 2"):
        spread([4.2])
    with pytest.raises(QualityInputError, match="non-finite"):
        spread([1.0, math.nan])
    with pytest.raises(QualityInputError, match="sequence of numbers"):
        spread(["a", "b"])


def test_monotone_and_flat_curves_do_not_oscillate():
    decreasing = (5 - torch.rand(50).cumsum(0)).tolist()
    assert oscillation(decreasing) == pytest.approx(0.0, abs=1e-12)
    assert oscillation([2.0] * 10) == 0.0


@pytest.mark.parametrize("periods", [1, 3, 8])
def test_a_sine_with_k_periods_oscillates_2k_minus_1(periods):
    # sampled 4 times per period, so every peak and trough is hit: TV = 4k A, range = 2A
    amplitude, offset = 0.5 + torch.rand(()).item(), torch.randn(()).item()
    t = torch.arange(4 * periods + 1, dtype=torch.float64) / 4
    curve = (offset + amplitude * torch.sin(2 * math.pi * t)).tolist()
    assert oscillation(curve) == pytest.approx(2 * periods - 1, rel=1e-9)


def test_loss_curve_spread_across_seeds():
    base = torch.rand(30).cumsum(0)
    wiggle = torch.tensor([(-1.0) ** i for i in range(30)])
    curves = [base.tolist(), (base + 1).tolist(), (base + 0.3 * wiggle).tolist()]
    result = loss_curve_spread(curves)
    stacked = torch.stack([torch.tensor(c, dtype=torch.float64) for c in curves])
    assert result.across_seed_std == pytest.approx(stacked.std(0).mean().item())
    assert result.final_loss.range == pytest.approx(1.0 + 0.3, rel=1e-6)  # last wiggle term is -0.3
    assert result.oscillation.n == 3
    assert result.oscillation.range > 0  # only the wiggling seed oscillates


def test_loss_curve_spread_refuses_bad_input():
    with pytest.raises(QualityInputError, match="at least 2 seeds"):
        loss_curve_spread([[1.0, 2.0]])
    with pytest.raises(QualityInputError, match="same length"):
        loss_curve_spread([[1.0, 2.0], [1.0, 2.0, 3.0]])
    with pytest.raises(QualityInputError, match=r"curves\[1\] has non-finite"):
        loss_curve_spread([[1.0, 2.0], [1.0, math.inf]])
