"""``genzoo train``: train the reference models (or find them in the cache), report each family's
time and metrics, and optionally write what each model makes (PNG grids, a text sample)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from genzoo import executors
from genzoo.models import checkpoint, protocol

NAME = "train"
HELP = "train the reference models of the families (default: all four) and cache their checkpoints"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "families",
        nargs="*",
        metavar="FAMILY",
        help=f"families to train (default: all of {', '.join(protocol.names())})",
    )
    parser.add_argument(
        "--preset", choices=protocol.PRESETS, default="cpu", help="model/training size (default: cpu)"
    )
    parser.add_argument(
        "--force", action="store_true", help="retrain even when a matching checkpoint is cached"
    )
    parser.add_argument(
        "--cache-dir", type=Path, help="where checkpoints live (default: <genzoo cache>/models)"
    )
    parser.add_argument("--samples-dir", type=Path, help="write each family's sample grid / text here")
    parser.add_argument("--device", help="cuda or cpu (default: cuda when available)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--threads",
        type=int,
        help="CPU threads for torch (default: torch's, one per core); "
        "1 is faster on cores other jobs are using",
    )
    executors.add_arguments(parser)


def main(args: argparse.Namespace) -> int:
    families = args.families or list(protocol.names())
    unknown = sorted(set(families) - set(protocol.names()))
    if unknown:
        print(f"genzoo train: unknown families {unknown}; known: {', '.join(protocol.names())}")
        return 2
    ray_options = executors.ray_options_from(args)
    if ray_options is not None:
        from genzoo.executors import ray_commands

        return ray_commands.train_on_cluster(args, ray_options, families)
    if args.threads:
        torch.set_num_threads(args.threads)
    total = 0.0
    for name in families:
        start = time.perf_counter()
        trained = checkpoint.ensure_trained_seeds(
            name,
            args.preset,
            directory=args.cache_dir,
            device=args.device,
            progress=not args.quiet,
            force=args.force,
        )
        written = (
            protocol.get(name).write_preview(trained[0].model, args.samples_dir) if args.samples_dir else []
        )
        elapsed = time.perf_counter() - start
        total += elapsed
        for run in trained:
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(run.metrics.items()))
            print(f"{name} {args.preset} seed {run.config.seed}: {metrics}  [{run.path}]")
        for path in written:
            print(f"{name}: wrote {path}")
        source = "trained now" if any(r.trained_now for r in trained) else "from the cache"
        print(
            f"{name}: {elapsed:.1f} s ({source}; training took {sum(r.log.seconds for r in trained):.1f} s)"
        )
    print(f"all: {total:.1f} s")
    return 0
