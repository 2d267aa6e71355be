"""Input checks of the statistics, so that bad input fails with a ``ValueError`` that names the
argument instead of a NaN interval or a verdict drawn from nothing.

Sample sets are rows: ``[N, D]`` feature matrices (one sample a row) or ``[N]`` scalars (one value
per sample or per seed). numpy arrays, torch tensors and sequences are accepted and copied to float64.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

MIN_RESAMPLES = 100  # below this the 2.5% and 97.5% percentiles rest on fewer than 3 replicates


class StatsInputError(ValueError):
    """An argument of a statistic is unfit: the message names it."""


def as_rows(name: str, samples: object, min_count: int = 2) -> np.ndarray:
    """``samples`` as float64 rows, [N] or [N, D], finite, N >= ``min_count``."""
    if hasattr(samples, "detach"):  # a torch tensor, wherever it lives
        samples = samples.detach().cpu().double().numpy()
    try:
        rows = np.array(samples, dtype=np.float64)
    except (TypeError, ValueError):
        raise StatsInputError(f"{name} must be an array of numbers, got {type(samples).__name__}") from None
    if rows.ndim not in (1, 2):
        raise StatsInputError(f"{name} must be [N] or [N, D] rows, got shape {rows.shape}")
    if rows.shape[0] == 0:
        raise StatsInputError(f"{name} is empty (shape {rows.shape})")
    if rows.ndim == 2 and rows.shape[1] == 0:
        raise StatsInputError(f"{name} has no feature columns (shape {rows.shape})")
    if rows.shape[0] < min_count:
        raise StatsInputError(f"{name} has {rows.shape[0]} samples; at least {min_count} are needed")
    if not np.isfinite(rows).all():
        raise StatsInputError(f"{name} has {int((~np.isfinite(rows)).sum())} non-finite values (NaN or inf)")
    return rows


def check_same_width(name_a: str, a: np.ndarray, name_b: str, b: np.ndarray) -> None:
    """Both [N] or both [N, D] with the same D."""
    if a.shape[1:] != b.shape[1:]:
        raise StatsInputError(
            f"{name_a} has rows of shape {a.shape[1:]} but {name_b} has {b.shape[1:]}: "
            f"mismatched feature widths"
        )


def check_resamples(resamples: object) -> int:
    if (
        isinstance(resamples, bool)
        or not isinstance(resamples, numbers.Integral)
        or resamples < MIN_RESAMPLES
    ):
        raise StatsInputError(f"resamples must be an integer >= {MIN_RESAMPLES}, got {resamples!r}")
    return int(resamples)


def check_level(level: object) -> float:
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise StatsInputError(f"level must be a number in (0, 1), e.g. 0.95, got {level!r}")
    return float(level)


def check_seed(seed: object, name: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise StatsInputError(f"{name} must be a non-negative integer, got {seed!r}")
    return int(seed)


def check_better(better: object) -> str:
    if better not in ("lower", "higher"):
        raise StatsInputError(f"better must be 'lower' or 'higher', got {better!r}")
    return better


def check_finite_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise StatsInputError(f"{name} must be a finite number, got {value!r}")
    return float(value)
