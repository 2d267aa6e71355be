"""Verdicts on claims about two figures, decided by the interval of their difference or ratio.

"a is better than b" ``holds`` when the whole interval of the effect (a - b, or a / b) lies on a's
side of no effect (0, or 1), ``does not hold`` when it lies wholly on b's side, and is ``not resolved
at this N`` when it straddles it: a single figure's interval overlapping another's decides nothing
(two overlapping 95% intervals can still differ; Schenker & Gentleman 2001, "On judging the
significance of differences by examining the overlap between confidence intervals").

The effect's replicates are the replicate-by-replicate differences (ratios) of the two figures'
bootstrap replicates. They are *paired* when both figures resampled the same reference rows with the
same indices (``Replicates.draw``: same reference, seed and resamples), which keeps the shared
reference's noise out of the difference; otherwise b's replicates are permuted (seeded) first so the
pairs are independent draws, which is right for independent figures and conservative for figures
that share a reference but were resampled apart. FID-like figures (``equal_n``) compare only at equal N.

``compare_spreads``: the ratio of two sample standard deviations over seeds, with the normal-theory
F interval (Snedecor & Cochran 1989, "Statistical Methods"), exact for normal per-seed
values: with the 3-8 seeds a benchmark affords, a bootstrap of a standard deviation has few distinct
values and undercovers (Schenker 1985, "Qualms about bootstrap confidence intervals"). The F interval
is sensitive to heavy tails (Box 1953); ``compare_ratio(..., statistic=...)`` is the bootstrap route.

``no_change``: "a metric change inside its noise", an equivalence check in the manner of Schuirmann's
two one-sided tests (1987) when a ``window`` is given: the change holds as none when its whole
interval lies inside +-window (with a two-sided 95% interval: each side at 2.5%, conservative).
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy import stats as scipy_stats

from genzoo.stats.bootstrap import PERMUTATION, Statistic, bootstrap_replicates, stream
from genzoo.stats.checks import (
    StatsInputError,
    as_rows,
    check_better,
    check_finite_number,
    check_level,
    check_same_width,
    check_seed,
)
from genzoo.stats.interval import Interval, Replicates

STATUSES = ("holds", "does not hold", "not resolved at this N")


@dataclasses.dataclass(frozen=True)
class Verdict:
    status: str  # one of STATUSES
    claim: str  # in words, e.g. "a is better than b (lower is better)"
    effect: Interval  # of a - b ("difference") or a / b ("ratio"); n = min(n_a, n_b)
    kind: str  # "difference" or "ratio"
    paired: bool  # whether the effect's replicates were paired (shared reference draws)
    n_a: int
    n_b: int

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise StatsInputError(f"Verdict.status must be one of {STATUSES}, got {self.status!r}")


def _as_replicates(name: str, figure: object) -> Replicates:
    if isinstance(figure, Replicates):
        return figure
    if isinstance(getattr(figure, "replicates", None), Replicates):  # a FidInterval
        return figure.replicates
    raise StatsInputError(
        f"{name} must be Replicates or a result holding them (FidInterval), or samples with statistic= given"
    )


def _figures(a, b, statistic, reference, resamples, seed, vectorized) -> tuple[Replicates, Replicates]:
    if statistic is None:
        return _as_replicates("a", a), _as_replicates("b", b)
    a_rows, b_rows = as_rows("a", a), as_rows("b", b)
    check_same_width("a", a_rows, "b", b_rows)
    shared = None if reference is None else as_rows("reference", reference)
    if shared is not None:
        check_same_width("a", a_rows, "reference", shared)
    options = dict(resamples=resamples, seed=seed, vectorized=vectorized)
    return tuple(bootstrap_replicates(statistic, rows, shared, **options) for rows in (a_rows, b_rows))


def _effect(a: Replicates, b: Replicates, kind: str, seed: int) -> tuple[Replicates, bool]:
    if a.resamples != b.resamples:
        raise StatsInputError(f"a has {a.resamples} replicates but b has {b.resamples}: use equal resamples")
    if (a.equal_n or b.equal_n) and a.n != b.n:
        raise StatsInputError(f"a has n={a.n} but b has n={b.n}: this figure (FID) compares only at equal N")
    if a.method != b.method:
        raise StatsInputError(f"a's replicates read by {a.method!r} but b's by {b.method!r}")
    paired = a.draw is not None and a.draw == b.draw
    b_values = b.values if paired else stream(seed, PERMUTATION).permutation(b.values)
    if kind == "difference":
        estimate, values = a.estimate - b.estimate, a.values - b_values
    else:
        if b.estimate <= 0 or (b_values <= 0).any() or a.estimate < 0 or (a.values < 0).any():
            raise StatsInputError("a ratio needs a >= 0 and b > 0, in the estimates and in every replicate")
        estimate, values = a.estimate / b.estimate, a.values / b_values
    return Replicates(estimate, values, n=min(a.n, b.n), method=a.method, seeds=a.seeds + b.seeds), paired


def _status(effect: Interval, better: str, null: float) -> str:
    below, above = effect.high < null, effect.low > null
    if not (below or above):
        return STATUSES[2]
    return STATUSES[0] if below == (better == "lower") else STATUSES[1]


def _verdict(a, b, kind, better, level, statistic, reference, resamples, seed, vectorized) -> Verdict:
    better, level, seed = check_better(better), check_level(level), check_seed(seed)
    first, second = _figures(a, b, statistic, reference, resamples, seed, vectorized)
    replicates, paired = _effect(first, second, kind, seed)
    effect = replicates.interval(level)
    null = 0.0 if kind == "difference" else 1.0
    claim = f"a is better than b ({better} is better)"
    return Verdict(_status(effect, better, null), claim, effect, kind, paired, first.n, second.n)


def compare(
    a: object,
    b: object,
    *,
    better: str = "lower",
    level: float = 0.95,
    statistic: Statistic | None = None,
    reference: object | None = None,
    resamples: int = 1000,
    seed: int = 0,
    vectorized: bool = False,
) -> Verdict:
    """Verdict on "a is better than b" from the interval of a - b.

    ``a``, ``b``: ``Replicates`` or a ``FidInterval`` (same number of replicates); or, with
    ``statistic`` given, sample sets, bootstrapped here with ``seed`` (against ``reference`` when
    given, paired through it). ``better``: "lower" (FID) or "higher" (precision)."""
    return _verdict(a, b, "difference", better, level, statistic, reference, resamples, seed, vectorized)


def compare_ratio(
    a: object,
    b: object,
    *,
    better: str = "lower",
    level: float = 0.95,
    statistic: Statistic | None = None,
    reference: object | None = None,
    resamples: int = 1000,
    seed: int = 0,
    vectorized: bool = False,
) -> Verdict:
    """As ``compare``, decided by the interval of a / b against 1 (a >= 0, b > 0 in every replicate)."""
    return _verdict(a, b, "ratio", better, level, statistic, reference, resamples, seed, vectorized)


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
    return Verdict(_status(effect, better, 1.0), claim, effect, "ratio", False, a.size, b.size)


def no_change(
    a: object,
    b: object,
    *,
    window: float | None = None,
    level: float = 0.95,
    statistic: Statistic | None = None,
    reference: object | None = None,
    resamples: int = 1000,
    seed: int = 0,
    vectorized: bool = False,
) -> Verdict:
    """Verdict on "a and b are the same figure within noise" from the interval of a - b.

    Without ``window``: holds when the interval contains 0 (the change is inside its noise: this says
    the data cannot tell them apart at this N, not that they are equal), else does not hold. With
    ``window`` (e.g. a row's ``quality_window``): holds when the interval lies inside +-window, does
    not hold when it lies wholly outside, else not resolved at this N."""
    level, seed = check_level(level), check_seed(seed)
    if window is not None and check_finite_number("window", window) <= 0:
        raise StatsInputError(f"window must be positive, got {window!r}")
    first, second = _figures(a, b, statistic, reference, resamples, seed, vectorized)
    replicates, paired = _effect(first, second, "difference", seed)
    effect = replicates.interval(level)
    if window is None:
        status = STATUSES[0] if effect.contains(0.0) else STATUSES[1]
        claim = "a and b agree within their noise"
    else:
        inside = -window <= effect.low and effect.high <= window
        outside = effect.high < -window or effect.low > window
        status = STATUSES[0] if inside else STATUSES[1] if outside else STATUSES[2]
        claim = f"a and b agree within +-{window:g}"
    return Verdict(status, claim, effect, "difference", paired, first.n, second.n)


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
    return Verdict(_status(effect, better, 0.0), claim, effect, "difference", False, a.n, b.n)
