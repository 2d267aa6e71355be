"""Running the pytest-benchmark suites in ``bench/`` from the command line, and reading them back.

The suites live beside the package in a clone (``bench/``); ``genzoo bench`` runs them in a
subprocess so that a crash in one kernel cannot take the caller down, into a temporary file that
is renamed into the results directory only when the run finished.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

NO_POINTS_SELECTED = 5  # pytest's exit code when nothing was collected


def bench_dir() -> Path:
    """``bench/`` of the clone this package was installed from (editable), else ``./bench``."""
    for candidate in (Path(__file__).resolve().parents[2] / "bench", Path.cwd() / "bench"):
        if (candidate / "test_ops.py").is_file():
            return candidate
    raise FileNotFoundError(
        "the benchmark suites (bench/test_ops.py) were not found next to the genzoo package or in the "
        "current directory: run genzoo from a clone of the repository (pip install -e .)"
    )


@dataclasses.dataclass(frozen=True)
class BenchOptions:
    device: str | None = None  # default: cuda when available
    quick: bool = False
    goals: bool = False  # only the points of the speed goals
    backends: tuple[str, ...] | None = None
    select: str | None = None  # a pytest -k expression
    suites: tuple[str, ...] = ("test_ops.py",)


def run_suites(options: BenchOptions, json_path: Path) -> int:
    """Run the suites; their pytest-benchmark JSON lands atomically at ``json_path`` (also when
    some points failed: the JSON holds every point that ran). Returns pytest's exit code."""
    suites_dir = bench_dir()
    json_path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=json_path.parent, prefix=f".{json_path.name}.", suffix=".partial")
    os.close(fd)
    command = [
        sys.executable,
        "-m",
        "pytest",
        *(str(suites_dir / s) for s in options.suites),
        "--rootdir",
        str(suites_dir.parent),
        "-p",
        "no:cacheprovider",
        "-q",
        "--benchmark-only",
        "--benchmark-json",
        partial,
        "--benchmark-columns=median,iqr,rounds",
    ]
    if options.quick:
        command.append("--genzoo-quick")
    if options.goals:
        command.append("--genzoo-goals")
    if options.device:
        command += ["--genzoo-device", options.device]
    if options.backends:
        command += ["--genzoo-backends", ",".join(options.backends)]
    if options.select:
        command += ["-k", options.select]
    # a pytest-xdist worker's variables would make the child think it is a worker too
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    try:
        code = subprocess.call(command, cwd=suites_dir.parent, env=env)
        # keep what finished even when some points failed: their rows say so
        if Path(partial).stat().st_size > 0:
            os.replace(partial, json_path)
    finally:
        Path(partial).unlink(missing_ok=True)
    return code


def op_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per op point of a results table: what ``genzoo bench`` prints."""
    ops = frame[frame["kind"] == "op"]
    table = pd.DataFrame(
        {
            "op": ops["subject"],
            "case": ops["case"],
            "dtype": ops["dtype"],
            "backend": ops["backend"],
            "median_us": (ops["value"] * 1e6).round(1),
            "throughput": ops["throughput"].round(3),
            "unit": ops["throughput_unit"],
            "of_ceiling": ops["fraction_of_ceiling"].round(3),
            "speedup": ops["speedup_vs_eager"].round(2),
            "vs_vendor": ops["speedup_vs_vendor"].round(2),
            "error": ops["error"].map(lambda e: f"{e:.1e}"),
            "ok": ops["within_tolerance"],
            "interpreted": ops["interpreted"],
        }
    )
    return table.sort_values(["op", "case", "dtype", "backend"], kind="stable")
