"""The report's seaborn plots, each drawn from the measurement table alone.

Every plot function returns a ``Figure``: a PNG, or none and a note saying which rows it needs
when the table has none of them. Rows that may not claim speed (outside tolerance, interpreted)
are left out of every speed axis and named in the figure's note. Figures are drawn on
``matplotlib.figure.Figure`` (no pyplot): nothing global changes and nothing leaks between plots.
"""

from __future__ import annotations

import dataclasses
import io
import warnings

import pandas as pd
import seaborn as sns
from matplotlib import MatplotlibDeprecationWarning
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

from genzoo.report import findings
from genzoo.results import QUALITY_METRICS, case_params, case_without, metric_direction

MAX_PANELS = 8
STYLE = {"style": "whitegrid", "context": "notebook", "font_scale": 0.8}


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str  # file stem, e.g. "speedup"
    title: str
    png: bytes | None  # None: skipped, for the reason in ``note``
    note: str = ""


def all_figures(frame: pd.DataFrame) -> list[Figure]:
    return [
        speedup_per_op(frame),
        roofline(frame),
        pareto_per_family(frame),
        ddim_quality_vs_steps(frame),
        throughput_vs_fid(frame),
        gan_seed_spread(frame),
    ]


def speedup_per_op(frame: pd.DataFrame) -> Figure:
    name, title = "speedup", "Speedup over eager, per op and backend"
    rows = findings.op_latency_rows(frame)
    shown = rows[(rows["excluded"] == "") & rows["speedup_vs_eager"].notna() & (rows["backend"] != "eager")]
    if shown.empty:
        missing = "no op rows with a speedup over eager (kind=op, metric=latency, a non-eager backend)"
        return _skipped(name, title, missing, _excluded_note(rows))
    shown = shown.assign(panel=_panels(shown, "dtype"))
    palette = backend_palette(frame)

    def draw(ax, data):
        sns.barplot(data=data, x="subject", y="speedup_vs_eager", hue="backend", estimator="median",
                    errorbar=("pi", 100), palette=palette, hue_order=_present(palette, shown), ax=ax)  # fmt: skip
        ax.axhline(1.0, color="0.3", linestyle="--", linewidth=1)
        ax.set(xlabel="op", ylabel="speedup vs eager\n(median of cases; whisker: min-max)")
        ax.legend(fontsize="x-small", title="backend", title_fontsize="x-small", framealpha=0.8)

    return _faceted(name, title, shown, draw, note=_excluded_note(rows))


def roofline(frame: pd.DataFrame) -> Figure:
    name, title = "roofline", "Roofline: each op's achieved throughput against the measured ceilings"
    rows = findings.op_latency_rows(frame)
    shown = rows[(rows["excluded"] == "") & rows["throughput"].notna() & (rows["throughput_unit"] != "")]
    ceilings = frame[frame["kind"] == "ceiling"]
    if shown.empty:
        return _skipped(name, title, "no op rows with a throughput (GB/s or TFLOP/s)")
    if ceilings.empty:
        return _skipped(name, title, "no ceiling rows (kind=ceiling: copy_bandwidth in GB/s, matmul_<dtype> in TFLOP/s)")
    # GB/s ops share the copy ceiling; TFLOP/s ops are judged against the matmul of their dtype
    by_dtype = shown["throughput_unit"] != "GB/s"
    shown = shown.assign(bound=shown["throughput_unit"].where(~by_dtype, shown["throughput_unit"] + " " + shown["dtype"]))
    shown = shown.assign(panel=_panels(shown, "bound"))
    several = frame["machine"].nunique() > 1
    palette = backend_palette(frame)

    def draw(ax, data):
        unit, dtype = data["throughput_unit"].iloc[0], data["dtype"].iloc[0]
        sns.stripplot(data=data, x="subject", y="throughput", hue="backend", dodge=True, jitter=False, size=6,
                      palette=palette, hue_order=_present(palette, shown), ax=ax)  # fmt: skip
        bounds = ceilings[(ceilings["unit"] == unit) & ceilings["machine"].isin(data["machine"].unique())]
        if unit != "GB/s":
            bounds = bounds[bounds["dtype"] == dtype]
        for index, ceiling in enumerate(bounds.itertuples()):
            label = ceiling.metric.replace("_", " ") + (f" ({ceiling.machine})" if several else "")
            ax.axhline(ceiling.value, color=sns.color_palette("dark")[index % 10], linestyle="--", linewidth=1,
                       label=f"ceiling: {label} {ceiling.value:.3g} {unit}")  # fmt: skip
        ax.set_yscale("log")
        _plain_log_ticks(ax.yaxis)
        ax.set(xlabel="op", ylabel=f"achieved {unit}")
        ax.legend(fontsize="x-small")

    return _faceted(name, title, shown, draw, note=_excluded_note(rows))


def pareto_per_family(frame: pd.DataFrame) -> Figure:
    name, title = "pareto", "Speed/quality Pareto front per family"
    pairs = findings.speed_quality_pairs(frame)
    if pairs.empty:
        return _skipped(name, title, "no family has a speed metric (tokens_per_s, images_per_s) and a quality metric "
                        f"({', '.join(QUALITY_METRICS)}) for the same backend, dtype and case")  # fmt: skip
    shown = pairs[pairs["excluded"] == ""]
    shown = shown.assign(panel=_panels(shown, "family"))
    palette = backend_palette(frame)

    def draw(ax, data):
        quality_metric, speed_metric = data["quality_metric"].iloc[0], data["speed_metric"].iloc[0]
        lower = metric_direction(quality_metric) == "lower"
        sns.scatterplot(data=data, x="speed", y="quality", hue="backend", style="dtype", s=60, palette=palette,
                        hue_order=_present(palette, shown), ax=ax)  # fmt: skip
        front = data[findings.pareto_mask(data["speed"], data["quality"], lower)].sort_values("speed")
        ax.plot(front["speed"], front["quality"], color="0.3", linewidth=1, drawstyle="steps-post", label="front")
        better = "lower" if lower else "higher"
        ax.set(xlabel=speed_metric.replace("_per_s", "/s"), ylabel=f"{quality_metric} ({better} is better)")
        ax.legend(fontsize="x-small")

    return _faceted(name, title, shown, draw, note=_excluded_note(pairs))


def ddim_quality_vs_steps(frame: pd.DataFrame) -> Figure:
    name, title = "ddim_steps", "DDIM: sample quality against sampling steps"
    rows = frame[(frame["subject"] == "diffusion") & frame["metric"].isin(QUALITY_METRICS)]
    steps = pd.to_numeric(rows["case"].map(lambda c: case_params(c).get("steps")), errors="coerce")
    rows = rows[steps.notna()]
    if rows.empty:
        return _skipped(name, title, "no diffusion quality rows with steps=N in their case")
    params = rows["case"].map(case_params)
    rows = rows.assign(
        steps=steps[steps.notna()],
        variant=rows["backend"] + " " + rows["dtype"],
        guidance=params.map(lambda p: p.get("w", "-")),
        panel=_panels(rows, "metric"),
    )

    def draw(ax, data):
        sns.lineplot(data=data, x="steps", y="value", hue="variant", style="guidance", markers=True, ax=ax)
        metric = data["metric"].iloc[0]
        ax.set(xlabel="DDIM steps", ylabel=f"{metric} ({metric_direction(metric) or '?'} is better)")
        ax.legend(fontsize="x-small")

    return _faceted(name, title, rows, draw)


def throughput_vs_fid(frame: pd.DataFrame) -> Figure:
    name, title = "throughput_vs_fid", "Throughput against FID, all families"
    pairs = findings.speed_quality_pairs(frame, quality_metric="fid")
    shown = pairs[pairs["excluded"] == ""]
    if shown.empty:
        return _skipped(name, title, "no family has both a throughput (images_per_s, tokens_per_s) and an FID for the same point")
    shown = shown.assign(panel=_panels(shown, "quality_metric"))

    def draw(ax, data):
        sns.scatterplot(data=data, x="speed", y="quality", hue="family", style="backend", s=70, ax=ax)
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
        ax.set(xlabel="throughput (images/s or tokens/s)", ylabel="FID (lower is better)")
        ax.legend(fontsize="x-small")

    return _faceted(name, title, shown, draw, note=_excluded_note(pairs))


def gan_seed_spread(frame: pd.DataFrame) -> Figure:
    name, title = "gan_seeds", "GAN: quality spread over training seeds"
    rows = frame[(frame["subject"] == "gan") & frame["metric"].isin(QUALITY_METRICS)]
    rows = rows[rows["case"].map(lambda c: "seed" in case_params(c))]
    if rows.empty:
        return _skipped(name, title, "no gan quality rows with seed=N in their case")
    rows = rows.assign(
        variant=rows["backend"] + " " + rows["dtype"] + " " + rows["case"].map(lambda c: case_without(c, "seed")),
        panel=_panels(rows, "metric"),
    )

    def draw(ax, data):
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 a deprecated argument
            warnings.simplefilter("ignore", MatplotlibDeprecationWarning)
            sns.boxplot(data=data, x="variant", y="value", color="0.9", ax=ax, showfliers=False)
        sns.stripplot(data=data, x="variant", y="value", color="C0", size=5, ax=ax)
        metric = data["metric"].iloc[0]
        ax.set(xlabel="", ylabel=f"{metric} (one point per seed)")
        ax.tick_params(axis="x", labelrotation=20)

    return _faceted(name, title, rows, draw)


# -- drawing machinery --------------------------------------------------------------------------


def backend_palette(frame: pd.DataFrame) -> dict[str, tuple]:
    """One color per backend, the same in every plot of a report (eager first)."""
    backends = sorted(set(frame["backend"]) - {"-", ""}, key=lambda b: (b != "eager", b))
    return dict(zip(backends, sns.color_palette("tab10", len(backends))))


def _present(palette: dict[str, tuple], rows: pd.DataFrame) -> list[str]:
    """The backends of ``rows`` in palette order: the same order, and dodge slots, in every panel."""
    return [backend for backend in palette if backend in set(rows["backend"])]


def _plain_log_ticks(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(FuncFormatter(lambda value, _: f"{value:g}" if str(f"{value:g}")[0] in "25" else ""))


def _panels(rows: pd.DataFrame, column: str) -> pd.Series:
    """The panel each row is drawn in: ``column``'s value, with the machine when there are several."""
    panel = rows[column].astype(str)
    if rows["machine"].nunique() > 1:
        panel = panel + " | " + rows["machine"].astype(str)
    return panel


def _faceted(name: str, title: str, rows: pd.DataFrame, draw, note: str = "") -> Figure:
    if rows.empty:
        return Figure(name, title, None, " ".join(["Not drawn: every point is excluded (no speed claim).", note]).strip())
    panels = sorted(rows["panel"].unique())
    dropped = panels[MAX_PANELS:]
    panels = panels[:MAX_PANELS]
    columns = min(len(panels), 2)
    figure = _new_figure((len(panels) + columns - 1) // columns, columns)
    with sns.axes_style(STYLE["style"]), sns.plotting_context(STYLE["context"], font_scale=STYLE["font_scale"]):
        for ax, panel in zip(figure.axes, panels):
            draw(ax, rows[rows["panel"] == panel])
            ax.set_title(panel)
    for ax in figure.axes[len(panels):]:
        ax.set_visible(False)
    figure.suptitle(title)
    if dropped:
        note = (note + " " if note else "") + f"Panels not drawn (at most {MAX_PANELS}): {', '.join(dropped)}."
    return Figure(name, title, _png(figure), note)


def _new_figure(rows: int, columns: int) -> MplFigure:
    with sns.axes_style(STYLE["style"]), sns.plotting_context(STYLE["context"], font_scale=STYLE["font_scale"]):
        figure = MplFigure(figsize=(6.0 * columns, 3.6 * rows + 0.4), layout="constrained")
        figure.subplots(rows, columns, squeeze=False)
    return figure


def _png(figure: MplFigure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def _skipped(name: str, title: str, missing: str, excluded_note: str = "") -> Figure:
    return Figure(name, title, None, f"Not drawn: {missing}." + (f" {excluded_note}" if excluded_note else ""))


def _excluded_note(rows: pd.DataFrame) -> str:
    """One line naming the variants left out because they may not claim speed."""
    excluded = rows[rows["excluded"] != ""] if "excluded" in rows else rows.iloc[0:0]
    if excluded.empty:
        return ""
    names = sorted({f"{r.subject} {r.backend} {r.dtype} [{r.case}] ({r.excluded})" for r in excluded.itertuples()})
    return "Excluded (no speed claim): " + "; ".join(names) + "."
