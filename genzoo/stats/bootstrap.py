"""Bootstrap of a statistic of one or two sample sets.

One or two sets (Efron & Tibshirani 1993, "An Introduction to the Bootstrap", Ch. 6 and 8.3 for two
samples): each replicate draws N rows with replacement from the first set and, independently, M rows
from the second, and evaluates the statistic on them. The interval is a percentile interval (E&T
Ch. 13), plain by default, or shifted by the bootstrap bias estimate for biased statistics such as FID:
``interval.py`` says which variant covers what and why BC / BCa were not used.

Streams: every draw comes from ``numpy.random.Generator(PCG64)`` seeded by ``SeedSequence(seed,
spawn_key=(stream,))``, one stream per role, one call per replicate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from genzoo.stats.checks import (
    StatsInputError,
    as_rows,
    check_level,
    check_resamples,
    check_same_width,
    check_seed,
)
from genzoo.stats.interval import METHODS, Interval, Replicates

# one stream per role (``stream``)
FIRST_SIDE, REFERENCE_SIDE, SUBSAMPLE = range(3)
CHUNK_ELEMENTS = 1 << 22  # resampled float64 values held at once by a vectorized statistic: 32 MB

Statistic = Callable[..., float]


def stream(seed: int, *key: int) -> np.random.Generator:
    """The generator of one role (FIRST_SIDE, ...) of the bootstrap seeded ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def _evaluate(statistic: Statistic, vectorized: bool, *stacks: np.ndarray) -> np.ndarray:
    """The statistic of each resample: stacks are [c, N, ...], one per side."""
    if vectorized:
        values = np.asarray(statistic(*stacks), dtype=np.float64).ravel()
        if values.size != stacks[0].shape[0]:
            raise StatsInputError(
                f"statistic returned {values.size} values for {stacks[0].shape[0]} resamples"
            )
        return values
    return np.array([statistic(*(stack[i] for stack in stacks)) for i in range(stacks[0].shape[0])], float)


def _estimate(statistic: Statistic, vectorized: bool, *sets: np.ndarray) -> float:
    value = float(_evaluate(statistic, vectorized, *(s[None] for s in sets))[0])
    if not np.isfinite(value):
        raise StatsInputError(f"statistic is {value} on the given samples")
    return value


def _chunk(resamples: int, *sets: np.ndarray) -> int:
    return max(1, min(resamples, CHUNK_ELEMENTS // sum(s.size for s in sets)))


def _checked_sets(a: object, b: object | None) -> tuple[np.ndarray, ...]:
    first = as_rows("a", a)
    if b is None:
        return (first,)
    second = as_rows("b", b)
    check_same_width("a", first, "b", second)
    return first, second


def _check_method(method: str) -> str:
    if method not in METHODS:
        raise StatsInputError(f"method must be one of {METHODS}, got {method!r}")
    return method


def bootstrap_replicates(
    statistic: Statistic,
    a: object,
    b: object | None = None,
    *,
    resamples: int = 1000,
    seed: int = 0,
    method: str = "percentile",
    vectorized: bool = False,
    sampling_seeds: Sequence[int] = (),
) -> Replicates:
    """Replicates of ``statistic(a)`` or ``statistic(a, b)``, each side resampled independently.

    ``a``, ``b``: rows, [N] or [N, D] (N >= 2, finite, equal widths). ``vectorized``: the statistic
    takes stacks [c, N, ...] and returns c values (much faster for moment-based statistics).
    ``method``: the interval variant the replicates read by default (``interval.METHODS``).
    ``sampling_seeds``: the seeds that generated ``a``, carried into the intervals."""
    sets = _checked_sets(a, b)
    resamples, seed, method = check_resamples(resamples), check_seed(seed), _check_method(method)
    estimate = _estimate(statistic, vectorized, *sets)
    generators = [stream(seed, FIRST_SIDE), stream(seed, REFERENCE_SIDE)][: len(sets)]
    values, chunk = [], _chunk(resamples, *sets)
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        stacks = [
            rows[np.stack([g.integers(0, rows.shape[0], rows.shape[0]) for _ in range(count)])]
            for rows, g in zip(sets, generators)
        ]
        values.append(_evaluate(statistic, vectorized, *stacks))
    return Replicates(
        estimate=estimate,
        values=np.concatenate(values),
        n=sets[0].shape[0],
        method=method,
        seeds=tuple(check_seed(s, "sampling_seeds") for s in sampling_seeds),
    )


def bootstrap(
    statistic: Statistic,
    a: object,
    b: object | None = None,
    *,
    resamples: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    method: str = "percentile",
    vectorized: bool = False,
    sampling_seeds: Sequence[int] = (),
) -> Interval:
    """``statistic(a[, b])`` with its ``level`` percentile interval (see ``bootstrap_replicates``)."""
    level = check_level(level)
    replicates = bootstrap_replicates(
        statistic,
        a,
        b,
        resamples=resamples,
        seed=seed,
        method=method,
        vectorized=vectorized,
        sampling_seeds=sampling_seeds,
    )
    return replicates.interval(level)
