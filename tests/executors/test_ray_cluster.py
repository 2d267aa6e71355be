"""``genzoo run --executor ray`` on a local two-node cluster: the tiny preset's training, sweep
and op benchmark spread over both nodes, the same quality as the local executor, one timed task
per node at a time, and a node that dies mid-run."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pandas as pd
import torch

from genzoo.cli import main
from genzoo.models import checkpoint, protocol
from genzoo.results import benchmark_json
from genzoo.results.store import RunDir

# vae: the quickest family to train and sweep; one op shard: the quick ddim_step point in fp32
TINY = ["--preset", "tiny", "--backends", "eager"]
ONE_OP = ["--quick", "-k", "ddim_step and float32 and eager"]
SAME_WHATEVER_THE_EXECUTOR = ["quality", "training"]  # kinds of rows that are not timings
RUNNING_STAGE = re.compile(r"^ray::(train|sweep|ops)-")


def ray_run(cluster, *arguments: str) -> int:
    return main(["run", "--executor", "ray", "--ray-address", cluster.address, *TINY, *arguments])


def values(table: pd.DataFrame) -> pd.Series:
    rows = table[table["kind"].isin(SAME_WHATEVER_THE_EXECUTOR) & (table["unit"] != "s")]
    return rows.set_index(["kind", "subject", "backend", "dtype", "case", "metric"])["value"].sort_index()


def assert_one_task_per_node_at_a_time(log: list[dict]) -> None:
    by_node: dict[str, list[tuple[float, float]]] = {}
    for record in log:
        if "started" in record:
            by_node.setdefault(record["node_id"], []).append((record["started"], record["finished"]))
    for node, spans in by_node.items():
        spans.sort()
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert start >= end, f"two timed tasks overlapped on node {node}: {spans}"


def test_tiny_run_spreads_over_both_nodes_with_the_local_quality(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "local-cache"))
    # each node holds one CPU, so its tasks run torch on one thread: the same reduction order here
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert (
            main(
                [
                    "run",
                    *TINY,
                    "--skip-ops",
                    "--families",
                    "vae",
                    "--results",
                    str(tmp_path),
                    "--run-id",
                    "local",
                ]
            )
            == 0
        )
    finally:
        torch.set_num_threads(threads)

    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "driver-cache"))
    assert (
        ray_run(ray_cluster, *ONE_OP, "--families", "vae", "--results", str(tmp_path), "--run-id", "ray") == 0
    )

    run = RunDir.open(tmp_path / "ray")
    expected = {"ops", "ops-ddim_step", "train-vae", "train-vae-seed0", "sweep-vae"}
    assert set(run.finished_stages()) == expected and run.failures() == {}
    table = run.load_table()
    machines = ray_cluster.machine_of_node()
    assert set(table["ray_node_id"].map(machines)) == {"a", "b"}, "the rows name both nodes"
    assert {"op", "ceiling", "sweep", "quality", "training"} <= set(table["kind"])
    assert (run.path / "report" / "report.html").stat().st_size > 0

    local = values(RunDir.open(tmp_path / "local").load_table())
    pd.testing.assert_series_equal(values(table), local, check_exact=True)

    log = {record["stage"]: record for record in run.task_log()}
    assert set(log) == {"train-vae-seed0", "sweep-vae", "ops-ddim_step"}
    assert_one_task_per_node_at_a_time(list(log.values()))
    node_of_stage = table.groupby("kind")["ray_node_id"].unique()
    assert list(node_of_stage["training"]) == [log["train-vae-seed0"]["node_id"]], "trained elsewhere"
    assert list(node_of_stage["sweep"]) == [log["sweep-vae"]["node_id"]]


def busy_task_titles(raylet_pid: int) -> list[str]:
    """Process titles of the workers of a raylet that are running one of the run's tasks (a worker
    takes the title ``ray::<task name>``, and the dispatcher names each task after its stage)."""
    titles = []
    for entry in Path("/proc").iterdir():
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            title = (entry / "cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, ValueError, IndexError):  # not a process, or one that just ended
            continue
        if parent == raylet_pid and RUNNING_STAGE.match(title):
            titles.append(title)
    return titles


def remove_once_busy(cluster, node, seen: list[str], timeout_s: float = 90.0) -> None:
    raylet_pid = node.all_processes["raylet"][0].process.pid
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not seen:
        seen += busy_task_titles(raylet_pid)
        time.sleep(0.2)
    cluster.remove_node(node, allow_graceful=False)


def test_a_node_lost_mid_task_fails_its_stage_and_resume_finishes_it(ray_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "driver-cache"))
    node = ray_cluster.add_machine("c")
    ray_cluster.cluster.wait_for_nodes()
    killed: list[str] = []
    killer = threading.Thread(target=remove_once_busy, args=(ray_cluster.cluster, node, killed))
    killer.start()
    # three first tasks for three nodes (two trainings, one op shard): machine c gets one
    arguments = ["--families", "vae,gan", *ONE_OP, "--results", str(tmp_path), "--run-id", "lost"]
    code = ray_run(ray_cluster, *arguments, "--max-retries", "0")
    killer.join()
    assert killed, "no task ever ran on machine c"
    lost_stage = killed[0].removeprefix("ray::")

    run = RunDir.open(tmp_path / "lost")
    assert code == 1 and lost_stage in run.failures(), run.failures()
    assert lost_stage not in run.finished_stages()
    finished_before = {path: path.stat().st_mtime_ns for path in (run.path / "rows").glob("*.json")}

    logged_before = len(run.task_log())
    assert ray_run(ray_cluster, *ONE_OP, "--families", "vae,gan", "--resume", str(run.path)) == 0
    run = RunDir.open(run.path)
    assert run.failures() == {} and {lost_stage, "sweep-vae", "sweep-gan", "ops"} <= set(
        run.finished_stages()
    )
    for path, mtime in finished_before.items():
        assert path.stat().st_mtime_ns == mtime, f"{path.name} was written again"
    resumed = {record["stage"] for record in run.task_log()[logged_before:]}
    assert lost_stage in resumed and not resumed & {path.stem for path in finished_before}
    families = run.load_table().query("subject in ['vae', 'gan']")
    assert (families.groupby("subject")["stage"].nunique() == 1).all(), "a family's rows in two stages"
    assert_one_task_per_node_at_a_time(run.task_log())


def test_train_on_the_cluster_brings_every_checkpoint_to_the_driver(ray_cluster, tmp_path, capsys):
    arguments = ["train", "vae", "gan", "--preset", "tiny", "--cache-dir", str(tmp_path), "--quiet"]
    assert main([*arguments, "--executor", "ray", "--ray-address", ray_cluster.address]) == 0
    for family in ("vae", "gan"):
        found = checkpoint.load(
            checkpoint.checkpoint_path(family, "tiny", 0, tmp_path),
            family,
            "tiny",
            protocol.get(family).config("tiny"),
            protocol.get(family).load_data().sha256,
        )
        assert found is not None, f"no matching {family} checkpoint reached the driver"
    assert capsys.readouterr().out.count("tiny seed 0: ") == 2


def test_bench_on_the_cluster_writes_one_json_per_op(ray_cluster, tmp_path, capsys):
    json_path = tmp_path / "bench.json"
    arguments = ["bench", *ONE_OP, "--backends", "eager", "--json", str(json_path), "--executor", "ray"]
    assert main([*arguments, "--ray-address", ray_cluster.address]) == 0
    frame = benchmark_json.load(tmp_path / "bench-ops-ddim_step.json")
    assert (
        set(frame["kind"]) == {"op", "ceiling"}
        and frame["ray_node_id"].map(ray_cluster.machine_of_node()).isin(["a", "b"]).all()
    )
    assert "ddim_step" in capsys.readouterr().out


def test_cuda_on_a_cluster_without_gpus_is_refused_before_any_task(ray_cluster, tmp_path, capsys):
    start = time.monotonic()
    arguments = ["run", "--executor", "ray", "--ray-address", ray_cluster.address, "--device", "cuda"]
    assert main([*arguments, "--results", str(tmp_path)]) == 2
    assert time.monotonic() - start < 30 and not any(tmp_path.iterdir())
    assert "--device cuda: no node of the Ray cluster has a GPU" in capsys.readouterr().err
