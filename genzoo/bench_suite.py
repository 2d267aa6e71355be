"""Running the pytest-benchmark suites in ``bench/`` from the command line, and reading them back.

The suites live beside the package in a clone (``bench/``); ``genzoo bench`` runs them in a
subprocess so that a crash in one kernel cannot take the caller down, into a temporary file that
is renamed into the results directory only when the run finished.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from genzoo.measurement import Measurement, to_frame

MEASUREMENT_FIELDS = {f.name for f in dataclasses.fields(Measurement)}


def bench_dir() -> Path:
    """``bench/`` of the clone this package was installed from (editable), else ``./bench``."""
    for candidate in (Path(__file__).resolve().parent.parent / "bench", Path.cwd() / "bench"):
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
        sys.executable, "-m", "pytest", *(str(suites_dir / s) for s in options.suites),
        "--rootdir", str(suites_dir.parent), "-p", "no:cacheprovider", "-q",
        "--benchmark-only", "--benchmark-json", partial, "--benchmark-columns=median,iqr,rounds",
    ]  # fmt: skip
    if options.quick:
        command.append("--genzoo-quick")
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


def rows_from_json(path: Path) -> list[Measurement]:
    """The ``Measurement`` rows that genzoo's suites put in each benchmark's ``extra_info``."""
    data = json.loads(Path(path).read_text())
    rows = []
    for bench in data.get("benchmarks", []):
        info = bench.get("extra_info", {})
        if {"kind", "subject", "metric", "value"} <= info.keys():
            rows.append(Measurement(**{k: v for k, v in info.items() if k in MEASUREMENT_FIELDS}))
    return rows


def op_table(rows: list[Measurement]) -> pd.DataFrame:
    """One line per op point: the table ``genzoo bench`` prints."""
    frame = to_frame(r for r in rows if r.kind == "op")
    if frame.empty:
        return frame
    frame = frame.assign(
        median_us=frame["value"] * 1e6,
        throughput=frame["throughput"].round(3),
        of_ceiling=frame["fraction_of_ceiling"].round(3),
        speedup=frame["speedup_vs_eager"].round(2),
        error=frame["error"].map(lambda e: f"{e:.1e}"),
    )
    columns = ["subject", "case", "dtype", "backend", "median_us", "throughput", "throughput_unit",
               "of_ceiling", "speedup", "error", "within_tolerance", "interpreted"]  # fmt: skip
    return frame[columns].sort_values(["subject", "case", "dtype", "backend"], kind="stable")
