"""``genzoo compare BASE NEW``: regressions and improvements beyond the measured noise."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

import pandas as pd

from genzoo import compare
from genzoo.results import ResultsError
from genzoo.results.store import open_results

NAME = "compare"
HELP = "compare two runs and flag regressions and improvements beyond the measured noise"
DESCRIPTION = (
    "Compare two runs measurement by measurement and flag what got slower or faster beyond the noise. "
    "BASE and NEW are results directories (results/<run-id>/) or pytest-benchmark JSON files, "
    "genzoo's or any project's. Exit status: 0; 1 with --fail-on regression when something regressed; "
    "2 when an input cannot be read or an argument is wrong."
)
EPILOG = """\
how a change is judged:
  rows are matched by (kind, subject, backend, dtype, case, metric). A change counts when it is at
  least --threshold AND beyond the noise: with raw per-round times on both sides (pytest
  --benchmark-save-data) a bootstrap interval of the ratio of medians must exclude 0; otherwise the
  p20-p80 ranges of the two runs must not overlap; with no spread measured, the threshold alone.
  Slower (or worse quality) is a regression; faster (or better) an improvement. A timing that may
  not claim a speed on either side (interpreted, outside its tolerance or quality window) is listed
  as "excluded", with the reason, and never judged.

examples:
  genzoo compare results/main-run results/my-branch
  genzoo compare base.json new.json --fail-on regression --threshold 10%
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = textwrap.fill(DESCRIPTION, 100)
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(
        "base",
        type=Path,
        metavar="BASE",
        help="the reference run: results directory or pytest-benchmark JSON",
    )
    parser.add_argument(
        "new", type=Path, metavar="NEW", help="the run to judge against BASE (same kinds of input)"
    )
    parser.add_argument(
        "--threshold",
        type=fraction,
        default=0.10,
        metavar="FRACTION",
        help="smallest change that counts, as 0.1 or 10%% "
        "(default: 10%%; runs on different days drift by a few %%)",
    )
    parser.add_argument(
        "--fail-on",
        choices=("regression", "never"),
        default="never",
        help="exit with status 1 when a regression is found (for CI gates); default: never",
    )
    parser.add_argument(
        "--confidence",
        type=confidence_level,
        default=0.95,
        metavar="LEVEL",
        help="confidence of the bootstrap interval (default: 0.95)",
    )
    parser.add_argument(
        "--changes-only", action="store_true", help="list only rows that changed (counts stay complete)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap resampling (default: 0)")


def fraction(text: str) -> float:
    """``0.05``, ``5%`` -> 0.05."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a fraction such as 0.05 or 5%, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(
            f"expected a fraction between 0 and 1 (such as 0.05 or 5%), got {text!r}"
        )
    return value


def confidence_level(text: str) -> float:
    value = fraction(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"expected a confidence level above 0, such as 0.95, got {text!r}")
    return value


def main(args: argparse.Namespace) -> int:
    try:
        base = open_results(args.base, raw_times=True)
        new = open_results(args.new, raw_times=True)
    except ResultsError as error:
        print(f"genzoo compare: error: {error}", file=sys.stderr)
        return 2
    result = compare.compare_tables(
        base, new, threshold=args.threshold, confidence=args.confidence, seed=args.seed
    )
    print(f"BASE {args.base}  NEW {args.new}  threshold {args.threshold:.1%}")
    with pd.option_context("display.width", 250, "display.max_colwidth", 40):
        print(compare.format_table(result, changes_only=args.changes_only))
    if args.fail_on == "regression" and not compare.regressions(result).empty:
        count = len(compare.regressions(result))
        print(f"genzoo compare: {count} regression(s) beyond the noise", file=sys.stderr)
        return 1
    return 0
