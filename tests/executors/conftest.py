"""One local Ray cluster for the module's tests: two nodes on 127.0.0.1, each standing for a
machine (a custom resource ``machine-a`` / ``machine-b``) with its own genzoo cache, so a
checkpoint reaches a node only through the run itself. This process connects once as the
driver and stays connected (``genzoo run --executor ray`` uses a connection it finds), so each
run does not pay for starting new worker processes."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

# Ray swaps 127.0.0.1 in an address for this host's outward IP, where a loopback-bound cluster
# does not listen; this switch (read when ray is imported) keeps the loopback address.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

LOOPBACK = "127.0.0.1"


@dataclasses.dataclass
class LocalCluster:
    cluster: object  # ray.cluster_utils.Cluster
    root: Path

    @property
    def address(self) -> str:
        return self.cluster.address

    def add_machine(self, name: str):
        """A node standing for machine ``name``: one CPU, its own cache, bound to 127.0.0.1."""
        return self.cluster.add_node(**node_arguments(name, self.root))

    def machine_of_node(self) -> dict[str, str]:
        """node id -> machine name, for every node that ever joined."""
        import ray

        names = {}
        for node in ray.nodes():
            machines = [r.removeprefix("machine-") for r in node["Resources"] if r.startswith("machine-")]
            names[node["NodeID"]] = machines[0] if machines else "?"
        return names


def node_arguments(name: str, root: Path) -> dict:
    return dict(
        num_cpus=1,
        node_ip_address=LOOPBACK,
        resources={f"machine-{name}": 1},
        env_vars={"GENZOO_CACHE_DIR": str(root / f"cache-{name}")},
        include_dashboard=False,
    )


@pytest.fixture(scope="module")
def ray_cluster(tmp_path_factory):
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    root = tmp_path_factory.mktemp("ray")
    cluster = Cluster(initialize_head=True, head_node_args=node_arguments("a", root))
    cluster.add_node(**node_arguments("b", root))
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
    try:
        yield LocalCluster(cluster, root)
    finally:
        ray.shutdown()
        cluster.shutdown()
