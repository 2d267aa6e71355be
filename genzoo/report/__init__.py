"""``genzoo report``: one or more runs as a Markdown file and a self-contained HTML page.

``write_report(sources, out_dir)`` reads results directories (or pytest-benchmark JSON files),
merges their tables (each row keeps its machine), and writes ``report.md`` (with ``plots/*.png``
and ``samples/`` beside it) and ``report.html`` (everything embedded, base64 PNG). The content:
findings, one table per op, the ceilings, one table per model family, the plots of
``genzoo.report.plots``, the sample grids and texts found in ``samples/``, and the environment.

A row outside its tolerance, or interpreted, shows "excluded" where a speedup would be, and no
throughput: it says nothing about speed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from genzoo import goals, storage
from genzoo.kernels.registry import VENDOR_BACKENDS
from genzoo.report import claims, findings, html, markdown, plots
from genzoo.results import MEASUREMENT_COLUMNS, PROVENANCE_COLUMNS, format_value, is_speed_metric
from genzoo.results.store import RunDir, merge_results, run_labels


@dataclasses.dataclass(frozen=True)
class Table:
    title: str
    frame: pd.DataFrame  # every cell a display string
    note: str = ""


@dataclasses.dataclass(frozen=True)
class Sample:
    title: str  # "diffusion" or "run-id: diffusion"
    path: Path  # in its results directory: <family>.png or llm.txt

    @property
    def is_image(self) -> bool:
        return self.path.suffix.lower() == ".png"


@dataclasses.dataclass(frozen=True)
class Report:
    sources: tuple[str, ...]
    findings: list[str]
    op_tables: list[Table]
    other_tables: list[Table]  # ceilings, then one per model family
    figures: list[plots.Figure]
    samples: list[Sample]
    environment: Table


@dataclasses.dataclass(frozen=True)
class ReportFiles:
    markdown: Path
    html: Path
    figures: list[Path]


def write_report(sources: Sequence[Path], out_dir: Path) -> ReportFiles:
    """Read ``sources`` (results directories or pytest-benchmark JSON files) and write the report
    into ``out_dir``; raises ``ResultsError`` naming any source that cannot be read."""
    return save_report(build_report(sources), out_dir)


def save_report(report: Report, out_dir: Path) -> ReportFiles:
    """Write a built report: ``report.md`` with ``plots/`` and ``samples/``, and ``report.html``."""
    out_dir = Path(out_dir)
    figure_paths = {}
    for figure in report.figures:
        if figure.png is not None:
            figure_paths[figure.name] = storage.atomic_write_bytes(out_dir / "plots" / f"{figure.name}.png", figure.png)
    sample_paths = {}
    for index, sample in enumerate(report.samples):
        target = out_dir / "samples" / f"{index:02d}-{sample.path.name}"
        storage.atomic_write_bytes(target, sample.path.read_bytes())
        sample_paths[sample.path] = target.relative_to(out_dir)
    relative = {name: path.relative_to(out_dir) for name, path in figure_paths.items()}
    markdown_path = storage.atomic_write_text(out_dir / "report.md", markdown.render(report, relative, sample_paths))
    html_path = storage.atomic_write_text(out_dir / "report.html", html.render(report))
    return ReportFiles(markdown_path, html_path, list(figure_paths.values()))


def build_report(sources: Sequence[Path]) -> Report:
    if not sources:
        raise ValueError("a report needs at least one results directory or pytest-benchmark JSON file")
    frame = merge_results(sources)
    samples, fingerprints = [], {}
    for path, run in zip(map(Path, sources), run_labels(sources)):
        fingerprints[run] = {}
        if path.is_dir():
            directory = RunDir.open(path)
            fingerprints[run] = directory.fingerprint()
            samples += [Sample(f"{run}: {p.stem}" if len(sources) > 1 else p.stem, p) for p in directory.sample_files()]
    return Report(
        sources=tuple(str(s) for s in sources),
        findings=[*findings.findings(frame), *claims.claims(frame)],
        op_tables=op_tables(frame),
        other_tables=[*goal_tables(frame), *ceiling_tables(frame), *cross_family_tables(frame), *family_tables(frame)],
        figures=plots.all_figures(frame),
        samples=samples,
        environment=environment_table(frame, fingerprints),
    )


def _origin(frame: pd.DataFrame) -> str | None:
    """The column that tells rows of several machines (or else several runs) apart, if any."""
    if frame["machine"].nunique() > 1:
        return "machine"
    if "run" in frame and frame["run"].nunique() > 1:
        return "run"
    return None


def op_tables(frame: pd.DataFrame) -> list[Table]:
    """One table per op: time with its p20-p80 spread, throughput, fraction of the ceiling,
    speedup over eager (or why it is excluded), error against the float64 reference."""
    rows = findings.op_latency_rows(frame)
    origin = _origin(frame)
    tables = []
    for op, group in rows.groupby("subject", sort=True):
        group = group.assign(_eager=group["backend"] != "eager").sort_values(["dtype", "_eager", "backend"], kind="stable")
        display = {"backend": group["backend"], "dtype": group["dtype"], "case": group["case"]}
        if origin:
            display[origin] = group[origin]
        display["time (p20-p80)"] = [_time(r.value, r.p20, r.p80) for r in group.itertuples()]
        display["throughput"] = [
            "-" if r.excluded else format_value(r.throughput, r.throughput_unit) for r in group.itertuples()
        ]
        display["of ceiling"] = ["-" if r.excluded or pd.isna(r.fraction_of_ceiling) else f"{r.fraction_of_ceiling:.0%}" for r in group.itertuples()]
        display["speedup vs eager"] = [_speedup(r) for r in group.itertuples()]
        vendor = next((b for b in VENDOR_BACKENDS if (group["backend"] == b).any()), None)
        if vendor:
            display[f"speedup vs {vendor}"] = [_speedup_vs_vendor(r, vendor) for r in group.itertuples()]
        display["error (limit)"] = [_error(r.error, r.error_limit, r.within_tolerance) for r in group.itertuples()]
        excluded = int((group["excluded"] != "").sum())
        note = f"{excluded} variant(s) excluded from speed claims (outside tolerance or interpreted)." if excluded else ""
        tables.append(Table(op, pd.DataFrame(display).astype(str).reset_index(drop=True), note))
    return tables


def goal_tables(frame: pd.DataFrame) -> list[Table]:
    """The issues' speed goals read off the rows (``genzoo.goals``), when any goal point ran."""
    verdicts = goals.evaluate(frame)
    if (verdicts["status"] == "not measured").all():
        return []
    display = verdicts.assign(
        target=verdicts["target"].map(lambda v: f"{v:g}"),
        measured=verdicts["measured"].map(lambda v: "-" if pd.isna(v) else f"{v:.3g}"),
    )
    if display["machine"].nunique() <= 1:
        display = display.drop(columns="machine")
    note = "Goals set for an H100 (issues 2 and 3); a point outside its tolerance is never met."
    return [Table("Speed goals", display.astype(str).reset_index(drop=True), note)]


def ceiling_tables(frame: pd.DataFrame) -> list[Table]:
    rows = frame[frame["kind"] == "ceiling"]
    if rows.empty:
        return []
    origin = _origin(frame)
    display = {"ceiling": rows["metric"], "dtype": rows["dtype"], "case": rows["case"]}
    if origin:
        display[origin] = rows[origin]
    display["measured"] = [format_value(v, u) for v, u in zip(rows["value"], rows["unit"])]
    return [Table("Measured ceilings", pd.DataFrame(display).astype(str).reset_index(drop=True))]


def cross_family_tables(frame: pd.DataFrame) -> list[Table]:
    best = claims.cross_family_table(frame)
    if best.empty:
        return []
    shown = best.map(lambda v: f"{v:.4g}" if isinstance(v, float) else v).fillna("-")
    return [Table("Cross-family: each family's best-quality point (eager, float32)", shown.astype(str))]


def family_tables(frame: pd.DataFrame) -> list[Table]:
    """One table per model family: a line per (backend, dtype, case), a column per metric."""
    rows = findings.model_rows(frame)
    origin = _origin(frame)
    index = ["backend", "dtype", "case", *([origin] if origin else [])]
    tables = []
    for family, group in rows.groupby("subject", sort=True):
        cells = [
            f"excluded ({r.excluded})" if r.excluded and is_speed_metric(r.metric, r.unit) else _with_spread(r)
            for r in group.itertuples()
        ]
        wide = group.assign(cell=cells).pivot_table(index=index, columns="metric", values="cell", aggfunc="first", sort=False)
        wide = wide.reset_index().fillna("-")
        wide.columns.name = None
        excluded = int((group["excluded"] != "").sum())
        note = f"{excluded} row(s) excluded from speed claims (outside tolerance or interpreted)." if excluded else ""
        tables.append(Table(f"Family: {family}", wide.astype(str), note))
    return tables


def environment_table(frame: pd.DataFrame, fingerprints: dict[str, dict]) -> Table:
    """One column per run and machine, one line per fingerprint field."""
    skip = set(MEASUREMENT_COLUMNS) | set(PROVENANCE_COLUMNS) | {"excluded"}
    fields = [c for c in frame.columns if c not in skip]
    columns: dict[str, dict] = {}
    for (run, machine), group in frame.groupby(["run", "machine"], sort=True):
        columns[f"{run} | {machine}"] = {f: _first(group[f]) for f in fields}
    for run, fingerprint in fingerprints.items():
        if fingerprint and not any(name.startswith(f"{run} | ") for name in columns):
            columns[run] = fingerprint
    table = pd.DataFrame(columns).fillna("").astype(str)
    table = table[(table != "").any(axis=1)]
    return Table("Environment", table.rename_axis("field").reset_index())


def _first(column: pd.Series) -> object:
    present = column.dropna()
    return present.iloc[0] if not present.empty else None


def _time(value: float, p20: float, p80: float) -> str:
    if pd.isna(p20) or pd.isna(p80) or p20 == p80:
        return format_value(value, "s")
    return f"{format_value(value, 's')} ({format_value(p20, 's')}-{format_value(p80, 's')})"


def _speedup(row) -> str:
    if row.excluded:
        return f"excluded ({row.excluded})"
    if row.backend == "eager":
        return "baseline"
    return "-" if pd.isna(row.speedup_vs_eager) else f"{row.speedup_vs_eager:.2f}x"


def _speedup_vs_vendor(row, vendor: str) -> str:
    if row.excluded:
        return "-"
    if row.backend == vendor:
        return "baseline"
    return "-" if pd.isna(row.speedup_vs_vendor) else f"{row.speedup_vs_vendor:.2f}x"


def _error(error: float, limit: float, within: object) -> str:
    if pd.isna(error):
        return "-"
    if pd.isna(limit):
        return f"{error:.2g}"
    if not pd.isna(within) and not within:
        return f"{error:.2g} > {limit:.2g} FAIL"
    return f"{error:.2g} <= {limit:.2g}"


def _with_spread(row) -> str:
    text = format_value(row.value, row.unit)
    if pd.notna(row.p20) and pd.notna(row.p80) and row.p20 != row.p80:
        text += f" ({row.p20:.3g}-{row.p80:.3g})"
    return text

