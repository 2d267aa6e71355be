"""Handing a run's tasks to the nodes of a Ray cluster, one device each, and surviving nodes
that die.

Timing isolation: each alive node has slots, one per GPU (``num_gpus=1``), or on a CPU node a
single one that holds all of the node's CPUs. A task is submitted only into a free slot, pinned
to that node (hard node affinity), so two timed tasks never share a device; Ray's resource
request says the same to Ray, so nothing else it schedules lands there either.

Faults: a task whose worker or node died (any Ray error but the task's own exception) goes back
to the queue, for any node, at most ``max_retries`` more times; the dispatcher retries rather
than Ray (``max_retries=0``) because Ray would retry on the dead node it was pinned to. A task's
own exception is not retried (it would fail again) and records the stage as failed, with the
reason; so do the tasks that needed its output. A task that finished has written its files
before the next is looked at: an interrupted run keeps all of them.
"""

from __future__ import annotations

import collections
import dataclasses
import time
from collections.abc import Callable

from tqdm.auto import tqdm

from genzoo.executors import cluster
from genzoo.executors.work import TaskReport

NO_NODE_GRACE_S = 30.0  # how long tasks wait for a node to (re)appear before they fail
POLL_S = 0.5  # how often the queue looks for finished tasks and free nodes


@dataclasses.dataclass(frozen=True)
class Task:
    stage: str  # the results directory's stage this task writes: its name everywhere
    kind: str  # train, sweep or ops
    function: Callable[..., TaskReport]  # one of genzoo.executors.work's units
    arguments: tuple
    needs: tuple[str, ...] = ()  # stages whose checkpoints are passed after ``arguments``


@dataclasses.dataclass(frozen=True)
class _Placed:
    task: Task
    node: cluster.Node
    attempt: int


class Dispatcher:
    """``run(tasks)`` runs them all; ``on_finished(task, report)`` stores a report and returns
    None, or the reason the stage did not succeed. ``on_log(records)`` sees the task log (node,
    start and end of every finished task) after each change."""

    def __init__(
        self,
        ray,
        device: str,
        max_retries: int,
        on_finished: Callable[[Task, TaskReport], str | None],
        on_log: Callable[[list[dict]], None] | None = None,
        progress: bool = True,
    ) -> None:
        self.ray = ray
        self.device = device
        self.max_retries = max_retries
        self.on_finished = on_finished
        self.on_log = on_log
        self.progress = progress
        self.checkpoints: dict[str, object] = {}  # stage -> ObjectRef, put by this (driver) process
        self.failures: dict[str, str] = {}
        self.log: list[dict] = []
        self._remotes: dict[Callable, object] = {}

    def provide(self, stage: str, checkpoint: bytes) -> None:
        """A checkpoint the driver already has (a resumed run's), as if ``stage`` had just made it.
        The driver owns it, so it outlives whichever node trained it."""
        self.checkpoints[stage] = self.ray.put(checkpoint)

    def run(self, tasks: list[Task]) -> dict[str, str]:
        """Every task run or failed; returns the failures, stage -> reason."""
        pending = collections.deque(tasks)
        running: dict[object, _Placed] = {}
        attempts = collections.Counter()
        bar = tqdm(total=len(tasks), desc=f"ray ({self.device})", unit="task", disable=not self.progress)
        nodeless_since: float | None = None
        try:
            while pending or running:
                self._fail_orphans(pending, running, bar)
                nodes = [n for n in cluster.alive_nodes(self.ray) if n.slots(self.device) > 0]
                self._submit_ready(pending, running, attempts, nodes)
                if running:
                    nodeless_since = None
                    done, _ = self.ray.wait(list(running), num_returns=1, timeout=POLL_S)
                    for ref in done:
                        self._collect(ref, running.pop(ref), pending, attempts, bar)
                elif pending:
                    nodeless_since = nodeless_since or time.monotonic()
                    if time.monotonic() - nodeless_since > NO_NODE_GRACE_S:
                        for task in list(pending):
                            self._fail(
                                task, f"no alive Ray node could take it for {NO_NODE_GRACE_S:.0f} s", bar
                            )
                        pending.clear()
                    time.sleep(POLL_S)
        except KeyboardInterrupt:
            for ref in running:  # finished tasks have written their files; the rest are dropped
                self.ray.cancel(ref, force=True)
            raise
        finally:
            bar.close()
        return self.failures

    def _submit_ready(self, pending, running, attempts, nodes: list[cluster.Node]) -> None:
        busy = collections.Counter(placed.node.node_id for placed in running.values())
        for node in nodes:
            while busy[node.node_id] < node.slots(self.device):
                task = next((t for t in pending if all(s in self.checkpoints for s in t.needs)), None)
                if task is None:
                    return
                pending.remove(task)
                attempts[task.stage] += 1
                running[self._submit(task, node)] = _Placed(task, node, attempts[task.stage])
                busy[node.node_id] += 1

    def _submit(self, task: Task, node: cluster.Node) -> object:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        if task.function not in self._remotes:
            # a worker whose CUDA is initialised keeps the GPU it saw first, whatever the next
            # task's CUDA_VISIBLE_DEVICES says: on GPU each task gets a fresh worker (0: no limit)
            calls_per_worker = 1 if self.device == "cuda" else 0
            self._remotes[task.function] = self.ray.remote(max_calls=calls_per_worker)(task.function)
        pinned = NodeAffinitySchedulingStrategy(node_id=node.node_id, soft=False)
        options = dict(
            max_retries=0, scheduling_strategy=pinned, name=task.stage, **node.task_resources(self.device)
        )
        checkpoints = [self.checkpoints[stage] for stage in task.needs]
        return self._remotes[task.function].options(**options).remote(*task.arguments, *checkpoints)

    def _collect(self, ref, placed: _Placed, pending, attempts, bar) -> None:
        task = placed.task
        try:
            report = self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as error:  # the task's own exception: it would fail again
            cause = getattr(error, "cause", None) or error
            self._fail(task, f"{type(cause).__name__}: {str(cause).strip().splitlines()[-1]}", bar, placed)
            return
        except self.ray.exceptions.RayError as error:  # its worker or node died, or the node left
            if attempts[task.stage] <= self.max_retries:
                tqdm.write(f"retrying {task.stage}: {type(error).__name__} on {placed.node.label}")
                pending.appendleft(task)
            else:
                reason = f"{type(error).__name__} on {attempts[task.stage]} attempts, the last on {placed.node.label}"
                self._fail(task, reason, bar, placed)
            return
        reason = self.on_finished(task, report)
        self._record(task, placed, report=report, error=reason)
        if reason is not None:
            self._fail(task, reason, bar, placed, logged=True)
            return
        if report.checkpoint is not None:
            self.checkpoints[task.stage] = self.ray.put(report.checkpoint)
        bar.update(1)

    def _fail_orphans(self, pending, running, bar) -> None:
        """Tasks that need a stage that failed, or that nothing left will make, fail too."""
        coming = {t.stage for t in pending} | {p.task.stage for p in running.values()} | set(self.checkpoints)
        for task in list(pending):
            missing = [stage for stage in task.needs if stage not in coming]
            if missing:
                pending.remove(task)
                self._fail(task, f"needs {', '.join(missing)}, which failed", bar)

    def _fail(
        self, task: Task, reason: str, bar, placed: _Placed | None = None, logged: bool = False
    ) -> None:
        self.failures[task.stage] = reason
        if placed is not None and not logged:
            self._record(task, placed, error=reason)
        tqdm.write(f"failed: {task.stage}: {reason}")
        bar.update(1)

    def _record(
        self, task: Task, placed: _Placed, report: TaskReport | None = None, error: str | None = None
    ):
        record = {
            "stage": task.stage,
            "kind": task.kind,
            "node_id": placed.node.node_id,
            "attempts": placed.attempt,
        }
        record["hostname"] = placed.node.hostname
        if report is not None:  # the worker's fingerprint: whose rows a later stage writes
            record.update(started=report.started, finished=report.finished, fingerprint=report.fingerprint)
        if error is not None:
            record["error"] = error
        self.log.append(record)
        if self.on_log is not None:
            self.on_log(self.log)
