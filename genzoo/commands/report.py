"""``genzoo report RUN...``: Markdown and a self-contained HTML page from one or more runs."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from genzoo.report import write_report
from genzoo.results import ResultsError

NAME = "report"
HELP = "write report.md and a self-contained report.html from one or more runs"
DESCRIPTION = (
    "Write a report (report.md with its plots, and a self-contained report.html) from one or more runs: "
    "findings, per-op tables, ceilings, model families, plots, samples and the environment. Several runs "
    "(e.g. from several machines) merge into one report; every row keeps its machine."
)
EPILOG = """\
RUN is a results directory written by `genzoo run` (results/<run-id>/) or a pytest-benchmark JSON file
(`pytest --benchmark-json PATH`, genzoo's or any project's).

examples:
  genzoo report results/20260512-141502-gpu1
  genzoo report results/run-h100 results/run-h200 --out merged-report
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = textwrap.fill(DESCRIPTION, 100)
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "runs", nargs="+", type=Path, metavar="RUN", help="results directory or pytest-benchmark JSON file"
    )
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="where to write the report "
        "(default: RUN/report for one results directory, ./genzoo-report otherwise)",
    )


def default_out(runs: list[Path]) -> Path:
    if len(runs) == 1 and runs[0].is_dir():
        return runs[0] / "report"
    return Path("genzoo-report")


def main(args: argparse.Namespace) -> int:
    out = args.out or default_out(args.runs)
    try:
        files = write_report(args.runs, out)
    except ResultsError as error:
        print(f"genzoo report: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {files.markdown}")
    print(f"wrote {files.html}")
    return 0
