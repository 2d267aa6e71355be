"""The bootstrap on statistics whose sampling distribution is known: means of normal samples."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from genzoo.measurement import Measurement
from genzoo.stats.bootstrap import bootstrap, bootstrap_replicates
from genzoo.stats.interval import Interval, measurement_fields, seeds_label


def column_mean(stack):
    """A vectorized statistic: the mean of each resample [c, N] -> [c]."""
    return stack.mean(axis=1)


def test_interval_of_a_mean_matches_normal_theory():
    rng = np.random.default_rng(0)
    values = rng.normal(2.0, 3.0, size=400)
    result = bootstrap(np.mean, values, resamples=2000, seed=1)
    half_width = 1.96 * values.std(ddof=1) / np.sqrt(values.size)
    assert result.estimate == pytest.approx(values.mean())
    assert result.width == pytest.approx(2 * half_width, rel=0.1)
    assert result.low < values.mean() < result.high
    assert (result.n, result.resamples, result.level, result.method) == (400, 2000, 0.95, "percentile")


def test_seeded_and_vectorized_give_the_same_replicates():
    values = np.random.default_rng(1).normal(size=(60, 3))
    first = bootstrap_replicates(lambda rows: rows[:, 0].mean(), values, resamples=300, seed=4)
    again = bootstrap_replicates(lambda rows: rows[:, 0].mean(), values, resamples=300, seed=4)
    batched = bootstrap_replicates(
        lambda s: s[:, :, 0].mean(axis=1), values, resamples=300, seed=4, vectorized=True
    )
    other = bootstrap_replicates(lambda rows: rows[:, 0].mean(), values, resamples=300, seed=5)
    assert np.array_equal(first.values, again.values)
    assert np.allclose(first.values, batched.values, rtol=0, atol=1e-12)
    assert not np.array_equal(first.values, other.values)
    with pytest.raises(ValueError):
        first.values[0] = 0.0  # read-only


def test_two_sets_are_resampled_independently():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0.0, 1.0, size=300), rng.normal(1.0, 2.0, size=100)
    result = bootstrap(lambda x, y: x.mean() - y.mean(), a, b, resamples=2000)
    expected_width = 2 * 1.96 * np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert result.width == pytest.approx(expected_width, rel=0.1)
    assert result.estimate == pytest.approx(a.mean() - b.mean())


def test_percentile_interval_of_a_mean_covers_it():
    rng = np.random.default_rng(3)
    covered = sum(
        bootstrap(column_mean, rng.normal(size=50), resamples=400, seed=i, vectorized=True).contains(0.0)
        for i in range(200)
    )
    assert 0.9 <= covered / 200 <= 0.995


def test_debiased_and_centred_variants_shift_by_the_bootstrap_bias():
    rng = np.random.default_rng(6)
    values = rng.normal(size=30)
    replicates = bootstrap_replicates(lambda x: x.var(), values, resamples=1000)  # biased low by 1/N
    plain, centred, debiased = (replicates.interval(method=m) for m in ("percentile", "centred", "debiased"))
    bias = replicates.bias
    assert bias < 0
    assert centred.low == pytest.approx(plain.low - bias) and centred.estimate == plain.estimate
    assert debiased.high == pytest.approx(plain.high - 2 * bias)
    assert debiased.estimate == pytest.approx(values.var() - bias)


def test_intervals_fill_measurement_rows():
    interval = Interval(
        3.2, 2.9, 3.6, 0.95, n=500, resamples=1000, method="centred", seeds=(1003, 1001, 1000, 1002)
    )
    fields = measurement_fields(interval)
    assert fields == {"value": 3.2, "samples": 500, "seeds": "1000-1003", "ci_low": 2.9, "ci_high": 3.6}
    row = Measurement(
        kind="quality", subject="gan", backend="-", dtype="-", case="-", metric="fid", value=0.0, unit=""
    )
    row = dataclasses.replace(row, **fields)
    assert (row.value, row.samples, row.seeds, row.ci_low, row.ci_high) == (3.2, 500, "1000-1003", 2.9, 3.6)
    assert seeds_label((5, 1)) == "1,5" and seeds_label(()) == "" and seeds_label((7,)) == "7"
