"""pytest-benchmark JSON as measurement rows: genzoo's own, another project's, and a real file
written by pytest-benchmark itself."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from genzoo.results import ResultsError
from genzoo.results.benchmark_json import load, to_frame


def test_genzoo_extra_info_becomes_the_row(benchmark_document):
    frame = to_frame(benchmark_document, raw_times=True)
    triton = frame[frame["backend"] == "triton"].iloc[0]
    assert (triton["kind"], triton["subject"], triton["dtype"], triton["case"]) == (
        "op",
        "ddim_step",
        "float32",
        "n=2^20",
    )
    assert triton["speedup_vs_eager"] == 2.0 and triton["within_tolerance"]
    data = np.array(benchmark_document["benchmarks"][1]["stats"]["data"])
    assert triton["value"] == pytest.approx(np.median(data))
    assert triton["p20"] == pytest.approx(np.quantile(data, 0.2))  # from the raw rounds, not the quartiles
    assert triton["p80"] == pytest.approx(np.quantile(data, 0.8))
    assert len(triton["raw_times"]) == 30
    assert triton["hostname"] == "gpu-box" and triton["device_name"] == "GPU A"


def test_without_raw_data_the_quartiles_or_extra_info_give_the_spread(benchmark_document):
    for benchmark in benchmark_document["benchmarks"]:
        del benchmark["stats"]["data"]
        del benchmark["extra_info"]["p20"]
    frame = to_frame(benchmark_document, raw_times=True)
    assert list(frame["p20"]) == [b["stats"]["q1"] for b in benchmark_document["benchmarks"]]
    assert list(frame["p80"]) == [b["extra_info"]["p80"] for b in benchmark_document["benchmarks"]]
    assert frame["raw_times"].isna().all()


def test_a_non_latency_genzoo_row_keeps_its_own_value(benchmark_document):
    benchmark = benchmark_document["benchmarks"][0]
    benchmark["extra_info"].update(
        kind="ceiling", subject="copy", metric="copy_bandwidth", value=912.0, unit="GB/s"
    )
    row = to_frame(benchmark_document).iloc[0]
    assert (row["kind"], row["metric"], row["value"], row["unit"]) == (
        "ceiling",
        "copy_bandwidth",
        912.0,
        "GB/s",
    )


def test_a_broken_benchmark_is_named(tmp_path, benchmark_document):
    del benchmark_document["benchmarks"][1]["stats"]["median"]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(benchmark_document))
    with pytest.raises(
        ResultsError, match=r"broken.json: benchmark bench/test_ops.py::test_op\[ddim_step-triton.*median"
    ):
        load(path)
    benchmark_document["benchmarks"][0]["extra_info"]["kind"] = "banana"
    with pytest.raises(ResultsError, match="Measurement.kind must be one of"):
        to_frame(benchmark_document)


FOREIGN_SUITE = """
import pytest

@pytest.mark.benchmark(group="sorting")
@pytest.mark.parametrize("n", [10, 100])
def test_sort(benchmark, n):
    benchmark(sorted, list(range(n, 0, -1)))

def test_join(benchmark):
    benchmark(",".join, ["a"] * 10)

def test_join_tagged(benchmark):
    benchmark.extra_info["note"] = "a free-form tag, not genzoo's"
    benchmark(",".join, ["b"] * 10)
"""


def test_json_written_by_pytest_benchmark_for_another_project(tmp_path):
    (tmp_path / "test_other.py").write_text(textwrap.dedent(FOREIGN_SUITE))
    out = tmp_path / "other.json"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", str(tmp_path / "test_other.py"),
               "--rootdir", str(tmp_path), "--benchmark-only", f"--benchmark-json={out}", "--benchmark-save-data",
               "--benchmark-min-rounds=3", "--benchmark-max-time=0.0005", "--benchmark-warmup=off"]
    # pytest-benchmark switches itself off inside an xdist worker, which it detects by this variable
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    subprocess.run(command, cwd=tmp_path, env=environment, check=True, capture_output=True, timeout=120)
    frame = load(out, raw_times=True).set_index("case")
    assert (
        set(frame["kind"]) == {"op"} and set(frame["metric"]) == {"latency"} and set(frame["unit"]) == {"s"}
    )
    assert frame.loc["test_sort[10]", "subject"] == "sorting"  # the group, the test name telling cases apart
    assert set(frame.loc["-", "subject"]) == {"test_join", "test_join_tagged"}  # no group, no params
    assert (frame["value"] > 0).all() and frame["raw_times"].map(len).ge(3).all()
    assert frame["hostname"].notna().all() and frame["device_name"].notna().all()


def test_the_session_fingerprint_and_ceilings_of_genzoos_suite(benchmark_document):
    for benchmark in benchmark_document["benchmarks"]:
        del benchmark["extra_info"]["fingerprint"]
    benchmark_document["genzoo"] = {
        "fingerprint": {"hostname": "gpu-box-2", "device": "cuda", "device_name": "GPU B"},
        "ceilings": {
            "device": "cuda",
            "copy_gbps": 3000.0,
            "matmul_tflops": {"float32": 50.0, "bfloat16": 700.0},
        },
    }
    frame = to_frame(benchmark_document)
    assert set(frame["machine"]) == {"gpu-box-2 / GPU B"}
    ceilings = frame[frame["kind"] == "ceiling"].set_index("metric")["value"]
    assert ceilings.to_dict() == {"copy_bandwidth": 3000.0, "matmul_float32": 50.0, "matmul_bfloat16": 700.0}
