"""Schema versions: a results directory written by schema version 1 (as the store wrote it before
``better``, knobs and kind "training") reads as current rows, and a newer file is refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from genzoo.harness import gate
from genzoo.measurement import Measurement
from genzoo.report import build_report
from genzoo.results import ResultsError, schema
from genzoo.results.store import RunDir, open_results

FINGERPRINT = {"hostname": "old-box", "device": "cpu", "device_name": "AMD EPYC", "git_commit": "546c148"}
REFERENCE = Path(__file__).parents[2] / "results" / "cpu-reference"


def _v1_row(kind, subject, backend, dtype, case, metric, value, unit="", **columns):
    """A row as version 1 wrote it: every column of its Measurement, none of version 2's."""
    empty = ("p20", "p80", "rounds", "throughput", "throughput_unit", "fraction_of_ceiling",
             "speedup_vs_eager", "speedup_vs_vendor", "error", "error_limit", "within_tolerance",
             "samples")
    key = dict(kind=kind, subject=subject, backend=backend, dtype=dtype, case=case, metric=metric)
    row = {**key, "value": value, "unit": unit, **dict.fromkeys(empty), "interpreted": False, "note": ""}
    return {**row, **columns, **FINGERPRINT}


V1_ROWS = [
    _v1_row("model", "gan", "eager", "float32", "seed=0", "train_seconds", 51.4, "s"),
    _v1_row("model", "gan", "eager", "float32", "seed=0", "test_d_loss_real", 0.32),
    _v1_row("sweep", "gan", "eager", "float32", "default", "images_per_s", 6973.0, "images/s",
            error=0.0, error_limit=0.1, within_tolerance=True),
    _v1_row("sweep", "gan", "eager", "bfloat16", "default", "images_per_s", 10993.0, "images/s",
            error=0.25, error_limit=0.1, within_tolerance=False, speedup_vs_eager=None),
    _v1_row("quality", "gan", "eager", "float32", "default", "fid", 8.84, samples=32),
    _v1_row("quality", "gan", "eager", "float32", "default", "kid_std", 0.07),
    _v1_row("quality", "gan", "eager", "float32", "seeds=3", "fid_seed_cv", 0.10),
]

V1_BENCHMARK = {
    "machine_info": {"node": "old-box"}, "commit_info": {"id": "546c148"}, "version": "5.3.1",
    "benchmarks": [{
        "group": "ddim_step", "name": "test_op[ddim_step-eager-float32-n=2^10]", "fullname": "bench/x.py::a",
        "params": {}, "stats": {"median": 2e-5, "q1": 1.9e-5, "q3": 2.1e-5, "rounds": 9},
        "extra_info": {"kind": "op", "subject": "ddim_step", "backend": "eager", "dtype": "float32",
                       "case": "n=2^10", "metric": "latency", "value": 2e-5, "unit": "s",
                       "within_tolerance": True, "interpreted": False},
    }, {
        "group": "copy", "name": "test_copy", "fullname": "bench/x.py::b", "params": {},
        "stats": {"median": 1e-3, "q1": 1e-3, "q3": 1e-3, "rounds": 3},
        "extra_info": {"kind": "ceiling", "subject": "copy", "backend": "-", "dtype": "float32",
                       "case": "large copy", "metric": "copy_bandwidth", "value": 31.4, "unit": "GB/s"},
    }],
    "genzoo": {"fingerprint": FINGERPRINT, "ceilings": None},
}


def write_v1_run(root: Path) -> Path:
    """A results directory exactly as version 1's store laid it out."""
    path = root / "old-run"
    (path / "rows").mkdir(parents=True)
    (path / "benchmarks").mkdir()
    manifest = {
        "created": "2026-11-25T19:34:04+00:00",
        "format": "genzoo-results",
        "run_id": "old-run",
        "version": 1,
    }
    (path / "manifest.json").write_text(json.dumps(manifest))
    (path / "fingerprint.json").write_text(json.dumps(FINGERPRINT))
    rows = {"format": "genzoo-rows", "version": 1, "stage": "sweep-gan", "rows": V1_ROWS}
    (path / "rows" / "sweep-gan.json").write_text(json.dumps(rows))
    (path / "benchmarks" / "ops.json").write_text(json.dumps(V1_BENCHMARK))
    return path


def test_version_1_rows_read_as_the_current_schema(tmp_path):
    table = open_results(write_v1_run(tmp_path)).set_index(["kind", "dtype", "metric"])
    # training runs were kind "model": the whole run (time, losses) is kind "training" now
    assert {"train_seconds", "test_d_loss_real"} <= set(
        table.loc["training"].index.get_level_values("metric")
    )
    assert "model" not in table.index.get_level_values("kind")
    # a sweep row's quality check moved out of the output-error columns
    outside = table.loc[("sweep", "bfloat16", "images_per_s")]
    assert (outside["quality_change"], outside["quality_window"], outside["within_quality_window"]) == (
        0.25,
        0.1,
        False,
    )
    assert pd.isna(outside["error"]) and pd.isna(outside["within_tolerance"])
    # directions from version 1's table; a metric with a target keeps none
    better = table["better"].droplevel("dtype").groupby(level=["kind", "metric"]).first()
    assert better[("quality", "fid")] == "lower" and better[("sweep", "images_per_s")] == "higher"
    assert better[("op", "latency")] == "lower" and better[("ceiling", "copy_bandwidth")] == "higher"
    assert better[("quality", "kid_std")] == ""


def test_the_gate_and_the_report_read_a_version_1_run(tmp_path):
    path = write_v1_run(tmp_path)
    table = open_results(path)
    reasons = gate.frame_exclusion(table)
    assert reasons[(table["kind"] == "sweep") & (table["dtype"] == "bfloat16")].tolist() == [
        "outside quality window"
    ]
    report = build_report([path])
    gan = next(t.frame for t in report.other_tables if t.title == "Family: gan").set_index(["dtype", "case"])
    assert gan.loc[("bfloat16", "default"), "images_per_s"] == "excluded (outside quality window)"


def test_the_store_writes_its_schema_version_and_a_resumed_old_run_mixes_versions(tmp_path):
    path = write_v1_run(tmp_path)
    run = RunDir.open(path)
    row = Measurement("training", "vae", "eager", "float32", "seed=0", "train_seconds", 52.6, "s",
                      better="lower", knobs=(("train_seed", 0),))
    written = run.write_rows("sweep-vae", [row])
    assert json.loads(written.read_text())["version"] == schema.VERSION
    manifest = RunDir.create(tmp_path, "new").path / "manifest.json"
    assert json.loads(manifest.read_text())["version"] == schema.VERSION
    table = run.load_table()
    assert set(table.loc[table["metric"] == "train_seconds", "subject"]) == {"gan", "vae"}
    assert set(table.loc[table["metric"] == "train_seconds", "kind"]) == {"training"}
    assert table.loc[table["subject"] == "vae", "knob_train_seed"].tolist() == [0]


@pytest.mark.parametrize("file", ["manifest.json", "rows/sweep-gan.json"])
@pytest.mark.parametrize("version, message", [
    (schema.VERSION + 1, f"schema version {schema.VERSION + 1}, written by a newer genzoo"),
    ("two", "schema version 'two' is not a version number"),
])
def test_a_newer_or_malformed_version_is_refused_naming_the_file(tmp_path, file, version, message):
    path = write_v1_run(tmp_path)
    document = json.loads((path / file).read_text())
    (path / file).write_text(json.dumps({**document, "version": version}))
    with pytest.raises(ResultsError, match=f"{file}: {message}"):
        open_results(path)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason="the committed reference run is absent")
def test_the_committed_reference_run_reads():
    table = open_results(REFERENCE)
    assert not table.empty and (table["better"] != "").any()
    assert not ((table["kind"] == "model") & (table["metric"] == "train_seconds")).any()
    # version 2: every sweep row that is not eager float32 carries its per-sample error against it
    sweeps = table[table["kind"] == "sweep"]
    swapped = sweeps[(sweeps["backend"] != "eager") | (sweeps["dtype"] != "float32")]
    assert not swapped.empty and swapped["error"].notna().all() and swapped["error_limit"].notna().all()
    assert sweeps.loc[(sweeps["backend"] == "eager") & (sweeps["dtype"] == "float32"), "error"].isna().all()
