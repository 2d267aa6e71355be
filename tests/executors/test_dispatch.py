"""The dispatcher's rules on a stand-in for Ray (no cluster, so every failure is on cue): one
task per CPU node at a time, retries after a node died (bounded), none after the task's own
exception, dependants of a failed stage failed too, Ctrl-C cancels what is running."""

from __future__ import annotations

import itertools
import types

import pytest

from genzoo.executors.dispatch import Dispatcher, Task
from genzoo.executors.work import TaskReport

pytest.importorskip("ray")  # the dispatcher builds Ray's node-affinity strategy itself

N1, N2, N3 = ("1" * 56, "2" * 56, "3" * 56)  # node ids: Ray checks they are 28 bytes of hex


class NodeDied(Exception):
    """Stands for a Ray system error (ray.exceptions.NodeDiedError)."""


class TaskRaised(NodeDied):
    """Stands for ray.exceptions.RayTaskError: the task's own exception, with its cause."""

    def __init__(self, cause: Exception) -> None:
        super().__init__(str(cause))
        self.cause = cause


class FakeRay:
    """Just what the dispatcher calls. ``outcomes[stage]`` lists what each attempt does: "ok", an
    exception to raise (a NodeDied also takes its node out of the cluster), or "interrupt"."""

    exceptions = types.SimpleNamespace(RayError=NodeDied, RayTaskError=TaskRaised)

    def __init__(self, node_ids: list[str], outcomes: dict[str, list]) -> None:
        self.alive = list(node_ids)
        self.outcomes = {stage: list(steps) for stage, steps in outcomes.items()}
        self.in_flight: dict[tuple, str] = {}  # ref -> node id
        self.most_at_once: dict[str, int] = {}
        self.cancelled: list[tuple] = []
        self.submitted = itertools.count()  # tells two attempts of one stage apart

    def nodes(self) -> list[dict]:
        return [
            {"Alive": True, "NodeID": n, "NodeManagerHostname": "h", "Resources": {"CPU": 2}}
            for n in self.alive
        ]

    def remote(self, max_calls: int):
        assert max_calls == 0, "CPU workers are reused: a worker start costs seconds"
        return lambda function: self._remote()

    def _remote(self):
        return types.SimpleNamespace(options=lambda **options: self._submitter(options))

    def _submitter(self, options: dict):
        def submit(*arguments):
            node = options["scheduling_strategy"].node_id
            assert options["num_cpus"] == 2, "a CPU task holds every CPU of its node"
            ref = (
                arguments[0],
                len(self.cancelled) + len(self.in_flight) + sum(self.most_at_once.values()),
                node,
            )
            self.in_flight[ref] = node
            on_node = sum(1 for n in self.in_flight.values() if n == node)
            self.most_at_once[node] = max(self.most_at_once.get(node, 0), on_node)
            return ref

        return types.SimpleNamespace(remote=submit)

    def put(self, value: object) -> tuple:
        return ("object", value)

    def wait(self, refs: list, num_returns: int, timeout: float):
        if (self.outcomes.get(refs[0][0]) or ["ok"])[0] == "interrupt":
            raise KeyboardInterrupt
        return refs[:1], refs[1:]

    def get(self, ref: tuple) -> TaskReport:
        stage, _, node = ref
        del self.in_flight[ref]
        steps = self.outcomes.get(stage)
        step = steps.pop(0) if steps else "ok"
        if isinstance(step, NodeDied) and not isinstance(step, TaskRaised):
            self.alive.remove(node)
        if isinstance(step, Exception):
            raise step
        return TaskReport(
            stage, {"ray_node_id": node}, 0.0, 1.0, checkpoint=b"weights" if "train" in stage else None
        )

    def cancel(self, ref: tuple, force: bool) -> None:
        self.cancelled.append(ref)


def run(ray: FakeRay, tasks: list[Task], max_retries: int = 2) -> tuple[Dispatcher, list[str]]:
    stored = []
    dispatcher = Dispatcher(
        ray, "cpu", max_retries, lambda task, report: stored.append(task.stage), progress=False
    )
    dispatcher.run(tasks)
    return dispatcher, stored


def task(stage: str, needs: tuple[str, ...] = ()) -> Task:
    return Task(stage, stage.split("-")[0], print, (stage,), needs)


def test_cpu_nodes_run_one_task_at_a_time_and_sweeps_wait_for_their_training():
    ray = FakeRay([N1, N2], {})
    tasks = [task("train-a"), task("train-b"), task("sweep-a", ("train-a",)), task("ops-x"), task("ops-y")]
    dispatcher, stored = run(ray, tasks)
    assert dispatcher.failures == {} and sorted(stored) == sorted(t.stage for t in tasks)
    assert stored.index("sweep-a") > stored.index("train-a")
    assert ray.most_at_once == {N1: 1, N2: 1}


def test_a_task_whose_node_died_is_retried_on_another_node():
    ray = FakeRay([N1, N2], {"train-a": [NodeDied("node n1 died")]})
    dispatcher, stored = run(ray, [task("train-a"), task("sweep-a", ("train-a",))])
    assert dispatcher.failures == {} and stored == ["train-a", "sweep-a"]
    [record] = [r for r in dispatcher.log if r["stage"] == "train-a"]
    assert record["attempts"] == 2 and record["node_id"] == N2


def test_retries_are_bounded_and_the_dependants_fail_with_the_reason():
    ray = FakeRay([N1, N2, N3], {"train-a": [NodeDied("gone"), NodeDied("gone"), NodeDied("gone")]})
    dispatcher, stored = run(
        ray, [task("train-a"), task("sweep-a", ("train-a",)), task("ops-x")], max_retries=1
    )
    assert stored == ["ops-x"]
    assert dispatcher.failures["train-a"].startswith("NodeDied on 2 attempts")
    assert dispatcher.failures["sweep-a"] == "needs train-a, which failed"


def test_the_tasks_own_exception_is_not_retried():
    ray = FakeRay([N1], {"sweep-a": [TaskRaised(ValueError("bad knob 'steps'"))]})
    dispatcher, stored = run(ray, [task("sweep-a")])
    assert stored == [] and dispatcher.failures == {"sweep-a": "ValueError: bad knob 'steps'"}
    assert [r["attempts"] for r in dispatcher.log] == [1]


def test_ctrl_c_cancels_the_running_tasks_and_stores_none_of_them():
    ray = FakeRay([N1, N2], {"train-a": ["interrupt"]})
    with pytest.raises(KeyboardInterrupt):
        run(ray, [task("train-a"), task("ops-x")])
    assert sorted(stage for stage, _, _ in ray.cancelled) == ["ops-x", "train-a"]
