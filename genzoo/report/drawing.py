"""The machinery every plot of the report shares: a ``Figure`` (a PNG, or a note saying why none
was drawn), panels faceted by a column (and by machine, where several), one colour per backend
in every plot, and the note naming what was left off a speed axis.

Figures are drawn on ``matplotlib.figure.Figure`` (no pyplot): nothing global changes and
nothing leaks between plots.
"""

from __future__ import annotations

import dataclasses
import io
from collections.abc import Callable

import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter

MAX_PANELS = 8
STYLE = {"style": "whitegrid", "context": "notebook", "font_scale": 0.8}


@dataclasses.dataclass(frozen=True)
class Figure:
    name: str  # file stem, e.g. "speedup"
    title: str
    png: bytes | None  # None: skipped, for the reason in ``note``
    note: str = ""


def backend_palette(frame: pd.DataFrame) -> dict[str, tuple]:
    """One color per backend, the same in every plot of a report (eager first)."""
    backends = sorted(set(frame["backend"]) - {"-", ""}, key=lambda b: (b != "eager", b))
    return dict(zip(backends, sns.color_palette("tab10", len(backends))))


def present(palette: dict[str, tuple], rows: pd.DataFrame) -> list[str]:
    """The backends of ``rows`` in palette order: the same order, and dodge slots, in every panel."""
    return [backend for backend in palette if backend in set(rows["backend"])]


def plain_log_ticks(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(
        FuncFormatter(lambda value, _: f"{value:g}" if str(f"{value:g}")[0] in "25" else "")
    )


def panels(rows: pd.DataFrame, column: str) -> pd.Series:
    """The panel each row is drawn in: ``column``'s value, with the machine when there are several."""
    panel = rows[column].astype(str)
    if rows["machine"].nunique() > 1:
        panel = panel + " | " + rows["machine"].astype(str)
    return panel


def faceted(name: str, title: str, rows: pd.DataFrame, draw: Callable, note: str = "") -> Figure:
    """``draw(ax, rows of one panel)`` for each value of ``rows["panel"]``, two panels a line."""
    if rows.empty:
        return Figure(
            name,
            title,
            None,
            " ".join(["Not drawn: every point is excluded (no speed claim).", note]).strip(),
        )
    names = sorted(rows["panel"].unique())
    dropped, names = names[MAX_PANELS:], names[:MAX_PANELS]
    columns = min(len(names), 2)
    figure = _new_figure((len(names) + columns - 1) // columns, columns)
    with (
        sns.axes_style(STYLE["style"]),
        sns.plotting_context(STYLE["context"], font_scale=STYLE["font_scale"]),
    ):
        for ax, panel in zip(figure.axes, names):
            draw(ax, rows[rows["panel"] == panel])
            ax.set_title(panel)
    for ax in figure.axes[len(names) :]:
        ax.set_visible(False)
    figure.suptitle(title)
    if dropped:
        note = (
            note + " " if note else ""
        ) + f"Panels not drawn (at most {MAX_PANELS}): {', '.join(dropped)}."
    return Figure(name, title, _png(figure), note)


def _new_figure(rows: int, columns: int) -> MplFigure:
    with (
        sns.axes_style(STYLE["style"]),
        sns.plotting_context(STYLE["context"], font_scale=STYLE["font_scale"]),
    ):
        figure = MplFigure(figsize=(6.0 * columns, 3.6 * rows + 0.4), layout="constrained")
        figure.subplots(rows, columns, squeeze=False)
    return figure


def _png(figure: MplFigure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return buffer.getvalue()


def skipped(name: str, title: str, missing: str, excluded: str = "") -> Figure:
    return Figure(name, title, None, f"Not drawn: {missing}." + (f" {excluded}" if excluded else ""))


def excluded_note(rows: pd.DataFrame) -> str:
    """One line naming the variants left out because they may not claim speed."""
    excluded = rows[rows["excluded"] != ""] if "excluded" in rows else rows.iloc[0:0]
    if excluded.empty:
        return ""
    names = sorted(
        {f"{r.subject} {r.backend} {r.dtype} [{r.case}] ({r.excluded})" for r in excluded.itertuples()}
    )
    return "Excluded (no speed claim): " + "; ".join(names) + "."


def interval_bars(ax, data: pd.DataFrame, x: str, y: str, low: str, high: str, **style) -> None:
    """Vertical bars of each point's interval [low, high] (rows without one get none)."""
    shown = data[data[low].notna() & data[high].notna()]
    if shown.empty:
        return
    below, above = shown[y] - shown[low], shown[high] - shown[y]
    ax.errorbar(
        shown[x],
        shown[y],
        yerr=[below.clip(lower=0), above.clip(lower=0)],
        fmt="none",
        ecolor=style.pop("ecolor", "0.45"),
        elinewidth=1,
        capsize=2,
        **style,
    )
