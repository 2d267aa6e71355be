"""Where a run's work runs: in this process (``local``, the default) or spread over a Ray cluster
(``ray``). Ray is an optional extra (``pip install -e ".[ray]"``) and is imported only when a
command is given ``--executor ray``.

On Ray a run is a set of tasks, each one unit of work with the device it needs held for its whole
length: one training run per (family, seed), one sweep per family, one op-benchmark shard per op
(``genzoo.executors.work``). ``genzoo.executors.dispatch`` hands them to the cluster's nodes.
"""

from __future__ import annotations

import argparse
import dataclasses

EXECUTORS = ("local", "ray")


class ExecutorError(RuntimeError):
    """The executor cannot run the work asked for: bad options, no cluster, missing resources."""


@dataclasses.dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # None: a local cluster that Ray starts (and stops) for this run
    max_retries: int = 2  # extra attempts of a task whose worker or node died
    connect_timeout_s: float = 15.0  # an unreachable cluster is an error within this, never a hang


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--executor``, ``--ray-address`` and ``--max-retries``: shared by run, bench and train."""
    parser.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: this process (default); ray: the tasks spread over a Ray cluster",
    )
    parser.add_argument(
        "--ray-address",
        metavar="ADDR",
        help="the cluster `ray start --head` made (host:port, or auto); default: a local one Ray starts",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        help=f"with --executor ray: attempts after a worker dies mid-task (default {RayOptions.max_retries})",
    )


def ray_options_from(args: argparse.Namespace) -> RayOptions | None:
    """The Ray options of the command line (None: run locally); Ray-only flags without
    ``--executor ray`` are refused rather than silently ignored."""
    if args.executor != "ray":
        given = [
            flag
            for flag, value in (("--ray-address", args.ray_address), ("--max-retries", args.max_retries))
            if value is not None
        ]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            raise ExecutorError(
                f"{' and '.join(given)} only {verb} with --executor ray (the executor is {args.executor})"
            )
        return None
    if args.max_retries is not None and args.max_retries < 0:
        raise ExecutorError(f"--max-retries must be 0 or more, got {args.max_retries}")
    retries = RayOptions.max_retries if args.max_retries is None else args.max_retries
    return RayOptions(address=args.ray_address, max_retries=retries)
