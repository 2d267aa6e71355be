"""The speed goals: each names a point the GPU grid really runs, and a results table reads as
met / missed / no speed figure / not measured."""

from __future__ import annotations

from genzoo.harness import goals
from genzoo.harness import ops as op_benchmark
from genzoo.measurement import Measurement, to_frame
from genzoo.report import goal_tables
from genzoo.results import typed_table


def test_every_goal_is_a_point_of_the_gpu_grid_and_the_goal_run_takes_only_those():
    points = op_benchmark.op_points("cuda", goals_only=True)
    ran = {p.baseline_key for p in points}
    assert ran == goals.goal_points()
    for goal in goals.GOALS:  # the backend a goal reads, and the baselines it is compared with
        backends = {p.backend for p in points if p.baseline_key == goal.point()}
        assert {goal.backend, "eager"} <= backends
        assert goal.column != "speedup_vs_vendor" or "sdpa" in backends
    assert not op_benchmark.op_points("cpu", goals_only=True), "the goals are read on the GPU grid"


def _row(op, case, backend, dtype="bfloat16", **columns):
    return Measurement("op", op, backend, dtype, case, "latency", 1e-3, "s", **columns)


def test_a_results_table_reads_as_met_missed_and_not_measured():
    rows = [
        _row(
            "attention",
            "B2 H16 N8192 D128",
            "triton",
            throughput=600.0,
            speedup_vs_vendor=0.9,
            within_tolerance=True,
        ),
        _row("attention", "B2 H16 N8192 D128 causal", "triton", throughput=None, within_tolerance=False),
        _row("ddim_step", "n=2^26", "triton", "float32", fraction_of_ceiling=0.93, speedup_vs_eager=4.5),
    ]
    frame = typed_table(to_frame(rows, {"hostname": "h", "device_name": "NVIDIA H100"}))
    verdicts = goals.evaluate(frame).set_index("goal")["status"]
    assert verdicts["attention forward: >= 550 TFLOP/s"] == "met"
    assert verdicts["attention forward: >= 1.0x sdpa"] == "missed"
    assert verdicts["causal attention forward: >= 450 TFLOP/s"].startswith("no speed figure")
    assert verdicts["ddim_step at 2^26: >= 90% of copy bandwidth"] == "met"
    assert verdicts["ddim_step at 2^26: >= 4x eager"] == "met"
    assert verdicts["ddpm_step at 2^26: >= 4x eager"] == "not measured"
    (table,) = goal_tables(frame)
    assert table.title == "Speed goals" and "600" in set(table.frame["measured"])


def test_no_goal_table_when_no_goal_point_ran():
    frame = typed_table(to_frame([_row("ddim_step", "n=2^10", "eager", "float32")], {"hostname": "h"}))
    assert goal_tables(frame) == []


def test_asking_for_the_goals_without_a_gpu_says_why(capsys):
    import pytest

    from genzoo.cli import main

    with pytest.raises(SystemExit, match="no CUDA device"):
        main(["bench", "--goals", "--device", "cpu"])


def test_run_refuses_the_goals_without_a_gpu_before_it_creates_a_results_directory(tmp_path):
    import pytest

    from genzoo.cli import main

    with pytest.raises(SystemExit, match="no CUDA device"):
        main(["run", "--results", str(tmp_path), "--ops-only", "--goals", "--device", "cpu"])
    assert not list(tmp_path.iterdir())
