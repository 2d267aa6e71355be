"""pytest-benchmark JSON (``--benchmark-json PATH``) as measurement rows.

genzoo's benchmarks put the fields of one ``Measurement`` in each benchmark's ``extra_info``
(``kind``, ``subject``, ``backend``, ``dtype``, ``case``, ``throughput``, ``speedup_vs_eager``,
``within_tolerance`` ...), and the session's fingerprint and ceilings under the file's top-level
``genzoo`` key (``extra_info["fingerprint"]``, where present, overrides it per benchmark); the
ceilings become ``kind="ceiling"`` rows. Any other project's file reads too: a benchmark
without ``extra_info["kind"]`` becomes an ``op`` row whose subject is its group (or its test
name) and whose case is the rest of its name, metric ``latency`` in seconds (lower is better).

A latency row's value is pytest-benchmark's median. ``p20``/``p80`` come from the raw per-round
times when the run saved them (``--benchmark-save-data``); otherwise from ``extra_info``, else the
quartiles ``q1``/``q3`` stand in (a slightly narrower spread). A genzoo row of another metric
(``extra_info["metric"]`` not ``latency``, with its ``value``) is taken from ``extra_info`` as
is; rows written before schema version 2 are migrated (``genzoo.results.schema``). With
``raw_times=True`` the frame keeps those raw times in a ``raw_times`` column (a numpy array, or
None), which ``genzoo compare`` bootstraps.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pandas as pd

from genzoo import measurement
from genzoo.harness.timing import Timing
from genzoo.measurement import Measurement
from genzoo.results import schema
from genzoo.results.errors import ResultsError
from genzoo.results.table import typed_table

FIELDS = tuple(field.name for field in dataclasses.fields(Measurement))


def read(path: Path) -> dict:
    """The parsed file, or a ``ResultsError`` naming it when it is not pytest-benchmark JSON."""
    path = Path(path)
    try:
        document = json.loads(path.read_text())
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsError(f"{path}: not readable as JSON ({error})") from None
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise ResultsError(
            f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list); "
            "write one with `pytest --benchmark-json PATH`"
        )
    return document


def load(path: Path, raw_times: bool = False) -> pd.DataFrame:
    """One row per benchmark of the file at ``path``, with fingerprint columns."""
    return to_frame(read(path), source=Path(path), raw_times=raw_times)


def to_frame(document: dict, source: Path | str = "<json>", raw_times: bool = False) -> pd.DataFrame:
    benchmarks = document["benchmarks"]
    foreign_names = _foreign_names(benchmarks)
    machine_fingerprint = _machine_fingerprint(document)
    rows, sides = [], []
    for index, benchmark in enumerate(benchmarks):
        where = f"{source}: benchmark {benchmark.get('fullname') or benchmark.get('name') or index}"
        try:
            row, data = _row(benchmark, foreign_names.get(index))
        except (KeyError, TypeError, ValueError) as error:
            raise ResultsError(f"{where}: {type(error).__name__}: {error}") from None
        fingerprint = benchmark.get("extra_info", {}).get("fingerprint") or machine_fingerprint
        name = benchmark.get("fullname") or benchmark.get("name", "")
        rows.append(row)
        sides.append({**fingerprint, "benchmark": name, **({"raw_times": data} if raw_times else {})})
    for row in _session_ceilings(document, source):
        rows.append(row)
        no_times = {"raw_times": None} if raw_times else {}
        sides.append({**machine_fingerprint, "benchmark": "ceilings", **no_times})
    frame = measurement.to_frame(rows)
    side_columns = pd.DataFrame(sides, index=frame.index) if sides else pd.DataFrame(index=frame.index)
    frame = frame.join(side_columns[[c for c in side_columns.columns if c not in frame.columns]])
    try:
        return typed_table(schema.upgrade(frame, _schema_version(document, benchmarks, source)))
    except (TypeError, ValueError) as error:
        raise ResultsError(f"{source}: extra_info does not read as measurements ({error})") from None


def _schema_version(document: dict, benchmarks: list[dict], source: Path | str) -> int:
    """genzoo's suites write theirs under ``document["genzoo"]``; files from before version 2 did
    not, and their rows had no ``better`` (other projects' rows are made here, in the current
    schema)."""
    stated = (document.get("genzoo") or {}).get("schema_version")
    if stated is not None:
        return schema.checked_version(Path(str(source)), stated)
    for benchmark in benchmarks:
        extra = benchmark.get("extra_info") or {}
        if extra.get("kind") and "better" not in extra:
            return 1
    return schema.VERSION


def _row(benchmark: dict, foreign: tuple[str, str] | None) -> tuple[Measurement, np.ndarray | None]:
    stats = benchmark["stats"]
    extra = dict(benchmark.get("extra_info") or {})
    if foreign is None and extra.get("metric", "latency") != "latency" and "value" in extra:
        # a row that reports another quantity (a ceiling in GB/s, images/s) from the timed call
        return _measurement({k: v for k, v in extra.items() if k in FIELDS}), None
    data = stats.get("data")
    data = np.asarray(data, dtype=float) if data else None
    if data is not None:
        timing = Timing.from_samples(data.tolist())
        p20, p80 = timing.p20_s, timing.p80_s
    else:
        p20, p80 = extra.get("p20", stats.get("q1")), extra.get("p80", stats.get("q3"))
    fields = {"metric": "latency", "unit": "s", "better": "lower"}
    if foreign is None:  # genzoo's own: extra_info holds the measurement fields
        fields.update({k: v for k, v in extra.items() if k in FIELDS})
        fields.setdefault("backend", "-")
        fields.setdefault("dtype", "-")
        fields.setdefault("case", "-")
        fields.setdefault("subject", benchmark.get("group") or _base_name(benchmark))
    else:
        fields.update(kind="op", subject=foreign[0], backend="-", dtype="-", case=foreign[1])
    rounds = stats.get("rounds", fields.get("rounds"))
    fields.update(value=float(stats["median"]), p20=p20, p80=p80, rounds=rounds)
    return _measurement(fields), data


def _measurement(fields: dict) -> Measurement:
    """A row from ``extra_info``'s fields: JSON turned the knob pairs into lists."""
    knobs = tuple((str(name), value) for name, value in fields.pop("knobs", None) or ())
    return Measurement(**fields, knobs=knobs)


def _base_name(benchmark: dict) -> str:
    return str(benchmark.get("name", "")).split("[", 1)[0]


def _foreign_names(benchmarks: list[dict]) -> dict[int, tuple[str, str]]:
    """(subject, case) for benchmarks without genzoo's extra_info: the group (else the test name)
    and what tells the benchmark apart within it; the full test id where that is still ambiguous."""
    names = {}
    for index, benchmark in enumerate(benchmarks):
        if (benchmark.get("extra_info") or {}).get("kind"):
            continue
        name = str(benchmark.get("name", index))
        if benchmark.get("group"):
            names[index] = (str(benchmark["group"]), name)
        else:
            params = benchmark.get("params") or {}
            case = " ".join(f"{k}={v}" for k, v in params.items()) or benchmark.get("param") or "-"
            names[index] = (_base_name(benchmark), str(case))
    seen: dict[tuple[str, str], int] = {}
    for pair in names.values():
        seen[pair] = seen.get(pair, 0) + 1
    for index, pair in names.items():
        if seen[pair] > 1:
            names[index] = (pair[0], str(benchmarks[index].get("fullname", pair[1])))
    return names


def _session_ceilings(document: dict, source: Path | str) -> list[Measurement]:
    """The ceilings genzoo's suite measured once per session (``document["genzoo"]["ceilings"]``),
    as the same rows ``genzoo.harness.ops.ceiling_measurements`` makes."""
    measured = (document.get("genzoo") or {}).get("ceilings")
    if not measured:
        return []
    from genzoo.harness.ceilings import Ceilings  # imported here: only genzoo's own files need them
    from genzoo.harness.ops import ceiling_measurements

    try:
        return ceiling_measurements(Ceilings(**measured))
    except (TypeError, ValueError) as error:
        raise ResultsError(f"{source}: genzoo.harness.ceilings does not read as ceilings ({error})") from None


def _machine_fingerprint(document: dict) -> dict[str, object]:
    """The run's fingerprint: genzoo's (``document["genzoo"]["fingerprint"]``), else the columns
    pytest-benchmark's own ``machine_info`` and ``commit_info`` can fill."""
    session = (document.get("genzoo") or {}).get("fingerprint")
    if isinstance(session, dict):
        return session
    machine = document.get("machine_info") or {}
    if isinstance(machine.get("fingerprint"), dict):
        return machine["fingerprint"]
    commit = document.get("commit_info") or {}
    cpu = machine.get("cpu") or {}
    cpu_name = cpu.get("brand_raw") or machine.get("processor") or "unknown"
    return {
        "git_commit": commit.get("id", "unknown"),
        "git_dirty": commit.get("dirty"),
        "python": machine.get("python_version", ""),
        "device": "unknown",
        "device_name": cpu_name,
        "cpu_model": cpu_name,
        "cpu_count": cpu.get("count"),
        "hostname": machine.get("node", "unknown"),
    }
