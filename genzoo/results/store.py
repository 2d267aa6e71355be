"""One results directory per run, written so that a run stopped half-way keeps what it finished.

Layout of ``results/<run-id>/`` (the root is ``$GENZOO_RESULTS_DIR`` or ``./results``)::

    manifest.json          format tag, schema version, run id, creation time: what makes this a genzoo run
    fingerprint.json       the environment (genzoo.fingerprint.collect(...).as_flat_dict())
    benchmarks/<stage>.json  raw pytest-benchmark JSON, as pytest wrote it
    rows/<stage>.json      rows of a stage (sweeps, quality, training), with their schema version
    stages/<stage>.done    one marker per finished stage: ``genzoo run --resume`` skips these
    samples/               sample grids (<family>.png) and texts (<family>.txt) for the report
    measurements.csv       the tidy table of all of the above, rewritten after every write
    failures.json          stage -> why it failed, of the last run over this directory (distributed runs)
    tasks.json             a distributed run's task log: node, host, start and end of every task

Every file is written atomically (``genzoo.storage``), and each stage owns its own files, so
stages, or workers on several devices, never rewrite one another's. ``load_table`` reads the
stage files, not ``measurements.csv`` (an export for people and pandas). Unknown files inside
``benchmarks/`` and ``rows/``, and corrupt ones anywhere, raise ``ResultsError`` naming them.

Each file states its schema version (``genzoo.results.schema``): older rows are migrated as they
are read, so a results directory of an older genzoo still reports and compares; a newer one is
refused, naming the file, rather than misread.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from genzoo import storage
from genzoo.measurement import Measurement, to_frame
from genzoo.results import benchmark_json, schema
from genzoo.results.errors import ResultsError
from genzoo.results.table import PROVENANCE_COLUMNS, is_missing, typed_table

FORMAT = "genzoo-results"
ROWS_FORMAT = "genzoo-rows"
VERSION = schema.VERSION
_STAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=-]*$")


def default_root() -> Path:
    return Path(os.environ.get("GENZOO_RESULTS_DIR", "results"))


def new_run_id() -> str:
    """``20260512-141502-myhost``: sortable by time, telling machines apart."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    host = re.sub(r"[^A-Za-z0-9-]", "-", platform.node().split(".")[0]) or "host"
    return f"{stamp}-{host}"


class RunDir:
    """A results directory. ``create`` a new one, ``open`` an existing one (to resume or read)."""

    def __init__(self, path: Path, manifest: dict) -> None:
        self.path = Path(path)
        self.run_id = str(manifest.get("run_id", self.path.name))
        self.manifest = manifest

    @classmethod
    def create(
        cls, root: Path | None = None, run_id: str | None = None, fingerprint: dict | None = None
    ) -> RunDir:
        """A fresh ``root/run_id`` (defaults: ``default_root()``, ``new_run_id()``); an existing
        run of that name is an error: open it instead (``genzoo run --resume``)."""
        path = Path(root if root is not None else default_root()) / (run_id or new_run_id())
        if (path / "manifest.json").exists():
            raise ResultsError(
                f"{path}: a results directory already exists here; resume it or pick another run id"
            )
        if path.exists() and any(p for p in path.iterdir() if not p.name.startswith(".")):
            raise ResultsError(f"{path}: exists and is not empty; refusing to mix a new run into it")
        created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        manifest = {"format": FORMAT, "version": VERSION, "run_id": path.name, "created": created}
        storage.atomic_write_json(path / "manifest.json", manifest)
        run = cls(path, manifest)
        if fingerprint is not None:
            run.write_fingerprint(fingerprint)
        return run

    @classmethod
    def open(cls, path: Path) -> RunDir:
        path = Path(path)
        if not path.exists():
            raise ResultsError(f"{path}: no such results directory")
        if not path.is_dir():
            raise ResultsError(
                f"{path}: not a directory (a results directory or a pytest-benchmark JSON file was expected)"
            )
        manifest_path = path / "manifest.json"
        if not manifest_path.exists():
            raise ResultsError(
                f"{path}: not a genzoo results directory (no manifest.json); `genzoo run` makes them"
            )
        manifest = _read_json(manifest_path)
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ResultsError(f"{manifest_path}: not a genzoo results manifest (format is not {FORMAT!r})")
        schema.checked_version(manifest_path, manifest.get("version"))
        run = cls(path, manifest)
        run.fingerprint()  # a corrupt fingerprint is named now, not halfway through a resumed run
        return run

    # -- stages, for resuming ---------------------------------------------------------------

    def is_done(self, stage: str) -> bool:
        return self._marker(stage).exists()

    def mark_done(self, stage: str) -> None:
        finished = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        storage.atomic_write_text(self._marker(stage), finished + "\n")

    def finished_stages(self) -> list[str]:
        folder = self.path / "stages"
        return sorted(p.stem for p in folder.glob("*.done")) if folder.is_dir() else []

    def _marker(self, stage: str) -> Path:
        return self.path / "stages" / f"{_checked_stage(stage)}.done"

    # -- writing ----------------------------------------------------------------------------

    def write_fingerprint(self, fingerprint: dict) -> Path:
        return storage.atomic_write_json(self.path / "fingerprint.json", fingerprint)

    def fingerprint(self) -> dict:
        path = self.path / "fingerprint.json"
        if not path.exists():
            return {}
        found = _read_json(path)
        if not isinstance(found, dict):
            raise ResultsError(f"{path}: not a fingerprint (expected a JSON object)")
        return found

    def write_rows(
        self, stage: str, rows: Iterable[Measurement] | pd.DataFrame, fingerprint: dict | None = None
    ) -> Path:
        """Replace the rows of ``stage`` (call it again with all rows so far to extend a stage).
        Rows carry ``fingerprint`` (default: the run's) unless a DataFrame brings its own columns."""
        fingerprint = self.fingerprint() if fingerprint is None else fingerprint
        frame = rows.copy() if isinstance(rows, pd.DataFrame) else to_frame(list(rows))
        for column, value in fingerprint.items():
            if column not in frame.columns:
                frame[column] = value
        frame = frame.drop(columns=[c for c in PROVENANCE_COLUMNS if c in frame.columns])
        document = {"format": ROWS_FORMAT, "version": VERSION, "stage": stage, "rows": _records(frame)}
        path = storage.atomic_write_json(self.path / "rows" / f"{_checked_stage(stage)}.json", document)
        self.write_table()
        return path

    def add_benchmark_json(self, stage: str, source: Path) -> Path:
        """Keep the pytest-benchmark JSON at ``source`` as this run's ``stage`` (checked first)."""
        source = Path(source)
        benchmark_json.to_frame(benchmark_json.read(source), source=source)
        path = self.path / "benchmarks" / f"{_checked_stage(stage)}.json"
        storage.atomic_write_bytes(path, source.read_bytes())
        self.write_table()
        return path

    def write_sample(self, name: str, data: bytes | str) -> Path:
        """A sample for the report: ``<family>.png`` (a grid) or ``<family>.txt`` (generated text)."""
        payload = data.encode() if isinstance(data, str) else data
        return storage.atomic_write_bytes(self.samples_dir / name, payload)

    def write_table(self) -> Path:
        """Rewrite ``measurements.csv`` from the stage files. Every write calls it; processes
        writing stages of one run in parallel should call it once more when all are done."""
        table = self.load_table()
        return storage.atomic_write_text(self.path / "measurements.csv", table.to_csv(index=False))

    def write_failures(self, failures: dict[str, str]) -> Path:
        """The stages the last run left failed, with the reason (rewritten by every run, so a
        resumed run that finishes them leaves an empty record)."""
        return storage.atomic_write_json(self.path / "failures.json", dict(failures))

    def failures(self) -> dict[str, str]:
        path = self.path / "failures.json"
        return dict(_read_json(path)) if path.exists() else {}

    def write_task_log(self, records: list[dict]) -> Path:
        """A distributed run's tasks (one dict each: stage, node, host, start, end), this run's
        appended to those of the runs before it over the same directory."""
        return storage.atomic_write_json(self.path / "tasks.json", list(records))

    def task_log(self) -> list[dict]:
        path = self.path / "tasks.json"
        return list(_read_json(path)) if path.exists() else []

    # -- reading ----------------------------------------------------------------------------

    @property
    def samples_dir(self) -> Path:
        return self.path / "samples"

    def sample_files(self) -> list[Path]:
        if not self.samples_dir.is_dir():
            return []
        return sorted(p for p in self.samples_dir.iterdir() if p.suffix.lower() in (".png", ".txt"))

    def load_table(self, raw_times: bool = False) -> pd.DataFrame:
        """Every row of every stage, with ``run`` and ``stage`` columns (and, with ``raw_times``,
        the per-round times of benchmark rows for ``genzoo compare``)."""
        frames = []
        for path in self._stage_files("benchmarks"):
            frame = benchmark_json.load(path, raw_times=raw_times)
            frames.append(frame.assign(stage=path.stem))
        for path in self._stage_files("rows"):
            frames.append(_read_rows(path).assign(stage=path.stem))
        frames = [f for f in frames if not f.empty]
        if not frames:
            return typed_table(pd.DataFrame()).assign(run=self.run_id, stage="")
        return pd.concat(frames, ignore_index=True).assign(run=self.run_id)

    def _stage_files(self, folder: str) -> list[Path]:
        directory = self.path / folder
        if not directory.is_dir():
            return []
        files = []
        for path in sorted(directory.iterdir()):
            if path.name.startswith("."):  # an interrupted atomic write's leftover
                continue
            if path.suffix != ".json" or not path.is_file():
                raise ResultsError(
                    f"{path}: foreign file in a genzoo results directory "
                    f"(only <stage>.json belongs in {folder}/)"
                )
            files.append(path)
        return files


def open_results(path: Path, raw_times: bool = False) -> pd.DataFrame:
    """The table at ``path``: a results directory or a pytest-benchmark JSON file (any project's)."""
    path = Path(path)
    if path.is_dir() or not path.exists():
        return RunDir.open(path).load_table(raw_times=raw_times)
    if path.suffix.lower() != ".json":
        raise ResultsError(f"{path}: neither a results directory nor a pytest-benchmark .json file")
    return benchmark_json.load(path, raw_times=raw_times).assign(run=path.stem, stage=path.stem)


def merge_results(paths: Sequence[Path], raw_times: bool = False) -> pd.DataFrame:
    """One table from several results directories and pytest-benchmark JSON files (the runs of
    several machines, or the shards of one): each row keeps its machine's fingerprint columns and
    ``machine``, and its ``run`` (``run_labels``)."""
    labels = run_labels(paths)
    frames = [open_results(path, raw_times=raw_times).assign(run=label) for path, label in zip(paths, labels)]
    frames = [frame for frame in frames if not frame.empty] or frames[:1]
    return typed_table(pd.concat(frames, ignore_index=True)) if frames else typed_table(pd.DataFrame())


def run_labels(paths: Sequence[Path]) -> list[str]:
    """A distinct name per source: the run id of a results directory, the stem of a JSON file,
    with " (2)", " (3)" ... where two sources share one."""
    labels: list[str] = []
    for path in map(Path, paths):
        base = RunDir.open(path).run_id if path.is_dir() else path.stem
        label, index = base, 2
        while label in labels:
            label, index = f"{base} ({index})", index + 1
        labels.append(label)
    return labels


def _checked_stage(stage: str) -> str:
    if not _STAGE_NAME.match(stage):
        raise ValueError(f"stage name must be letters, digits and _.=- (it names a file), got {stage!r}")
    return stage


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ResultsError(f"{path}: corrupt or unreadable JSON ({error})") from None


def _read_rows(path: Path) -> pd.DataFrame:
    document = _read_json(path)
    rows_file = isinstance(document, dict) and document.get("format") == ROWS_FORMAT
    if not rows_file or not isinstance(document.get("rows"), list):
        raise ResultsError(f"{path}: not a genzoo rows file (format is not {ROWS_FORMAT!r})")
    version = schema.checked_version(path, document.get("version"))
    frame = schema.upgrade(pd.DataFrame.from_records(document["rows"]), version)
    required = ("kind", "subject", "metric", "value")
    missing = [c for c in required if not frame.empty and c not in frame.columns]
    if missing:
        raise ResultsError(f"{path}: rows lack the columns {missing}")
    try:
        return typed_table(frame)
    except (TypeError, ValueError) as error:
        raise ResultsError(f"{path}: rows do not read as measurements ({error})") from None


def _records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready rows: numpy scalars as Python ones, NaN and NA as null."""
    records = []
    for record in frame.astype(object).to_dict("records"):
        records.append({k: _plain(v) for k, v in record.items()})
    return records


def _plain(value: object) -> object:
    return None if is_missing(value) else value.item() if hasattr(value, "item") else value
