"""How a reader of the table interprets a row's metric: which way it is better, whether it is a
speed, and whether the row may claim one.

Directions are declared where a metric is made (the row's ``better``); the unit rule below only
covers rows of other projects' files, which state no direction but time in seconds or count a
rate. Whether a row may claim a speed is ``genzoo.harness.gate``'s one rule, never decided here.
"""

from __future__ import annotations

import pandas as pd

from genzoo.harness import gate

RATE_UNITS = ("GB/s", "TFLOP/s")


def metric_direction(better: object, metric: str = "", unit: str = "") -> str | None:
    """``"lower"`` or ``"higher"`` (is better): the row's ``better``, else what its unit says
    (seconds: lower; a rate: higher); None for a metric with a target or no direction."""
    if better in ("lower", "higher"):
        return str(better)
    if unit == "s":
        return "lower"
    if unit in RATE_UNITS or metric.endswith("_per_s"):
        return "higher"
    return None


def is_speed_metric(metric: str, unit: str = "") -> bool:
    """A time or a throughput: the figures a row must be trusted to claim."""
    return metric == "latency" or unit == "s" or is_throughput_metric(metric)


def is_throughput_metric(metric: str) -> bool:
    """Units made per second (``images_per_s``, ``tokens_per_s``): a speed where more is faster."""
    return metric.endswith("_per_s")


def speed_exclusion(frame: pd.DataFrame) -> pd.Series:
    """Why each row may not carry a speed claim ("" where it may), by ``genzoo.harness.gate``.
    Every table and plot of speedups, throughputs and rooflines drops the rows this names, and
    says so."""
    return gate.frame_exclusion(frame)
