"""The ``genzoo`` command. Each subcommand is one module of ``genzoo.commands`` that declares
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``main(args) -> int``; this file only finds them."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from genzoo import commands
from genzoo.executors import ExecutorError
from genzoo.harness.timing import DeviceUnavailableError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genzoo",
        description=(
            "Benchmark generative models (LLM, diffusion, GAN, VAE) and the fused kernels they run on, "
            "across backends (eager, triton, compile, sdpa). Start with `genzoo run`."
        ),
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"genzoo.commands.{info.name}")
        sub = subparsers.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.main)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (DeviceUnavailableError, ExecutorError) as error:
        print(f"genzoo {args.command}: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genzoo: interrupted; finished results are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
