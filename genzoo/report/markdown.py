"""The report as Markdown: tables as pipe tables, plots and sample grids as files beside it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from genzoo.report.build import Report
    from genzoo.report.drawing import Figure
    from genzoo.report.tables import Table


def render(report: Report, figure_paths: dict[str, Path], sample_paths: dict[Path, Path]) -> str:
    """``figure_paths``: figure name -> PNG path relative to the Markdown file; ``sample_paths``:
    sample file in its run -> its copy, relative to the Markdown file."""
    lines = ["# genzoo report", "", "Sources: " + ", ".join(f"`{s}`" for s in report.sources), ""]
    if report.answer:
        lines += ["## The answer", ""]
        for figure in report.answer_figures:
            lines += _figure(figure, figure_paths)
        for table in report.answer:
            lines += _table(table, level=3)
    lines += ["## Findings", ""]
    findings = [f"- {finding}" for finding in report.findings]
    lines += findings or ["No findings: the runs hold no comparable rows."]
    lines += ["", "## Ops", ""]
    if not report.op_tables:
        lines += ["No op rows (kind=op) in these runs.", ""]
    for table in report.op_tables:
        lines += _table(table, level=3)
    if report.other_tables:
        lines += ["## Ceilings and model families", ""]
        for table in report.other_tables:
            lines += _table(table, level=3)
    lines += ["## Plots", ""]
    for figure in report.figures:
        lines += _figure(figure, figure_paths)
    lines += ["## Samples", ""]
    if not report.samples:
        lines += ["No samples (samples/<family>.png or .txt in a results directory).", ""]
    for sample in report.samples:
        lines += [f"### {sample.title}", ""]
        if sample.is_image:
            lines += [f"![{sample.title}]({sample_paths[sample.path].as_posix()})", ""]
        else:
            text = sample.path.read_text(errors="replace")
            fence = "~~~~" if "```" in text else "```"
            lines += [fence + "text", text.rstrip("\n"), fence, ""]
    lines += _table(report.environment, level=2)
    return "\n".join(lines) + "\n"


def _figure(figure: Figure, figure_paths: dict[str, Path]) -> list[str]:
    lines = [f"### {figure.title}", ""]
    if figure.name in figure_paths:
        lines += [f"![{figure.title}]({figure_paths[figure.name].as_posix()})", ""]
    if figure.note:
        lines += [f"_{_escape(figure.note)}_", ""]
    return lines


def _table(table: Table, level: int) -> list[str]:
    lines = ["#" * level + f" {table.title}", ""]
    lines += pipe_table(table.frame)
    if table.note:
        lines += ["", f"_{_escape(table.note)}_"]
    return lines + [""]


def pipe_table(frame: pd.DataFrame) -> list[str]:
    if frame.empty:
        return ["(no rows)"]
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return [header, rule, *body]


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _escape(text: str) -> str:
    return text.replace("_", "\\_").replace("*", "\\*")
