"""The report's seaborn plots, each drawn from the measurement table alone.

Every plot function returns a ``drawing.Figure``: a PNG, or none and a note saying which rows it
needs when the table has none of them. Rows that may not claim speed (``genzoo.harness.gate``)
are left out of every speed axis and named in the figure's note. No plot knows a family: the
quality plots read the families' knob columns (``knob_steps``, ``knob_sampler``,
``knob_train_seed``, ...) and each family's quality metric (``analysis.quality_metrics``).
"""

from __future__ import annotations

import functools
import warnings

import pandas as pd
import seaborn as sns
from matplotlib import MatplotlibDeprecationWarning

from genzoo.measurement import KNOB_PREFIX, knob_columns
from genzoo.report import analysis
from genzoo.report.cross_family import best_points, comparison_metric
from genzoo.report.drawing import (
    Figure,
    backend_palette,
    excluded_note,
    faceted,
    interval_bars,
    panels,
    plain_log_ticks,
    present,
    skipped,
)
from genzoo.results import metric_direction

STEPS, SAMPLER, TRAIN_SEED = f"{KNOB_PREFIX}steps", f"{KNOB_PREFIX}sampler", f"{KNOB_PREFIX}train_seed"
NO_PAIRS = (
    "no family has a throughput (a *_per_s metric) and a quality metric (its headline metric, or a "
    "quality row with a direction) for the same backend, dtype and case"
)


def all_figures(frame: pd.DataFrame) -> list[Figure]:
    """The answer first (each family's best point), then the detail."""
    return [
        cross_family_tradeoff(frame),
        speedup_per_op(frame),
        roofline(frame),
        pareto_per_family(frame),
        quality_vs_steps(frame),
        throughput_vs_quality(frame),
        seed_spread(frame),
        serving_latency(frame),
    ]


def speedup_per_op(frame: pd.DataFrame) -> Figure:
    name, title = "speedup", "Speedup over eager, per op and backend"
    rows = analysis.op_latency_rows(frame)
    shown = rows[(rows["excluded"] == "") & rows["speedup_vs_eager"].notna() & (rows["backend"] != "eager")]
    if shown.empty:
        missing = "no op rows with a speedup over eager (kind=op, metric=latency, a non-eager backend)"
        return skipped(name, title, missing, excluded_note(rows))
    shown = shown.assign(panel=panels(shown, "dtype"))
    palette = backend_palette(frame)

    def draw(ax, data):
        sns.barplot(
            data=data,
            x="subject",
            y="speedup_vs_eager",
            hue="backend",
            estimator="median",
            errorbar=("pi", 100),
            palette=palette,
            hue_order=present(palette, shown),
            ax=ax,
        )
        ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
        ax.set(xlabel="op", ylabel="speedup vs eager\n(median of cases; whisker: min-max)")
        ax.legend(fontsize="x-small", title="backend", title_fontsize="x-small", framealpha=0.8)

    return faceted(name, title, shown, draw, note=excluded_note(rows))


def roofline(frame: pd.DataFrame) -> Figure:
    name, title = "roofline", "Roofline: each op's achieved throughput against the measured ceilings"
    rows = analysis.op_latency_rows(frame)
    shown = rows[(rows["excluded"] == "") & rows["throughput"].notna() & (rows["throughput_unit"] != "")]
    ceilings = frame[frame["kind"] == "ceiling"]
    if shown.empty:
        return skipped(name, title, "no op rows with a throughput (GB/s or TFLOP/s)")
    if ceilings.empty:
        return skipped(
            name, title, "no ceiling rows (kind=ceiling: copy_bandwidth in GB/s, matmul_<dtype> in TFLOP/s)"
        )
    # GB/s ops share the copy ceiling; TFLOP/s ops are judged against the matmul of their dtype
    by_dtype = shown["throughput_unit"] != "GB/s"
    shown = shown.assign(
        bound=shown["throughput_unit"].where(~by_dtype, shown["throughput_unit"] + " " + shown["dtype"])
    )
    shown = shown.assign(panel=panels(shown, "bound"))
    several = frame["machine"].nunique() > 1
    palette = backend_palette(frame)

    def draw(ax, data):
        unit, dtype = data["throughput_unit"].iloc[0], data["dtype"].iloc[0]
        sns.stripplot(
            data=data,
            x="subject",
            y="throughput",
            hue="backend",
            dodge=True,
            jitter=False,
            size=6,
            palette=palette,
            hue_order=present(palette, shown),
            ax=ax,
        )
        bounds = ceilings[(ceilings["unit"] == unit) & ceilings["machine"].isin(data["machine"].unique())]
        if unit != "GB/s":
            bounds = bounds[bounds["dtype"] == dtype]
        for index, ceiling in enumerate(bounds.itertuples()):
            label = ceiling.metric.replace("_", " ") + (f" ({ceiling.machine})" if several else "")
            color = sns.color_palette("dark")[index % 10]
            ax.axhline(
                ceiling.value,
                color=color,
                linestyle="--",
                linewidth=1,
                label=f"ceiling: {label} {ceiling.value:.3g} {unit}",
            )
        ax.set_yscale("log")
        plain_log_ticks(ax.yaxis)
        ax.set(xlabel="op", ylabel=f"achieved {unit}")
        ax.legend(fontsize="x-small")

    return faceted(name, title, shown, draw, note=excluded_note(rows))


def pareto_per_family(frame: pd.DataFrame) -> Figure:
    name, title = "pareto", "Speed/quality Pareto front per family"
    pairs = analysis.speed_quality_pairs(frame)
    if pairs.empty:
        return skipped(name, title, NO_PAIRS)
    shown = pairs[pairs["excluded"] == ""]
    shown = shown.assign(
        panel=panels(shown.assign(label=shown["family"] + ": " + shown["quality_metric"]), "label")
    )
    palette = backend_palette(frame)

    def draw(ax, data):
        lower = analysis.lower_is_better(data)
        sns.scatterplot(
            data=data,
            x="speed",
            y="quality",
            hue="backend",
            style="dtype",
            s=60,
            palette=palette,
            hue_order=present(palette, shown),
            ax=ax,
        )
        front = data[analysis.pareto_mask(data["speed"], data["quality"], lower)].sort_values("speed")
        ax.plot(
            front["speed"], front["quality"], color="0.3", linewidth=1, drawstyle="steps-post", label="front"
        )
        interval_bars(ax, data, "speed", "quality", "quality_low", "quality_high")
        better = "lower" if lower else "higher"
        ax.set(
            xlabel=data["speed_unit"].iloc[0], ylabel=f"{data['quality_metric'].iloc[0]} ({better} is better)"
        )
        ax.legend(fontsize="x-small")

    return faceted(name, title, shown, draw, note=_with_intervals(excluded_note(pairs)))


def throughput_vs_quality(frame: pd.DataFrame) -> Figure:
    name, title = (
        "throughput_vs_quality",
        "Throughput against quality, every family scored by the same metric",
    )
    pairs = analysis.speed_quality_pairs(frame)
    shown = pairs[pairs["excluded"] == ""]
    if shown.empty:
        return skipped(name, title, NO_PAIRS, excluded_note(pairs))
    shown = shown.assign(panel=panels(shown, "quality_metric"))

    def draw(ax, data):
        sns.scatterplot(data=data, x="speed", y="quality", hue="family", style="backend", s=70, ax=ax)
        interval_bars(ax, data, "speed", "quality", "quality_low", "quality_high")
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        better = "lower" if analysis.lower_is_better(data) else "higher"
        units = ", ".join(sorted(data["speed_unit"].unique()))
        ax.set(
            xlabel=f"throughput ({units})", ylabel=f"{data['quality_metric'].iloc[0]} ({better} is better)"
        )
        ax.legend(fontsize="x-small")

    return faceted(name, title, shown, draw, note=_with_intervals(excluded_note(pairs)))


def cross_family_tradeoff(frame: pd.DataFrame) -> Figure:
    """Each family's best point: throughput (the timed rounds' p20-p80) against quality (its 95%
    interval, on fresh sampling seeds where the run confirmed it), one panel per metric and machine."""
    name, title = "cross_family", "The trade-off: each family's best point, speed against quality"
    best = best_points(frame)
    if best.empty:
        return skipped(
            name, title, "no family has an eager float32 point with a throughput and its headline metric"
        )
    best = best.assign(panel=panels(best.assign(label=best["metric"] + " " + best["machine"]), "label"))

    def draw(ax, data):
        sns.scatterplot(data=data, x="throughput", y="quality", hue="family", s=90, ax=ax)
        interval_bars(ax, data, "throughput", "quality", "quality_low", "quality_high")
        ax.errorbar(
            data["throughput"],
            data["quality"],
            xerr=[data["throughput"] - data["throughput_low"], data["throughput_high"] - data["throughput"]],
            fmt="none",
            ecolor="0.45",
            elinewidth=1,
            capsize=2,
        )
        for _, point in data.iterrows():
            ax.annotate(
                f"{point['family']}: {point['case']}", (point["throughput"], point["quality"]), fontsize=6
            )
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        better = data["better"].iloc[0]
        units = ", ".join(sorted(data["unit"].unique()))
        ax.set(xlabel=f"throughput ({units})", ylabel=f"{data['metric'].iloc[0]} ({better} is better)")
        ax.legend(fontsize="x-small")

    # a headline on fixed held-out data (bits per byte) has no sampling seeds to pick from
    unconfirmed = best[~best["confirmed"].astype(bool) & best["samples"].notna()]["family"].tolist()
    note = "bars: 95% intervals of quality, p20-p80 of the timed rounds"
    if unconfirmed:
        note += f"; chosen and reported on the same sampling seeds: {', '.join(unconfirmed)}"
    return faceted(name, title, best, draw, note=note)


def quality_vs_steps(frame: pd.DataFrame) -> Figure:
    name, title = "quality_vs_steps", "Sample quality against sampling steps"
    rows = _quality_rows_with(frame, STEPS, equal_n=True)
    if not rows.empty:  # a log axis: a step count of 0, or none, has no place on it
        rows = rows[pd.to_numeric(rows[STEPS], errors="coerce") > 0]
    if rows.empty:
        return skipped(name, title, f"no quality rows carry the sampling steps ({STEPS})")
    rows = rows.assign(
        steps=pd.to_numeric(rows[STEPS]),
        series=_variants(rows, exclude=(STEPS, SAMPLER)),
        sampler=rows[SAMPLER].fillna("-").astype(str) if SAMPLER in rows else "-",
    )
    rows = rows.assign(panel=panels(rows.assign(label=rows["subject"] + ": " + rows["metric"]), "label"))

    def draw(ax, data):
        # each sampler its own marker: a sampler run at one step count (DDPM) is a point of its own
        sns.lineplot(
            data=data, x="steps", y="value", hue="series", style="sampler", markers=True, dashes=False, ax=ax
        )
        interval_bars(ax, data, "steps", "value", "ci_low", "ci_high")
        ax.set_xscale("log")
        plain_log_ticks(ax.xaxis)
        ax.set(xlabel="sampling steps (log scale)", ylabel=_quality_label(data))
        ax.legend(fontsize="x-small")

    return faceted(
        name, title, rows, draw, note=_with_intervals("every point at the same n (the *_equal_n figures)")
    )


def seed_spread(frame: pd.DataFrame) -> Figure:
    name, title = "seed_spread", "Quality spread over training seeds"
    rows = _quality_rows_with(frame, TRAIN_SEED)
    if rows.empty:
        return skipped(name, title, f"no quality rows carry a training seed ({TRAIN_SEED})")
    rows = rows.assign(variant=_variants(rows, exclude=(TRAIN_SEED,)))
    rows = rows.assign(panel=panels(rows.assign(label=rows["subject"] + ": " + rows["metric"]), "label"))

    def draw(ax, data):
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 a deprecated argument
            warnings.simplefilter("ignore", MatplotlibDeprecationWarning)
            sns.boxplot(data=data, x="variant", y="value", color="0.9", ax=ax, showfliers=False)
        sns.stripplot(data=data, x="variant", y="value", color="C0", size=5, ax=ax, jitter=False)
        positions = {variant: i for i, variant in enumerate(dict.fromkeys(data["variant"]))}
        interval_bars(
            ax, data.assign(position=data["variant"].map(positions)), "position", "value", "ci_low", "ci_high"
        )
        ax.set(xlabel="", ylabel=f"{_quality_label(data)}\none point per training seed")
        ax.tick_params(axis="x", labelrotation=20)

    return faceted(
        name,
        title,
        rows,
        draw,
        note=_with_intervals("each seed's sampling interval beside the seeds' spread"),
    )


RATE, ENGINE = f"{KNOB_PREFIX}request_rate", f"{KNOB_PREFIX}engine"
SERVING_LATENCIES = ("ttft_p50", "ttft_p99", "tpot_p50", "itl_p99")


def serving_latency(frame: pd.DataFrame) -> Figure:
    """Latency percentiles against the request rate, one line per engine and attention backend."""
    name, title = "serving_latency", "Serving latency against request rate"
    if RATE not in frame.columns or ENGINE not in frame.columns:
        return skipped(name, title, f"no serving rows ({RATE}, {ENGINE})")
    rows = frame[frame[RATE].notna() & frame["metric"].isin(SERVING_LATENCIES)]
    if rows.empty:
        return skipped(name, title, f"no serving latency rows ({', '.join(SERVING_LATENCIES)})")
    rates = pd.to_numeric(rows[RATE])
    order = sorted(rates.unique())
    rows = rows.assign(
        rate=rates.map(lambda r: "all at once" if r == float("inf") else f"{r:g}/s"),
        served=rows[ENGINE].astype(str) + " " + rows["backend"],
        milliseconds=rows["value"] * 1e3,
        panel=panels(rows.assign(label=rows["subject"] + ": " + rows["metric"]), "label"),
    )
    labels = ["all at once" if r == float("inf") else f"{r:g}/s" for r in order]

    def draw(ax, data):
        sns.pointplot(data=data, x="rate", y="milliseconds", hue="served", order=labels, ax=ax, markersize=4)
        ax.set_yscale("log")
        ax.set(xlabel="request rate (Poisson arrivals)", ylabel=f"{data['metric'].iloc[0]} (ms, log scale)")
        ax.legend(fontsize="x-small")

    return faceted(
        name,
        title,
        rows,
        draw,
        note="as vllm bench serve measures: time to first token, time per output token, inter-token latency",
    )


def _quality_rows_with(frame: pd.DataFrame, knob: str, equal_n: bool = False) -> pd.DataFrame:
    """Quality rows carrying ``knob``, of the metrics each family is judged by (``equal_n``: their
    figures at the equal n, where the family has them)."""
    if knob not in frame.columns:
        return frame.iloc[0:0]
    rows = frame[(frame["kind"] == "quality") & frame[knob].notna()]
    known = analysis.families(rows["subject"])
    chosen = []
    for subject, group in rows.groupby("subject", sort=True):
        metrics = analysis.quality_metrics(group, known.get(subject))
        if equal_n:
            metrics = [comparison_metric(group, metric) for metric in metrics]
        chosen.append(group[group["metric"].isin(metrics)])
    return pd.concat(chosen) if chosen else rows


def _with_intervals(note: str) -> str:
    return "; ".join(part for part in ("bars: 95% intervals", note) if part)


def _variants(rows: pd.DataFrame, exclude: tuple[str, ...]) -> pd.Series:
    """``backend dtype`` and the knobs (but ``exclude``) that take several values within a family,
    a knob some of its rows lack counting as one (a best point's second draw on fresh seeds): what
    tells the series of one panel apart."""
    labels = rows["backend"] + " " + rows["dtype"]
    for column in knob_columns(rows):
        if column in exclude:
            continue
        varies = rows.groupby("subject")[column].transform(lambda values: values.nunique(dropna=False) > 1)
        shown = rows[column].map(functools.partial(_knob_label, column[len(KNOB_PREFIX) :]))
        labels = labels + shown.where(varies.astype(bool), "")
    return labels


def _knob_label(name: str, value: object) -> str:
    """``" guidance_scale=2"``; "" where the row has no such knob."""
    if pd.isna(value):
        return ""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return f" {name}={value:g}" if number else f" {name}={value}"


def _quality_label(data: pd.DataFrame) -> str:
    metric = data["metric"].iloc[0]
    direction = metric_direction(data["better"].iloc[0], metric)
    return f"{metric} ({direction} is better)" if direction else metric
