"""What the table says, in a few sentences.

Every sentence is computed from the rows: which backend is fastest for each op, which variants
may not claim speed and why (``genzoo.harness.gate``), how close the best kernel gets to the
measured ceiling, what a kernel swap costs in quality, and the speed/quality Pareto front of
each family.
"""

from __future__ import annotations

import pandas as pd

from genzoo.report.analysis import (
    PAIR_KEYS,
    families,
    lower_is_better,
    model_rows,
    op_latency_rows,
    pareto_mask,
    quality_metrics,
    speed_quality_pairs,
)
from genzoo.results import format_value, is_speed_metric, metric_direction


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
        sentence = (
            f"{op} ({dtype}){where}: {best} is fastest in {counts.iloc[0]} of {len(winners)} cases{span}"
        )
        sentences.append(sentence + (f"; {rest}." if rest else "."))
    return sentences


def _excluded(frame: pd.DataFrame) -> list[str]:
    """Timings excluded for what they computed (outside a tolerance or a quality window, or on
    another device) one by one, with the numbers: each says something about a kernel or a run.
    Interpreted ones by count per subject and backend: all say only that there was no GPU."""
    rows = pd.concat([op_latency_rows(frame), model_rows(frame)])
    speed = [is_speed_metric(m, u) for m, u in zip(rows["metric"], rows["unit"])]
    rows = rows[(rows["excluded"] != "") & pd.Series(speed, index=rows.index, dtype=bool)]
    rows = rows.drop_duplicates(subset=[*PAIR_KEYS, "excluded"])
    sentences = []
    listed = rows[rows["excluded"] != "interpreted"]
    if not listed.empty:
        items = [
            f"{r.subject} {r.backend} {r.dtype} [{r.case}] ({_exclusion_detail(r)})"
            for r in listed.itertuples()
        ]
        sentences.append(
            f"No speed claim for {len(items)} variant(s), excluded from every speedup: "
            + "; ".join(items)
            + "."
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


def _exclusion_detail(row) -> str:
    """The gate's reason with the numbers that tripped it."""
    numbers = []
    if "outside tolerance" in row.excluded and pd.notna(row.error) and pd.notna(row.error_limit):
        numbers.append(f"error {row.error:.2g} > limit {row.error_limit:.2g}")
    if (
        "outside quality window" in row.excluded
        and pd.notna(row.quality_change)
        and pd.notna(row.quality_window)
    ):
        numbers.append(f"quality change {row.quality_change:+.1%} beyond +-{row.quality_window:.1%}")
    return row.excluded + (": " + ", ".join(numbers) if numbers else "")


def _closest_to_ceiling(frame: pd.DataFrame) -> list[str]:
    rows = op_latency_rows(frame)
    rows = rows[(rows["excluded"] == "") & rows["fraction_of_ceiling"].notna()]
    sentences = []
    for unit, group in rows.groupby("throughput_unit", sort=True):
        best = group.loc[group["fraction_of_ceiling"].idxmax()]
        ceiling = "copy bandwidth" if unit == "GB/s" else f"{best['dtype']} matmul throughput"
        variant = f"{best['subject']} {best['backend']} {best['dtype']} [{best['case']}]"
        achieved = format_value(best["throughput"], unit)
        beyond = ""
        if best["fraction_of_ceiling"] > 1:  # the ceilings are sized past the last-level cache
            beyond = (
                ": beyond it, so its working set stayed in cache, which the ceiling (sized past the "
                "last-level cache) does not measure"
            )
        sentences.append(
            f"Closest to its ceiling ({unit}): {variant} "
            f"at {best['fraction_of_ceiling']:.0%} of the measured {ceiling} ({achieved}){beyond}."
        )
    return sentences


def _quality_cost(frame: pd.DataFrame) -> list[str]:
    """The change in each family's quality metric when eager is swapped for another backend, same
    dtype, case and machine; averaged over the cases they share, and "no change" where it lies
    inside eager's own 95% interval (its sampling noise at that n). Without eager rows to pair
    with: the sweep rows' own change of the headline metric against eager float32."""
    rows = model_rows(frame)
    known = families(rows["subject"])
    chosen = [
        group[(group["kind"] == "quality") & group["metric"].isin(quality_metrics(group, known.get(subject)))]
        for subject, group in rows.groupby("subject", sort=True)
    ]
    quality = pd.concat(chosen) if chosen else rows.iloc[0:0]
    keys = ["subject", "dtype", "case", "machine", "metric"]
    eager = quality[quality["backend"] == "eager"][[*keys, "value", "ci_low", "ci_high"]].drop_duplicates(
        subset=keys
    )
    swapped = quality[quality["backend"] != "eager"].drop(columns=["ci_low", "ci_high"])
    swapped = swapped.merge(eager, on=keys, suffixes=("", "_eager"))
    sentences = []
    for (family, backend, dtype), swap in swapped.groupby(["subject", "backend", "dtype"], sort=True):
        changes = []
        for metric, group in swap.groupby("metric", sort=True):
            delta = (group["value"] - group["value_eager"]).mean()
            scale = group["value_eager"].abs().mean()
            relative = f", {delta / scale:+.2%}" if scale else ""
            direction = metric_direction(group["better"].iloc[0], metric)
            noise = ((group["ci_high"] - group["ci_low"]) / 2).mean()
            if pd.notna(noise) and abs(delta) <= noise:
                verdict = f"no change: inside eager's 95% interval, +-{noise:.3g}"
            elif direction is None:
                verdict = "changed"
            else:
                verdict = "better" if (delta < 0) == (direction == "lower") else "worse"
            changes.append(f"{metric} {delta:+.3g}{relative} ({verdict})")
        cases = swap["case"].nunique()
        sentences.append(
            f"{family}, eager -> {backend} ({dtype}), mean over {cases} case(s): " + "; ".join(changes) + "."
        )
    if sentences:
        return sentences
    checked = rows[(rows["kind"] == "sweep") & rows["quality_change"].notna()]
    checked = checked[(checked["backend"] != "eager") | (checked["dtype"] != "float32")]
    for row in checked.itertuples():
        window = f" (window +-{row.quality_window:.1%})" if pd.notna(row.quality_window) else ""
        sentences.append(
            f"{row.subject} {row.backend} {row.dtype} [{row.case}]: quality moves by "
            f"{row.quality_change:+.2%} against eager float32{window}."
        )
    return sentences


def _pareto_fronts(frame: pd.DataFrame) -> list[str]:
    pairs = speed_quality_pairs(frame)
    pairs = pairs[pairs["excluded"] == ""]
    several = pairs["machine"].nunique() > 1
    sentences = []
    for (family, metric, machine), group in pairs.groupby(["family", "quality_metric", "machine"], sort=True):
        front = group[pareto_mask(group["speed"], group["quality"], lower_is_better(group))]
        front = front.sort_values("speed", ascending=False)
        points = [
            f"{r.backend} {r.dtype} [{r.case}] ({r.speed:.3g} {r.speed_unit}, {metric} {r.quality:.3g})"
            for r in front.head(2).itertuples()
        ]
        more = f" and {len(front) - 2} more" if len(front) > 2 else ""
        where = f" on {machine}" if several else ""
        sentences.append(f"{family}{where}: speed/quality front is {'; '.join(points)}{more}.")
    return sentences
