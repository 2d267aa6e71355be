"""Verdicts on planted differences, on no difference, and on ratios of spreads."""

from __future__ import annotations

import numpy as np
import pytest

from genzoo.stats import bootstrap
from genzoo.stats.checks import StatsInputError
from genzoo.stats.verdicts import compare_intervals, compare_spreads


def test_ratio_of_seed_spreads():
    rng = np.random.default_rng(4)
    steady, unstable = 20 + 0.5 * rng.normal(size=6), 20 + 3.0 * rng.normal(size=6)  # FID per training seed
    verdict = compare_spreads(steady, unstable, better="lower")
    assert verdict.status == "holds" and verdict.kind == "ratio" and (verdict.n_a, verdict.n_b) == (6, 6)
    assert verdict.effect.high < 1
    assert verdict.effect.estimate == pytest.approx(np.std(steady, ddof=1) / np.std(unstable, ddof=1))
    assert compare_spreads(unstable, steady).status == "does not hold"
    assert compare_spreads(steady, 20 + 0.5 * rng.normal(size=6)).status == "not resolved at this N"


def test_spread_ratio_interval_covers_the_true_ratio():
    rng = np.random.default_rng(5)
    covered = sum(
        compare_spreads(2.0 * rng.normal(size=5), rng.normal(size=4)).effect.contains(2.0) for _ in range(400)
    )
    assert 0.9 <= covered / 400 <= 0.995


def test_intervals_read_back_from_rows_decide_a_planted_difference_and_not_noise():
    rng = np.random.default_rng(7)  # fixed: "not resolved" of two equal draws fails in ~5% of seeds by design
    draws = [rng.normal(0.0, 1.0, 400), rng.normal(0.0, 1.0, 400), rng.normal(0.5, 1.0, 400)]
    a, same, shifted = (bootstrap(np.mean, x, seed=1) for x in draws)
    assert compare_intervals(a, shifted, better="lower").status == "holds"  # 0.5 = 7 standard errors
    assert compare_intervals(shifted, a, better="lower").status == "does not hold"
    assert compare_intervals(a, same, better="lower").status == "not resolved at this N"
    effect = compare_intervals(a, shifted).effect
    # the width of a difference of two independent means: sqrt(2) standard errors of one
    assert effect.width == pytest.approx(np.sqrt(2) * a.width, rel=0.25)
    with pytest.raises(StatsInputError, match="level 0.95 but b's at 0.9"):
        compare_intervals(a, bootstrap(np.mean, draws[1], seed=1, level=0.9))
