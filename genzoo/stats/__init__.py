"""Statistics of the quality figures: every figure carries its N, its seeds and a 95% interval.

``bootstrap``: percentile bootstrap of a statistic of one or two sample sets. ``interval``:
``Interval``, ``Replicates`` and the interval variants (plain, centred on E[estimate], debiased),
with the ``Measurement`` fields of an interval. ``verdicts``: "a is better than b" holds / does not
hold / is not resolved at this N, from the interval of the difference or ratio.
Bad input raises ``checks.StatsInputError``, a ``ValueError`` that names the argument.
"""

from genzoo.stats.bootstrap import bootstrap, bootstrap_replicates
from genzoo.stats.checks import StatsInputError
from genzoo.stats.interval import METHODS, Interval, Replicates, measurement_fields, seeds_label
from genzoo.stats.verdicts import STATUSES, Verdict, compare_intervals, compare_spreads

__all__ = [
    "METHODS",
    "STATUSES",
    "Interval",
    "Replicates",
    "StatsInputError",
    "Verdict",
    "bootstrap",
    "bootstrap_replicates",
    "compare_intervals",
    "compare_spreads",
    "measurement_fields",
    "seeds_label",
]
