"""The report as one self-contained HTML page: plots and sample grids embedded as base64 PNG,
no script, no external file, so it can be mailed, attached to CI, or opened offline."""

from __future__ import annotations

import base64
import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from genzoo.report.build import Report
    from genzoo.report.drawing import Figure
    from genzoo.report.tables import Table

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; color: #222; }
h1, h2 { border-bottom: 1px solid #ccc; }
table.measurements { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.85em; }
table.measurements th, table.measurements td { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
table.measurements th { background: #f2f2f2; }
td.excluded { color: #a33; font-style: italic; }
figure { margin: 1em 0; }
figure img, .sample img { max-width: 100%; border: 1px solid #eee; }
p.note, figcaption { color: #555; font-size: 0.85em; }
p.skipped { color: #777; font-style: italic; }
pre.sample { background: #f7f7f7; padding: 0.8em; white-space: pre-wrap; }
"""


def render(report: Report) -> str:
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        "<title>genzoo report</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        "<h1>genzoo report</h1>",
        "<p>Sources: " + ", ".join(f"<code>{_e(s)}</code>" for s in report.sources) + "</p>",
    ]
    if report.answer:
        parts.append("<h2>The answer</h2>")
        parts += [_figure(f) for f in report.answer_figures]
        parts += [_table(t) for t in report.answer]
    parts.append("<h2>Findings</h2>")
    if report.findings:
        parts.append("<ul>" + "".join(f"<li>{_e(f)}</li>" for f in report.findings) + "</ul>")
    else:
        parts.append("<p>No findings: the runs hold no comparable rows.</p>")
    parts.append("<h2>Ops</h2>")
    parts += [_table(t) for t in report.op_tables] or ["<p>No op rows (kind=op) in these runs.</p>"]
    if report.other_tables:
        parts.append("<h2>Ceilings and model families</h2>")
        parts += [_table(t) for t in report.other_tables]
    parts.append("<h2>Plots</h2>")
    parts += [_figure(f) for f in report.figures]
    parts.append("<h2>Samples</h2>")
    if not report.samples:
        parts.append("<p>No samples (samples/&lt;family&gt;.png or .txt in a results directory).</p>")
    for sample in report.samples:
        parts.append(f'<div class="sample"><h3>{_e(sample.title)}</h3>')
        if sample.is_image:
            source = _data_uri(sample.path.read_bytes())
            parts.append(f'<img alt="sample: {_e(sample.title)}" src="{source}">')
        else:
            parts.append(f'<pre class="sample">{_e(sample.path.read_text(errors="replace"))}</pre>')
        parts.append("</div>")
    parts += [_table(report.environment, level=2), "</body>", "</html>"]
    return "\n".join(parts) + "\n"


def _figure(figure: Figure) -> str:
    parts = [f'<section class="plot" data-plot="{_e(figure.name)}"><h3>{_e(figure.title)}</h3>']
    if figure.png is not None:
        parts.append(
            f'<figure><img alt="{_e(figure.title)}" src="{_data_uri(figure.png)}">'
            + (f"<figcaption>{_e(figure.note)}</figcaption>" if figure.note else "")
            + "</figure>"
        )
    else:
        parts.append(f'<p class="skipped">{_e(figure.note)}</p>')
    parts.append("</section>")
    return "".join(parts)


def _table(table: Table, level: int = 3) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in table.frame.columns)
    rows = []
    for row in table.frame.itertuples(index=False):
        cells = "".join(
            f'<td class="excluded">{_e(v)}</td>' if str(v).startswith("excluded") else f"<td>{_e(v)}</td>"
            for v in row
        )
        rows.append(f"<tr>{cells}</tr>")
    body = "".join(rows) or f'<tr><td colspan="{max(len(table.frame.columns), 1)}">(no rows)</td></tr>'
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    return (
        f"<h{level}>{_e(table.title)}</h{level}>"
        f'<table class="measurements" data-table="{_e(table.title)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table>{note}"
    )


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)
