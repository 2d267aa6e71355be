"""The row selections the report's tables, findings, claims and plots share: which rows are op
timings and model rows (each with why it may not claim speed), the installed family a subject
names, each family's quality and speed metric, its speed/quality pairs and their Pareto front.

Family knowledge comes from ``genzoo.models.protocol`` (a family's headline metric); a subject
this install does not know is judged by its own rows: every quality metric that states a
direction.
"""

from __future__ import annotations

import pandas as pd

from genzoo.models import protocol
from genzoo.results import is_throughput_metric, metric_direction, speed_exclusion

MODEL_KINDS = ("model", "sweep", "quality", "training")
PAIR_KEYS = ["subject", "backend", "dtype", "case", "machine"]
PAIR_COLUMNS = [
    *PAIR_KEYS,
    "speed",
    "speed_unit",
    "quality",
    "quality_low",
    "quality_high",
    "quality_better",
    "excluded",
    "family",
    "speed_metric",
    "quality_metric",
]


def op_latency_rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[(frame["kind"] == "op") & (frame["metric"] == "latency")]
    return rows.assign(excluded=speed_exclusion(rows))


def model_rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[frame["kind"].isin(MODEL_KINDS)]
    return rows.assign(excluded=speed_exclusion(rows))


def families(subjects) -> dict[str, protocol.Family]:
    """The installed families among ``subjects``, by name (an op, or a family this install lacks,
    is left out)."""
    installed = set(protocol.names())
    return {name: protocol.get(name) for name in sorted(set(subjects)) if name in installed}


def quality_metrics(rows: pd.DataFrame, family: protocol.Family | None) -> list[str]:
    """The metrics a family's quality is judged by: its headline metric where the family is
    known, else every quality metric its rows give a direction."""
    if family is not None:
        return [family.headline.metric]
    directed = rows[(rows["kind"] == "quality") & (rows["better"] != "")]
    return list(dict.fromkeys(directed["metric"]))


def speed_metric(rows: pd.DataFrame) -> str | None:
    """The throughput a family's rows report (``images_per_s``, ``tokens_per_s``), if any."""
    timed = rows[rows["kind"] != "quality"]
    return next((metric for metric in dict.fromkeys(timed["metric"]) if is_throughput_metric(metric)), None)


def speed_quality_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Per family, each (backend, dtype, case, machine) that has both its throughput and a quality
    metric (``quality_metrics``): ``speed``, ``quality``, their metric names, which way quality is
    better, and ``excluded`` (why the speed may not be claimed, "" where it may)."""
    rows = model_rows(frame)
    known = families(rows["subject"])
    pairs = []
    for subject, group in rows.groupby("subject", sort=True):
        throughput = speed_metric(group)
        if throughput is None:
            continue
        speed = group[(group["metric"] == throughput) & (group["kind"] != "quality")]
        speed = speed[[*PAIR_KEYS, "value", "unit", "excluded"]].rename(
            columns={"value": "speed", "unit": "speed_unit"}
        )
        for metric in quality_metrics(group, known.get(subject)):
            quality = group[(group["metric"] == metric) & (group["kind"] == "quality")]
            quality = quality[[*PAIR_KEYS, "value", "ci_low", "ci_high", "better"]].rename(
                columns={
                    "value": "quality",
                    "ci_low": "quality_low",
                    "ci_high": "quality_high",
                    "better": "quality_better",
                }
            )
            joined = speed.merge(quality.drop_duplicates(subset=PAIR_KEYS), on=PAIR_KEYS)
            pairs.append(joined.assign(family=subject, speed_metric=throughput, quality_metric=metric))
    pairs = [pair for pair in pairs if not pair.empty]
    return pd.concat(pairs, ignore_index=True)[PAIR_COLUMNS] if pairs else pd.DataFrame(columns=PAIR_COLUMNS)


def lower_is_better(pairs: pd.DataFrame) -> bool:
    """Whether the quality of these pairs (one metric) is better low, from the rows' ``better``."""
    return metric_direction(pairs["quality_better"].iloc[0], str(pairs["quality_metric"].iloc[0])) != "higher"


def pareto_mask(speed: pd.Series, quality: pd.Series, lower_is_better: bool) -> pd.Series:
    """True for points no other point beats on both axes (faster and at least as good)."""
    score = quality if lower_is_better else -quality
    # fastest first, and among equally fast points the best first: the others are dominated
    order = (
        pd.DataFrame({"speed": speed, "score": score})
        .sort_values(["speed", "score"], ascending=[False, True])
        .index
    )
    best = float("inf")
    front = pd.Series(False, index=speed.index)
    for index in order:
        if score[index] < best:
            front[index] = True
            best = score[index]
    return front
