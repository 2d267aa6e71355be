"""Bad input fails with a ValueError that names the argument, never with a NaN interval."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genzoo.stats.bootstrap import bootstrap
from genzoo.stats.interval import Interval
from genzoo.stats.verdicts import compare_intervals, compare_spreads

ROWS = np.random.default_rng(0).normal(size=(20, 4))
INTERVAL = Interval(1.0, 0.5, 1.5, 0.95, 10, 100, "percentile")


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
        (lambda: compare_intervals(INTERVAL, INTERVAL, better="smaller"), "better must be"),
        (lambda: compare_spreads([1.0], [1.0, 2.0]), "values_a has 1 samples"),
        (lambda: compare_spreads([1.0, 2.0], [3.0, 3.0]), "values_b has no spread"),
        (lambda: Interval(1.0, 2.0, 0.5, 0.95, 10, 100, "percentile"), "low 2.0 is above"),
    ],
)
def test_bad_input_names_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
