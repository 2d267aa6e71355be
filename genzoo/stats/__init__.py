"""Statistics of the quality figures: every figure carries its N, its seeds and a 95% interval.

``bootstrap``: percentile bootstrap of a statistic of one or two sample sets, and over sampling seeds
(two-stage). ``interval``: ``Interval``, ``Replicates`` and the interval variants (plain, centred on
E[estimate], debiased), with the ``Measurement`` fields of an interval. ``fid_interval``: FID at
equal N with intervals of E[FID_N] and of the population FID. ``verdicts``: "a is better than b"
holds / does not hold / is not resolved at this N, from the interval of the difference or ratio.
Bad input raises ``checks.StatsInputError``, a ``ValueError`` that names the argument.
"""

from genzoo.stats.bootstrap import bootstrap, bootstrap_over_seeds, bootstrap_replicates, seed_replicates
from genzoo.stats.checks import StatsInputError
from genzoo.stats.fid_interval import FidInterval, fid_interval, fid_interval_over_seeds, plug_in_fid
from genzoo.stats.interval import METHODS, Interval, Replicates, measurement_fields, seeds_label
from genzoo.stats.verdicts import STATUSES, Verdict, compare, compare_ratio, compare_spreads, no_change

__all__ = [
    "METHODS",
    "STATUSES",
    "FidInterval",
    "Interval",
    "Replicates",
    "StatsInputError",
    "Verdict",
    "bootstrap",
    "bootstrap_over_seeds",
    "bootstrap_replicates",
    "compare",
    "compare_ratio",
    "compare_spreads",
    "fid_interval",
    "fid_interval_over_seeds",
    "measurement_fields",
    "no_change",
    "plug_in_fid",
    "seed_replicates",
    "seeds_label",
]
