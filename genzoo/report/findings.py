"""What the table says, in a few sentences, and the analyses the plots share.

Every sentence is computed from the rows: which backend is fastest for each op, which variants
may not claim speed and why, how close the best kernel gets to the measured ceiling, what a
kernel swap costs in quality, and the speed/quality Pareto front of each family.
"""

from __future__ import annotations

import pandas as pd

from genzoo.results import QUALITY_METRICS, SPEED_METRICS, format_value, metric_direction, speed_exclusion

MODEL_KINDS = ("model", "sweep", "quality")
PAIR_KEYS = ["subject", "backend", "dtype", "case", "machine"]


def op_latency_rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[(frame["kind"] == "op") & (frame["metric"] == "latency")]
    return rows.assign(excluded=speed_exclusion(rows))


def model_rows(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame[frame["kind"].isin(MODEL_KINDS)]
    return rows.assign(excluded=speed_exclusion(rows))


def speed_quality_pairs(frame: pd.DataFrame, quality_metric: str | None = None) -> pd.DataFrame:
    """Per family, each (backend, dtype, case, machine) that has both a speed metric (tokens/s or
    images/s) and a quality metric (``quality_metric``, else the family's first of
    ``QUALITY_METRICS``): columns ``speed``, ``quality``, their metric names, ``excluded``."""
    rows = model_rows(frame)
    pairs = []
    for family, group in rows.groupby("subject", sort=True):
        metrics = set(group["metric"])
        speed_metric = next((m for m in SPEED_METRICS if m in metrics), None)
        wanted = [quality_metric] if quality_metric else QUALITY_METRICS
        chosen = next((m for m in wanted if m in metrics), None)
        if speed_metric is None or chosen is None:
            continue
        speed = group[group["metric"] == speed_metric][[*PAIR_KEYS, "value", "excluded"]]
        quality = group[group["metric"] == chosen][[*PAIR_KEYS, "value"]]
        joined = speed.merge(quality, on=PAIR_KEYS, suffixes=("_speed", "_quality"))
        pairs.append(joined.rename(columns={"value_speed": "speed", "value_quality": "quality"}).assign(
            family=family, speed_metric=speed_metric, quality_metric=chosen,
        ))  # fmt: skip
    if not pairs:
        return pd.DataFrame(columns=[*PAIR_KEYS, "speed", "quality", "excluded", "family", "speed_metric", "quality_metric"])
    return pd.concat(pairs, ignore_index=True)


def pareto_mask(speed: pd.Series, quality: pd.Series, lower_is_better: bool) -> pd.Series:
    """True for points no other point beats on both axes (faster and at least as good)."""
    score = quality if lower_is_better else -quality
    # fastest first, and among equally fast points the best first: the others are dominated
    order = pd.DataFrame({"speed": speed, "score": score}).sort_values(["speed", "score"], ascending=[False, True]).index
    best = float("inf")
    front = pd.Series(False, index=speed.index)
    for index in order:
        if score[index] < best:
            front[index] = True
            best = score[index]
    return front


def findings(frame: pd.DataFrame) -> list[str]:
    """Short sentences, most useful first; empty when the table holds nothing to say."""
    return [
        *_machines(frame),
        *_backend_wins(frame),
        *_excluded(frame),
        *_closest_to_ceiling(frame),
        *_quality_cost(frame),
        *_pareto_fronts(frame),
    ]


def _machines(frame: pd.DataFrame) -> list[str]:
    machines = sorted(frame["machine"].dropna().unique())
    if len(machines) < 2:
        return []
    return [f"Rows from {len(machines)} machines, kept apart in every table: {', '.join(machines)}."]


def _backend_wins(frame: pd.DataFrame) -> list[str]:
    rows = op_latency_rows(frame)
    rows = rows[rows["excluded"] == ""]
    several = rows["machine"].nunique() > 1
    sentences = []
    for (op, dtype, machine), group in rows.groupby(["subject", "dtype", "machine"], sort=True):
        if group["backend"].nunique() < 2:
            continue
        winners = group.loc[group.groupby("case", sort=False)["value"].idxmin()]
        counts = winners["backend"].value_counts()
        best = counts.index[0]
        won = winners[winners["backend"] == best]
        speedups = won["speedup_vs_eager"].dropna()
        span = ""
        if best != "eager" and not speedups.empty:
            low, high = f"{speedups.min():.2f}x", f"{speedups.max():.2f}x"
            span = f" ({low if low == high else f'{low}-{high}'} over eager)"
        others = winners[winners["backend"] != best]
        rest = "; ".join(f"{b} in {', '.join(g['case'])}" for b, g in others.groupby("backend"))
        where = f" on {machine}" if several else ""
        sentence = f"{op} ({dtype}){where}: {best} is fastest in {counts.iloc[0]} of {len(winners)} cases{span}"
        sentences.append(sentence + (f"; {rest}." if rest else "."))
    return sentences


def _excluded(frame: pd.DataFrame) -> list[str]:
    """Variants outside their tolerance one by one, with their error: each says something about a
    kernel. Interpreted ones by count per op and backend: all say only that there was no GPU."""
    rows = pd.concat([op_latency_rows(frame), model_rows(frame)])
    rows = rows[rows["excluded"] != ""].drop_duplicates(subset=[*PAIR_KEYS, "excluded"])
    sentences = []
    wrong = rows[rows["excluded"].str.contains("outside")]
    if not wrong.empty:
        items = []
        for row in wrong.itertuples():
            detail = row.excluded
            if pd.notna(row.error) and pd.notna(row.error_limit):
                detail += f": error {row.error:.2g} > limit {row.error_limit:.2g}"
            items.append(f"{row.subject} {row.backend} {row.dtype} [{row.case}] ({detail})")
        sentences.append(
            f"No speed claim for {len(items)} variant(s) outside their tolerance, excluded from every "
            "speedup: " + "; ".join(items) + "."
        )
    interpreted = rows[rows["excluded"] == "interpreted"]
    if not interpreted.empty:
        counts = interpreted.groupby(["subject", "backend"], sort=False).size()
        listing = ", ".join(f"{subject} {backend} x{count}" for (subject, backend), count in counts.items())
        sentences.append(
            f"No speed claim for {len(interpreted)} variant(s) run under Triton's CPU interpreter "
            f"(their outputs are checked, their timings mean nothing): {listing}."
        )
    return sentences


def _closest_to_ceiling(frame: pd.DataFrame) -> list[str]:
    rows = op_latency_rows(frame)
    rows = rows[(rows["excluded"] == "") & rows["fraction_of_ceiling"].notna()]
    sentences = []
    for unit, group in rows.groupby("throughput_unit", sort=True):
        best = group.loc[group["fraction_of_ceiling"].idxmax()]
        ceiling = "copy bandwidth" if unit == "GB/s" else f"{best['dtype']} matmul throughput"
        sentences.append(
            f"Closest to its ceiling ({unit}): {best['subject']} {best['backend']} {best['dtype']} [{best['case']}] "
            f"at {best['fraction_of_ceiling']:.0%} of the measured {ceiling} ({format_value(best['throughput'], unit)})."
        )
    return sentences


def _quality_cost(frame: pd.DataFrame) -> list[str]:
    """The change in each quality metric when eager is swapped for another backend, same dtype,
    case and machine; averaged over the cases they share."""
    rows = model_rows(frame)
    rows = rows[rows["metric"].isin(QUALITY_METRICS)]
    keys = ["subject", "dtype", "case", "machine", "metric"]
    eager = rows[rows["backend"] == "eager"][[*keys, "value"]]
    swapped = rows[rows["backend"] != "eager"].merge(eager, on=keys, suffixes=("", "_eager"))
    sentences = []
    for (family, backend, dtype), swap in swapped.groupby(["subject", "backend", "dtype"], sort=True):
        changes = []
        for metric, group in swap.groupby("metric", sort=True):
            delta = (group["value"] - group["value_eager"]).mean()
            scale = group["value_eager"].abs().mean()
            relative = f", {delta / scale:+.2%}" if scale else ""
            better = metric_direction(metric) == "lower"
            verdict = "same" if delta == 0 else "better" if (delta < 0) == better else "worse"
            changes.append(f"{metric} {delta:+.3g}{relative} ({verdict})")
        cases = swap["case"].nunique()
        sentences.append(f"{family}, eager -> {backend} ({dtype}), mean over {cases} case(s): " + "; ".join(changes) + ".")
    if not sentences:  # no eager rows to pair with: the rows' own error against eager fp32
        with_error = rows[rows["error"].notna() & (rows["backend"] != "eager")]
        for row in with_error.itertuples():
            limit = f" (limit {row.error_limit:.2g})" if pd.notna(row.error_limit) else ""
            sentences.append(f"{row.subject} {row.backend} {row.dtype} [{row.case}]: {row.metric} differs from eager float32 by {row.error:.2g}{limit}.")
    return sentences


def _pareto_fronts(frame: pd.DataFrame) -> list[str]:
    pairs = speed_quality_pairs(frame)
    pairs = pairs[pairs["excluded"] == ""]
    sentences = []
    for (family, machine), group in pairs.groupby(["family", "machine"], sort=True):
        quality_metric, speed_metric = group["quality_metric"].iloc[0], group["speed_metric"].iloc[0]
        lower = metric_direction(quality_metric) == "lower"
        front = group[pareto_mask(group["speed"], group["quality"], lower)].sort_values("speed", ascending=False)
        points = [f"{r.backend} {r.dtype} [{r.case}] ({r.speed:.3g} {speed_metric}, {quality_metric} {r.quality:.3g})" for r in front.head(2).itertuples()]
        more = f" and {len(front) - 2} more" if len(front) > 2 else ""
        sentences.append(f"{family}: speed/quality front is {'; '.join(points)}{more}.")
    return sentences
