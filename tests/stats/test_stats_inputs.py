"""Bad input fails with a ValueError that names the argument, never with a NaN interval."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genzoo.stats.bootstrap import bootstrap, bootstrap_replicates, seed_replicates
from genzoo.stats.fid_interval import fid_interval, fid_interval_over_seeds
from genzoo.stats.interval import Interval
from genzoo.stats.verdicts import compare, compare_spreads

ROWS = np.random.default_rng(0).normal(size=(20, 4))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: bootstrap(np.mean, []), "a is empty"),
        (lambda: bootstrap(np.mean, np.zeros((0, 4))), "a is empty"),
        (lambda: bootstrap(np.mean, [1.0, math.nan, 2.0]), "a has 1 non-finite"),
        (lambda: bootstrap(np.mean, ROWS, [[1.0, 2.0]] * 5), "mismatched feature widths"),
        (lambda: bootstrap(np.mean, ROWS, resamples=99), "resamples must be an integer >= 100"),
        (lambda: bootstrap(np.mean, ROWS, level=95), "level must be"),
        (lambda: bootstrap(np.mean, ROWS, method="bca"), "method must be one of"),
        (lambda: bootstrap(np.mean, ROWS, seed=-1), "seed must be"),
        (lambda: bootstrap(np.mean, ["a", "b"]), "a must be an array of numbers"),
        (lambda: bootstrap(lambda x: math.nan, ROWS), "statistic is nan"),
        (lambda: fid_interval(torch.zeros(0, 4), ROWS), "generated is empty"),
        (lambda: fid_interval(ROWS, np.full((20, 4), np.nan)), "reference has 80 non-finite"),
        (lambda: fid_interval(ROWS, ROWS[:, :3]), "generated has rows of shape"),
        (lambda: fid_interval(ROWS, ROWS, resamples=10), "resamples must be"),
        (lambda: fid_interval(ROWS[:, 0], ROWS[:, 0]), r"\[N, D\] feature matrices"),
        (lambda: fid_interval_over_seeds({1: ROWS}, ROWS), "at least 2 sampling seeds"),
        (lambda: fid_interval_over_seeds({1: ROWS, 2: ROWS[:, :2]}, ROWS), r"per_seed\[2\] has rows"),
        (lambda: seed_replicates(np.mean, {1: ROWS, 2: ROWS[:10]}), "equal N per seed"),
        (lambda: seed_replicates(np.mean, {1: ROWS, -2: ROWS}), "per_seed keys"),
        (lambda: compare(1.0, 2.0), "a must be Replicates"),
        (lambda: compare(ROWS, ROWS[:, :2], statistic=np.mean), "mismatched feature widths"),
        (lambda: compare(ROWS, [], statistic=np.mean), "b is empty"),
        (lambda: compare(ROWS, ROWS, statistic=np.mean, better="smaller"), "better must be"),
        (lambda: compare_spreads([1.0], [1.0, 2.0]), "values_a has 1 samples"),
        (lambda: compare_spreads([1.0, 2.0], [3.0, 3.0]), "values_b has no spread"),
        (lambda: Interval(1.0, 2.0, 0.5, 0.95, 10, 100, "percentile"), "low 2.0 is above"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_replicates_of_different_counts_or_variants_do_not_compare():
    a = bootstrap_replicates(np.mean, ROWS[:, 0], resamples=100)
    b = bootstrap_replicates(np.mean, ROWS[:, 1], resamples=200)
    with pytest.raises(ValueError, match="a has 100 replicates but b has 200"):
        compare(a, b)
    centred = bootstrap_replicates(np.mean, ROWS[:, 1], resamples=100, method="centred")
    with pytest.raises(ValueError, match="read by"):
        compare(a, centred)
