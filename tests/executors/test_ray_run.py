"""What the driver writes for a finished task, without a cluster: a sweep's rows carry its
worker's fingerprint, and its training rows that of the node which trained the seed."""

from __future__ import annotations

from genzoo.executors import ray_run, work
from genzoo.executors.dispatch import Task
from genzoo.harness import suites
from genzoo.measurement import Measurement
from genzoo.results.store import RunDir


def fingerprint(host: str, node: str) -> dict[str, object]:
    return {"hostname": host, "device": "cpu", "device_name": "CPU", "ray_node_id": node}


def test_training_rows_keep_the_node_that_trained_and_sweep_rows_the_node_that_swept(tmp_path):
    run = RunDir.create(tmp_path, "r", fingerprint("driver", ""))
    run.write_task_log([{"stage": "train-vae-seed0", "fingerprint": fingerprint("gpu-a", "node-a")}])
    trained = Measurement(
        "training", "vae", "eager", "float32", "seed=0", "train_seconds", 3.0, "s", knobs=(("train_seed", 0),)
    )
    swept = Measurement("sweep", "vae", "eager", "float32", "batch=4", "images_per_s", 90.0, "images/s")
    report = work.TaskReport("sweep-vae", fingerprint("gpu-b", "node-b"), 0.0, 1.0, rows=[trained, swept])
    plan = ray_run.RunPlan("tiny", "cpu", ("vae",), ("eager",), None)
    task = Task("sweep-vae", "sweep", work.sweep_family, ("sweep-vae", "vae", "tiny", ("eager",), "cpu"))

    assert ray_run.ClusterRun(run, plan).store(task, report) is None
    table = run.load_table().set_index("kind")
    assert table.loc["training", ["hostname", "ray_node_id", "machine"]].tolist() == [
        "gpu-a",
        "node-a",
        "gpu-a / CPU",
    ]
    assert table.loc["sweep", ["hostname", "ray_node_id", "machine"]].tolist() == [
        "gpu-b",
        "node-b",
        "gpu-b / CPU",
    ]
    assert run.is_done("sweep-vae")


def test_op_shards_split_the_grid_by_op_and_keep_the_users_selection():
    shards = ray_run.op_shards(suites.BenchOptions(device="cpu", quick=True, select="attention and float32"))
    assert set(shards) == {"ops-attention", "ops-attention_decode", "ops-attention_forward_backward"}
    assert shards["ops-attention"].select == "(attention and float32) and attention-"
    assert ray_run.op_shards(suites.BenchOptions(device="cpu", quick=True, select="no_such_op")) == {}
