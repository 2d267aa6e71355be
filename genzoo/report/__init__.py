"""``genzoo report``: one or more runs as a Markdown file and a self-contained HTML page.

``write_report(sources, out_dir)`` reads results directories (or pytest-benchmark JSON files),
merges their tables (each row keeps its machine), and writes ``report.md`` (with ``plots/*.png``
and ``samples/`` beside it) and ``report.html`` (everything embedded, base64 PNG). The modules:

- ``build``: the report from its sources, and writing it;
- ``tables``: one table per op, the goals, the ceilings, the families' best points, one table
  per model family, the environment;
- ``findings``: what the table says, in a few sentences; ``claims``: the folk claims each family
  declares, tested on the data; ``cross_family``: each family's best point;
- ``plots`` (drawn with ``drawing``): the figures; ``analysis``: the row selections they share;
- ``markdown``, ``html``: the two renderings.

A row that may not claim speed (``genzoo.harness.gate``: outside its tolerance or quality window,
interpreted, measured on another device) shows "excluded" where a speedup would be, no
throughput, and no point on any speed axis.
"""

from genzoo.report.build import Report, ReportFiles, Sample, build_report, save_report, write_report
from genzoo.report.tables import (
    Table,
    ceiling_tables,
    cross_family_tables,
    environment_table,
    family_tables,
    goal_tables,
    op_tables,
)

__all__ = [
    "Report",
    "ReportFiles",
    "Sample",
    "Table",
    "build_report",
    "ceiling_tables",
    "cross_family_tables",
    "environment_table",
    "family_tables",
    "goal_tables",
    "op_tables",
    "save_report",
    "write_report",
]
