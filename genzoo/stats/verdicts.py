"""Verdicts on claims about two figures, decided by the interval of their difference or ratio.

"a is better than b" ``holds`` when the whole interval of the effect (a - b, or a / b) lies on a's
side of no effect (0, or 1), ``does not hold`` when it lies wholly on b's side, and is ``not resolved
at this N`` when it straddles it: a single figure's interval overlapping another's decides nothing
(two overlapping 95% intervals can still differ; Schenker & Gentleman 2001, "On judging the
significance of differences by examining the overlap between confidence intervals").

``compare_intervals``: the difference of two figures as results rows carry them (estimate and
interval, no replicates), by the normal approximation; FID-like figures compare only at equal n,
which their callers see to (``genzoo.report.claims``).

``compare_spreads``: the ratio of two sample standard deviations over seeds, with the normal-theory
F interval (Snedecor & Cochran 1989, "Statistical Methods"), exact for normal per-seed
values: with the 3-8 seeds a benchmark affords, a bootstrap of a standard deviation has few distinct
values and undercovers (Schenker 1985, "Qualms about bootstrap confidence intervals"). The F interval
is sensitive to heavy tails (Box 1953).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats as scipy_stats

from genzoo.stats.checks import StatsInputError, as_rows, check_better, check_level
from genzoo.stats.interval import Interval

STATUSES = ("holds", "does not hold", "not resolved at this N")


@dataclasses.dataclass(frozen=True)
class Verdict:
    status: str  # one of STATUSES
    claim: str  # in words, e.g. "a is better than b (lower is better)"
    effect: Interval  # of a - b ("difference") or a / b ("ratio"); n = min(n_a, n_b)
    kind: str  # "difference" or "ratio"
    n_a: int
    n_b: int

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise StatsInputError(f"Verdict.status must be one of {STATUSES}, got {self.status!r}")


def _status(effect: Interval, better: str, null: float) -> str:
    below, above = effect.high < null, effect.low > null
    if not (below or above):
        return STATUSES[2]
    return STATUSES[0] if below == (better == "lower") else STATUSES[1]


def compare_spreads(
    values_a: object, values_b: object, *, better: str = "lower", level: float = 0.95
) -> Verdict:
    """Verdict on "a's spread is better than b's" from the F interval of std_a / std_b (module docstring).

    ``values_a``, ``values_b``: one figure per seed (e.g. a family's FID per training seed), >= 2 each."""
    better, level = check_better(better), check_level(level)
    a, b = as_rows("values_a", values_a).ravel(), as_rows("values_b", values_b).ravel()
    std_a, std_b = float(np.std(a, ddof=1)), float(np.std(b, ddof=1))
    if std_b == 0:
        raise StatsInputError("values_b has no spread (all values equal): a ratio over it is undefined")
    ratio, (df_a, df_b) = std_a / std_b, (a.size - 1, b.size - 1)
    # (s_a^2 / s_b^2) / (sigma_a^2 / sigma_b^2) ~ F(df_a, df_b) for normal values
    f_low, f_high = scipy_stats.f.ppf([(1 - level) / 2, (1 + level) / 2], df_a, df_b)
    low, high = ratio / np.sqrt(f_high), ratio / np.sqrt(f_low)
    effect = Interval(ratio, float(low), float(high), level, min(a.size, b.size), 0, "F (normal theory)")
    claim = f"a's spread is better than b's ({better} is better)"
    return Verdict(_status(effect, better, 1.0), claim, effect, "ratio", a.size, b.size)


def compare_intervals(a: Interval, b: Interval, *, better: str = "lower") -> Verdict:
    """Verdict on "a is better than b" from two figures' own intervals, as read back from results
    rows (no replicates kept): the interval of a - b by the normal approximation, each standard
    error read off its interval's width (half-width / z) and the two taken as independent. Figures
    scored against one shared reference are positively correlated, so the difference's true
    interval is narrower: this one is conservative, and says "not resolved" more often than needed.
    Both intervals must be at the same level; FID-like figures must have the same n."""
    better = check_better(better)
    if a.level != b.level:
        raise StatsInputError(f"a's interval is at level {a.level} but b's at {b.level}")
    z = float(scipy_stats.norm.ppf((1 + a.level) / 2))
    standard_error = float(np.hypot(a.width / (2 * z), b.width / (2 * z)))
    difference = a.estimate - b.estimate
    effect = Interval(
        difference,
        difference - z * standard_error,
        difference + z * standard_error,
        a.level,
        min(a.n, b.n),
        0,
        "normal (independent intervals)",
        a.seeds + b.seeds,
    )
    claim = f"a is better than b ({better} is better)"
    return Verdict(_status(effect, better, 0.0), claim, effect, "difference", a.n, b.n)
