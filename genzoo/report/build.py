"""A report from runs: read and merge their tables, build every part (findings and claims,
tables, plots, samples, environment), and write it as Markdown and self-contained HTML."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

from genzoo import storage
from genzoo.report import findings, html, markdown, plots, tables
from genzoo.report.drawing import Figure
from genzoo.report.tables import Table
from genzoo.results.store import RunDir, merge_results, run_labels


@dataclasses.dataclass(frozen=True)
class Sample:
    title: str  # the family's name, or "run-id: <family>" when several runs are merged
    path: Path  # in its results directory: <family>.png or <family>.txt

    @property
    def is_image(self) -> bool:
        return self.path.suffix.lower() == ".png"


@dataclasses.dataclass(frozen=True)
class Report:
    sources: tuple[str, ...]
    answer: list[Table]  # the claims' verdicts and each family's best point: what the report leads with
    answer_figures: list[Figure]  # the cross-family trade-off, shown with them
    findings: list[str]
    op_tables: list[Table]
    other_tables: list[Table]  # goals, ceilings, then one per model family
    figures: list[Figure]
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
    for figure in [*report.answer_figures, *report.figures]:
        if figure.png is not None:
            figure_paths[figure.name] = storage.atomic_write_bytes(
                out_dir / "plots" / f"{figure.name}.png", figure.png
            )
    sample_paths = {}
    for index, sample in enumerate(report.samples):
        target = out_dir / "samples" / f"{index:02d}-{sample.path.name}"
        storage.atomic_write_bytes(target, sample.path.read_bytes())
        sample_paths[sample.path] = target.relative_to(out_dir)
    relative = {name: path.relative_to(out_dir) for name, path in figure_paths.items()}
    markdown_path = storage.atomic_write_text(
        out_dir / "report.md", markdown.render(report, relative, sample_paths)
    )
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
            samples += [
                Sample(f"{run}: {p.stem}" if len(sources) > 1 else p.stem, p)
                for p in directory.sample_files()
            ]
    other_tables = [
        *tables.goal_tables(frame),
        *tables.ceiling_tables(frame),
        *tables.family_tables(frame),
    ]
    answer_figure, *figures = plots.all_figures(frame)
    return Report(
        sources=tuple(str(s) for s in sources),
        answer_figures=[answer_figure],
        answer=[*tables.claim_tables(frame), *tables.cross_family_tables(frame), *tables.cost_tables(frame)],
        findings=findings.findings(frame),
        op_tables=tables.op_tables(frame),
        other_tables=other_tables,
        figures=figures,
        samples=samples,
        environment=tables.environment_table(frame, fingerprints),
    )
