"""Each family's best point, side by side: among its eager float32 sweep points whose throughput may
be claimed, the one with the best headline metric at the equal n (``<headline>_equal_n``, where the
family has it: every image point scores its first n samples at the n of the slowest points, so that
points of different sample counts compare), on the same data and machine.

Chosen on one set of sampling seeds, reported on another: where the run scored the chosen point
again on fresh seeds (case suffix ``schema.FRESH_SEEDS``), its quality columns are those, and
``confirmed`` says so; otherwise they are the selection's own figures, biased towards luck in
proportion to the number of candidates (the winner's curse). The claims about the families
(``genzoo.report.claims``) compare these points."""

from __future__ import annotations

import pandas as pd

from genzoo.report.analysis import families, model_rows, speed_metric
from genzoo.results import metric_direction
from genzoo.results.schema import FRESH_SEEDS

BEST_COLUMNS = [
    "family",
    "machine",
    "case",
    "candidates",
    "metric",
    "better",
    "quality",
    "quality_low",
    "quality_high",
    "samples",
    "seeds",
    "confirmed",
    "reported_case",
    "throughput",
    "throughput_low",
    "throughput_high",
    "unit",
]


def _sweep_points(rows: pd.DataFrame) -> pd.DataFrame:
    """Rows of the sweep's own points: not a training seed's, not a confirmation's."""
    keep = pd.Series(True, index=rows.index)
    for knob in ("knob_train_seed", "knob_seed_set"):
        if knob in rows:
            keep &= rows[knob].isna()
    return rows[keep]


def comparison_metric(rows: pd.DataFrame, headline: str) -> str:
    """``<headline>_equal_n`` where the family's rows have it, else the headline itself."""
    equal_n = f"{headline}_equal_n"
    return equal_n if (rows["metric"] == equal_n).any() else headline


def best_points(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per installed family and machine: the chosen ``case`` (of ``candidates``), the
    comparison ``metric`` and its ``quality`` with interval, ``samples`` and ``seeds`` (``better``:
    which way), the ``throughput`` there with its spread over timed rounds (p20-p80), and its ``unit``."""
    rows = model_rows(frame)
    rows = rows[(rows["backend"] == "eager") & (rows["dtype"] == "float32")]
    known = families(rows["subject"])
    best = []
    for (subject, machine), group in rows.groupby(["subject", "machine"], sort=True):
        family, throughput = known.get(subject), speed_metric(group)
        if family is None or throughput is None:
            continue
        metric = comparison_metric(group, family.headline.metric)
        quality = group[(group["kind"] == "quality") & (group["metric"] == metric)]
        speed = group[
            (group["metric"] == throughput) & (group["kind"] != "quality") & (group["excluded"] == "")
        ]
        points = (
            _sweep_points(quality)[["case", "value", "better"]]
            .drop_duplicates("case")
            .merge(
                speed[["case", "value", "p20", "p80", "unit"]].drop_duplicates("case"),
                on="case",
                suffixes=("_quality", "_speed"),
            )
        )
        if points.empty:
            continue
        better = metric_direction(points["better"].iloc[0], metric) or family.headline.better
        point = points.loc[
            points["value_quality"].idxmin() if better == "lower" else points["value_quality"].idxmax()
        ]
        confirmation = quality[quality["case"] == f"{point['case']} {FRESH_SEEDS}"]
        reported = (
            confirmation if not confirmation.empty else quality[quality["case"] == point["case"]]
        ).iloc[0]
        best.append(
            {
                "family": subject,
                "machine": machine,
                "case": point["case"],
                "candidates": len(points),
                "metric": metric,
                "better": better,
                "quality": reported["value"],
                "quality_low": reported.get("ci_low"),
                "quality_high": reported.get("ci_high"),
                "samples": reported.get("samples"),
                "seeds": reported.get("seeds"),
                "confirmed": not confirmation.empty,
                "reported_case": reported["case"],
                "throughput": point["value_speed"],
                # a timing without its rounds' spread (one round) is its median alone
                "throughput_low": point["value_speed"] if pd.isna(point["p20"]) else point["p20"],
                "throughput_high": point["value_speed"] if pd.isna(point["p80"]) else point["p80"],
                "unit": point["unit"],
            }
        )
    return pd.DataFrame(best, columns=BEST_COLUMNS)
