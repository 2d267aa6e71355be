"""Results directories: round trips, resuming, atomic leftovers, and clear errors naming the file."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from genzoo.measurement import Measurement
from genzoo.results import ResultsError
from genzoo.results.store import RunDir, open_results

FINGERPRINT = {
    "hostname": "box-a",
    "device": "cuda",
    "device_name": "GPU A",
    "git_commit": "abc",
    "git_dirty": False,
}


def rows(backend="triton"):
    return [
        Measurement("op", "ddim_step", backend, "bfloat16", "n=2^20", "latency", 1.5e-4, "s", p20=1.4e-4, p80=1.6e-4,
                    rounds=40, throughput=812.5, throughput_unit="GB/s", speedup_vs_eager=1.7, error=2e-3,
                    error_limit=1e-2, within_tolerance=True),
        Measurement("op", "ddim_step", "compile", "bfloat16", "n=2^20", "latency", 2e-4, "s", within_tolerance=False),
        Measurement("quality", "diffusion", "eager", "float32", "ddim steps=50 w=3", "fid", 21.5, "", samples=500),
        Measurement("op", "attention", "triton", "float32", "B2 H4", "latency", 3e-3, "s", interpreted=True),
    ]


def test_rows_round_trip_with_their_types_and_the_fingerprint(tmp_path):
    run = RunDir.create(tmp_path, "r1", FINGERPRINT)
    run.write_rows("ops", rows())
    table = RunDir.open(tmp_path / "r1").load_table()
    assert len(table) == 4
    first = table.iloc[0]
    assert first["value"] == 1.5e-4 and first["rounds"] == 40 and first["throughput_unit"] == "GB/s"
    assert list(table["within_tolerance"].astype(object)) == [True, False, pd.NA, pd.NA]
    assert list(table["interpreted"]) == [False, False, False, True]
    assert pd.isna(table.loc[1, "speedup_vs_eager"]) and table.loc[2, "samples"] == 500
    assert set(table["hostname"]) == {"box-a"} and set(table["machine"]) == {"box-a / GPU A"}
    assert set(table["run"]) == {"r1"} and set(table["stage"]) == {"ops"}


def test_the_tidy_csv_holds_every_row(tmp_path):
    run = RunDir.create(tmp_path, "r1", FINGERPRINT)
    run.write_rows("ops", rows())
    run.write_rows("sweeps", rows("eager")[:1])
    csv = pd.read_csv(run.path / "measurements.csv")
    assert len(csv) == 5 and {"kind", "subject", "value", "hostname", "stage"} <= set(csv.columns)


def test_write_rows_replaces_a_stage_and_a_stage_may_bring_its_own_fingerprint(tmp_path):
    run = RunDir.create(tmp_path, "r1", FINGERPRINT)
    run.write_rows("ops-gpu1", rows())
    run.write_rows("ops-gpu1", rows()[:2], fingerprint={**FINGERPRINT, "device_name": "GPU B"})
    table = run.load_table()
    assert len(table) == 2 and set(table["device_name"]) == {"GPU B"}


def test_resume_skips_finished_stages_and_ignores_interrupted_writes(tmp_path):
    run = RunDir.create(tmp_path, "r1", FINGERPRINT)
    run.write_rows("ceilings", rows()[:1])
    run.mark_done("ceilings")
    # killed while writing the next stage: only the temporary file of the atomic write remains
    (run.path / "rows" / ".ops.json.abc.partial").write_text('{"format": "genzoo-ro')
    resumed = RunDir.open(run.path)
    assert resumed.is_done("ceilings") and not resumed.is_done("ops")
    assert resumed.finished_stages() == ["ceilings"]
    assert len(resumed.load_table()) == 1
    resumed.write_rows("ops", rows())
    resumed.mark_done("ops")
    assert resumed.finished_stages() == ["ceilings", "ops"] and len(resumed.load_table()) == 5


def test_benchmark_json_is_kept_raw_and_read_into_the_table(tmp_path, benchmark_document):
    source = tmp_path / "bench.json"
    source.write_text(json.dumps(benchmark_document))
    run = RunDir.create(tmp_path / "results", "r1", FINGERPRINT)
    kept = run.add_benchmark_json("ops", source)
    assert kept.read_bytes() == source.read_bytes()
    table = run.load_table(raw_times=True)
    assert len(table) == len(benchmark_document["benchmarks"])
    assert all(len(times) > 1 for times in table["raw_times"])


def test_samples_are_listed(tmp_path):
    run = RunDir.create(tmp_path, "r1")
    run.write_sample("llm.txt", "hello")
    run.write_sample("diffusion.png", b"\x89PNG")
    assert [p.name for p in run.sample_files()] == ["diffusion.png", "llm.txt"]


def test_create_refuses_an_existing_run(tmp_path):
    RunDir.create(tmp_path, "r1")
    with pytest.raises(ResultsError, match="already exists"):
        RunDir.create(tmp_path, "r1")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(ResultsError, match="not empty"):
        RunDir.create(tmp_path, "other")


def test_stage_names_must_be_file_names(tmp_path):
    run = RunDir.create(tmp_path, "r1")
    with pytest.raises(ValueError, match="stage name"):
        run.mark_done("../escape")


@pytest.mark.parametrize(
    "plant, message",
    [
        (lambda p: (p / "manifest.json").write_text("{not json"), "manifest.json: corrupt or unreadable JSON"),
        (lambda p: (p / "manifest.json").write_text('{"format": "other"}'), "manifest.json: not a genzoo results manifest"),
        (lambda p: (p / "rows" / "ops.json").write_text("[1, 2"), "ops.json: corrupt or unreadable JSON"),
        (lambda p: (p / "rows" / "ops.json").write_text('{"rows": []}'), "ops.json: not a genzoo rows file"),
        (lambda p: (p / "rows" / "notes.csv").write_text("a,b"), "notes.csv: foreign file in a genzoo results directory"),
        (lambda p: (p / "benchmarks").mkdir() or (p / "benchmarks" / "x.json").write_text("{}"), "x.json: not a pytest-benchmark JSON"),
        (lambda p: (p / "fingerprint.json").write_text("[]"), "fingerprint.json: not a fingerprint"),
    ],
    ids=["corrupt-manifest", "foreign-manifest", "corrupt-rows", "foreign-rows", "foreign-file", "foreign-benchmark", "bad-fingerprint"],
)
def test_corrupt_or_foreign_files_are_named(tmp_path, plant, message):
    run = RunDir.create(tmp_path, "r1")
    run.write_rows("ceilings", rows()[:1])
    plant(run.path)
    with pytest.raises(ResultsError, match=message):
        RunDir.open(run.path).load_table()


def test_rows_of_a_wrong_type_are_named(tmp_path):
    run = RunDir.create(tmp_path, "r1")
    (run.path / "rows").mkdir()
    document = {"format": "genzoo-rows", "rows": [{"kind": "op", "subject": "x", "metric": "latency", "value": 1.0,
                                                    "within_tolerance": "perhaps"}]}
    (run.path / "rows" / "ops.json").write_text(json.dumps(document))
    with pytest.raises(ResultsError, match="ops.json: rows do not read as measurements"):
        run.load_table()


def test_open_results_names_what_it_cannot_read(tmp_path):
    with pytest.raises(ResultsError, match="no such results directory"):
        open_results(tmp_path / "absent")
    (tmp_path / "plain").mkdir()
    with pytest.raises(ResultsError, match="plain: not a genzoo results directory"):
        open_results(tmp_path / "plain")
    (tmp_path / "table.csv").write_text("a,b")
    with pytest.raises(ResultsError, match="table.csv: neither a results directory"):
        open_results(tmp_path / "table.csv")


def test_results_of_two_machines_merge_into_one_table(tmp_path, benchmark_document):
    from genzoo.results.store import merge_results

    run = RunDir.create(tmp_path / "results", "r1", FINGERPRINT)
    run.write_rows("ops", rows())
    other = tmp_path / "r1.json"  # same name as the run: the labels must still differ
    for benchmark in benchmark_document["benchmarks"]:
        benchmark["extra_info"]["fingerprint"] = {
            "hostname": "box-b",
            "device_name": "GPU B",
            "device": "cuda",
        }
    other.write_text(json.dumps(benchmark_document))
    table = merge_results([run.path, other])
    assert len(table) == 6
    assert table.groupby("run")["machine"].unique().map(list).to_dict() == {
        "r1": ["box-a / GPU A"], "r1 (2)": ["box-b / GPU B"],
    }
