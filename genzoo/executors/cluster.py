"""Connecting to a Ray cluster without ever hanging, and what its nodes can hold.

``ray.init`` on an address where no cluster listens retries for ever (it logs "Failed to get
cluster ID from GCS server" every 30 s), so the address is first tried with a plain TCP connect,
and ``ray.init`` itself runs under a deadline.
"""

from __future__ import annotations

import contextlib
import dataclasses
import socket
import threading
from collections.abc import Iterator

from genzoo.executors import ExecutorError, RayOptions


def import_ray():
    try:
        import ray
    except ImportError:
        raise ExecutorError('--executor ray needs Ray: pip install -e ".[ray]"') from None
    return ray


@contextlib.contextmanager
def connected(options: RayOptions) -> Iterator[object]:
    """Inside, this process is a Ray driver: of the cluster at ``options.address``, else of a local
    cluster started for it (and stopped after). A driver already connected (a caller's
    ``ray.init``) is used as it is and left connected. The workers' own output (pytest's, tqdm's)
    stays in Ray's logs (``log_to_driver=False``): it would bury the run's progress bar."""
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    if options.address is None:
        # in this thread: Ray's processes die with the thread that started them (PR_SET_PDEATHSIG
        # is per thread), and starting a cluster here has no remote end to wait for
        ray.init(include_dashboard=False, log_to_driver=False)
    else:
        if options.address != "auto" and not options.address.startswith("ray://"):
            _check_reachable(options.address, options.connect_timeout_s)
        _init_with_deadline(ray, options)
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout_s: float) -> None:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ExecutorError(f"--ray-address {address!r}: expected host:port (as `ray start --head` prints)")
    try:
        socket.create_connection((host, int(port)), timeout=min(timeout_s, 5.0)).close()
    except OSError as error:
        raise ExecutorError(
            f"--ray-address {address}: no Ray cluster reachable there ({error}); "
            "start one with `ray start --head` or leave --ray-address out for a local one"
        ) from None


def _init_with_deadline(ray, options: RayOptions) -> None:
    """``ray.init`` in a daemon thread, given up after ``connect_timeout_s`` (a port that answers
    TCP but is no Ray cluster would otherwise hold the run for ever)."""
    failure: list[BaseException] = []

    def init() -> None:
        try:
            ray.init(address=options.address, include_dashboard=False, log_to_driver=False)
        except BaseException as error:  # handed to the caller's thread below
            failure.append(error)

    thread = threading.Thread(target=init, name="ray-init", daemon=True)
    thread.start()
    thread.join(options.connect_timeout_s)
    if thread.is_alive():
        raise ExecutorError(
            f"--ray-address {options.address}: Ray did not connect within {options.connect_timeout_s:.0f} s"
        )
    if failure:
        raise ExecutorError(
            f"--ray-address {options.address}: Ray could not connect ({failure[0]})"
        ) from None


@dataclasses.dataclass(frozen=True)
class Node:
    """An alive node of the cluster, as the dispatcher sees it."""

    node_id: str
    hostname: str
    cpus: float
    gpus: int

    @property
    def label(self) -> str:
        """How messages name it: several nodes may share a host (one per GPU group, or a test's)."""
        return f"{self.hostname} (node {self.node_id[:8]})"

    def slots(self, device: str) -> int:
        """How many timed tasks it runs at once: one per GPU; on the CPU one, holding every core."""
        return self.gpus if device == "cuda" else (1 if self.cpus >= 1 else 0)

    def task_resources(self, device: str) -> dict[str, float]:
        """What one task on it asks Ray for: a whole GPU (and its share of the host's cores), or
        every CPU of the node, so that no other task shares the device it is timed on."""
        if device == "cuda":
            return {"num_gpus": 1, "num_cpus": self.cpus / self.gpus}
        return {"num_cpus": self.cpus}


def alive_nodes(ray) -> list[Node]:
    nodes = []
    for entry in ray.nodes():
        if not entry.get("Alive"):
            continue
        resources = entry.get("Resources", {})
        nodes.append(
            Node(
                node_id=entry["NodeID"],
                hostname=entry.get("NodeManagerHostname", "unknown"),
                cpus=float(resources.get("CPU", 0)),
                gpus=int(resources.get("GPU", 0)),
            )
        )
    return nodes


def cluster_device(ray, asked: str | None) -> str:
    """The device the run's tasks use: ``asked``, else cuda when the cluster has a GPU; a device
    no node has is an error now, before a task is submitted (it would wait for ever)."""
    resources = ray.cluster_resources()
    gpus, cpus = resources.get("GPU", 0), resources.get("CPU", 0)
    device = asked or ("cuda" if gpus >= 1 else "cpu")
    if device == "cuda" and gpus < 1:
        raise ExecutorError(
            f"--device cuda: no node of the Ray cluster has a GPU (it has {cpus:g} CPUs, 0 GPUs)"
        )
    if device == "cpu" and cpus < 1:
        raise ExecutorError(f"--device cpu: no node of the Ray cluster has a whole CPU ({cpus:g} CPUs)")
    return device
