"""Each family's best point, side by side: the eager float32 point with the best headline metric
among those whose throughput may be claimed, on the same data and machine. The claims about the
families (``genzoo.report.claims``) compare these points."""

from __future__ import annotations

import pandas as pd

from genzoo.report.analysis import families, model_rows, speed_metric
from genzoo.results import metric_direction

BEST_COLUMNS = ["family", "machine", "case", "metric", "better", "quality", "throughput", "unit"]


def best_points(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per installed family and machine: ``case``, the headline ``metric`` and its
    ``quality`` (``better``: which way), the ``throughput`` there and its ``unit``."""
    rows = model_rows(frame)
    rows = rows[(rows["backend"] == "eager") & (rows["dtype"] == "float32")]
    known = families(rows["subject"])
    best = []
    for (subject, machine), group in rows.groupby(["subject", "machine"], sort=True):
        family, throughput = known.get(subject), speed_metric(group)
        if family is None or throughput is None:
            continue
        metric = family.headline.metric
        quality = group[(group["kind"] == "quality") & (group["metric"] == metric)]
        speed = group[
            (group["metric"] == throughput) & (group["kind"] != "quality") & (group["excluded"] == "")
        ]
        points = (
            quality[["case", "value", "better"]]
            .drop_duplicates("case")
            .merge(
                speed[["case", "value", "unit"]].drop_duplicates("case"),
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
        best.append(
            {
                "family": subject,
                "machine": machine,
                "case": point["case"],
                "metric": metric,
                "better": better,
                "quality": point["value_quality"],
                "throughput": point["value_speed"],
                "unit": point["unit"],
            }
        )
    return pd.DataFrame(best, columns=BEST_COLUMNS)
