"""An estimate with its interval (``Interval``), and the bootstrap replicates it came from (``Replicates``).

Intervals are read off the replicates theta*_1..theta*_B by percentiles (Efron & Tibshirani 1993,
"An Introduction to the Bootstrap", Sec. 13.3: [theta*_(alpha/2), theta*_(1-alpha/2)], here
by ``np.quantile``'s "hazen" rule: the i-th of B sorted replicates is the (i - 1/2) / B quantile).
Three variants, which differ only in what the replicates are shifted by before the percentiles are
taken, b = mean(theta*) - theta_hat being the bootstrap estimate of the estimator's bias
(E&T Sec. 10.2):

    "percentile"  theta*           plain percentile interval; right for statistics with little bias
    "centred"     theta* - b       covers E[theta_hat] at this N: the expected value of the plug-in
                                   estimate, the quantity "FID at N" (compare only at equal N)
    "debiased"    theta* - 2 b     covers theta itself (N -> inf); estimate theta_hat - b (E&T Sec. 10.6)

Why the shifts: the bootstrap distribution of theta* sits around theta_hat + b, while theta_hat sits
around theta + b. A biased estimator's plain percentile interval is thus off by b from E[theta_hat]
and by 2 b from theta. FID of 8-D Gaussians at N = 100 (tests/quality/test_image_metric_intervals.py)
has b = 0.46 against a standard error of 0.38: there the plain interval covered the closed-form FID
in 38% of simulated draws, the "debiased" one in 97%, and the "centred" one covered E[FID_N] in 98%.
The bias-corrected percentile interval (BC, E&T Sec. 14.3) was tried and rejected: when most
replicates lie above theta_hat its z0 = Phi^-1(#{theta* < theta_hat} / B) saturates and the
interval collapses (44-68% coverage of the closed form in simulations of 4- and 8-D Gaussians);
BCa shares that z0 and needs a jackknife of N + M more evaluations.
The shifts assume the replicates' spread and shape, not their location, carry over (the percentile
method's own assumption, E&T Sec. 13.3); b is known to Monte Carlo error sd(theta*) / sqrt(B).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from genzoo.stats.checks import StatsInputError, check_level

METHODS = ("percentile", "centred", "debiased")


@dataclasses.dataclass(frozen=True)
class Interval:
    """``estimate`` with its ``level`` interval [``low``, ``high``], from ``n`` samples (per side where
    there are two; per seed where there are seeds), ``resamples`` bootstrap replicates (0 for a
    closed-form interval) read by ``method``. ``seeds``: the sampling seeds behind the figure."""

    estimate: float
    low: float
    high: float
    level: float
    n: int
    resamples: int
    method: str
    seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        for name in ("estimate", "low", "high"):
            if not math.isfinite(getattr(self, name)):
                raise StatsInputError(f"Interval.{name} must be finite, got {getattr(self, name)!r}")
        if self.low > self.high:
            raise StatsInputError(f"Interval.low {self.low} is above Interval.high {self.high}")
        check_level(self.level)

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


def seeds_label(seeds: tuple[int, ...]) -> str:
    """The ``Measurement.seeds`` text: "1000-1003" for a run of 3 or more consecutive seeds, else "1,5"."""
    ordered = sorted(seeds)
    if len(ordered) >= 3 and ordered == list(range(ordered[0], ordered[0] + len(ordered))):
        return f"{ordered[0]}-{ordered[-1]}"
    return ",".join(str(seed) for seed in ordered)


def measurement_fields(interval: Interval) -> dict[str, object]:
    """The fields of a ``genzoo.measurement.Measurement`` row that carry ``interval``: pass them to
    ``Measurement(...)`` or ``dataclasses.replace(row, **fields)``."""
    return {
        "value": interval.estimate,
        "samples": interval.n,
        "seeds": seeds_label(interval.seeds),
        "ci_low": interval.low,
        "ci_high": interval.high,
    }


def percentile_bounds(
    estimate: float, values: np.ndarray, level: float, method: str
) -> tuple[float, float, float]:
    """(estimate, low, high) of ``method`` (one of METHODS) on replicate ``values`` (module docstring)."""
    if method not in METHODS:
        raise StatsInputError(f"method must be one of {METHODS}, got {method!r}")
    level = check_level(level)
    bias = float(values.mean()) - estimate
    shift = {"percentile": 0.0, "centred": bias, "debiased": 2.0 * bias}[method]
    low, high = np.quantile(values - shift, [(1 - level) / 2, (1 + level) / 2], method="hazen")
    if method == "debiased":
        estimate -= bias
    return estimate, float(low), float(high)


@dataclasses.dataclass(frozen=True, eq=False)
class Replicates:
    """Bootstrap replicates of one figure, kept so that intervals of any level and method can be
    read off them."""

    estimate: float
    values: np.ndarray  # [B] replicate statistics, read-only
    n: int
    method: str = "percentile"  # the variant ``interval()`` reads by default
    seeds: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        values = np.array(self.values, dtype=np.float64).ravel()
        if values.size == 0:
            raise StatsInputError("Replicates.values is empty")
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise StatsInputError(f"statistic gave {bad} non-finite values in {values.size} replicates")
        if self.method not in METHODS:
            raise StatsInputError(f"method must be one of {METHODS}, got {self.method!r}")
        values.flags.writeable = False
        object.__setattr__(self, "values", values)

    @property
    def resamples(self) -> int:
        return self.values.size

    @property
    def bias(self) -> float:
        """Bootstrap estimate of the estimator's bias, mean(theta*) - theta_hat (E&T Sec. 10.2)."""
        return float(self.values.mean()) - self.estimate

    def interval(self, level: float = 0.95, method: str | None = None) -> Interval:
        estimate, low, high = percentile_bounds(self.estimate, self.values, level, method or self.method)
        return Interval(estimate, low, high, level, self.n, self.resamples, method or self.method, self.seeds)
