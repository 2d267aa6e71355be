"""What each backend means, written once, for ops and for models.

- ``eager``: the op's eager PyTorch code; for a model, every registry op on its eager code.
- ``triton`` / ``sdpa``: the op's implementation of that name; for a model, every registry op
  that has it (the others stay eager).
- ``compile``: ``torch.compile`` specialised to the benchmark point: for an op its eager code,
  compiled afresh for the point's shapes and dtype (``dynamic=False``, after ``torch._dynamo
  .reset()``, so a point timed after others is timed as it would be alone: one compiled function
  serving a whole grid recompiles with dynamic shapes, or stops at dynamo's recompile limit and
  silently runs eager); for a model, every network it is made of (the UNet, the GPT-2, the
  generator, the decoder: the children of the family's module) with the registry ops' eager code
  traced inside.

Compilation belongs to the warm-up. ``no_recompilation`` wraps the timed region: a recompile
there, or dynamo's fallback to eager at its recompile limit (during the warm-up too), raises
``RecompilationError`` naming the point instead of being timed.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator

import torch
import torch._dynamo

from genzoo import kernels
from genzoo.kernels import registry
from genzoo.models import protocol


class RecompilationError(RuntimeError):
    """torch.compile recompiled (or gave up and ran eager) where a compiled point is timed."""


def op_function(op: registry.Op, backend: str) -> Callable:
    """The function a benchmark point of ``op`` on ``backend`` times (see the module docstring)."""
    if backend == "compile":
        torch._dynamo.reset()  # nothing compiled for another point may serve, or be guarded, here
        return torch.compile(op.eager, dynamic=False)
    return op.implementation(backend)


@contextlib.contextmanager
def model_on_backend(
    model: torch.nn.Module, backend: str, dtype: str | torch.dtype
) -> Iterator[torch.nn.Module]:
    """The model in ``dtype`` with its ops on ``backend`` (see the module docstring)."""
    net = protocol.cast(model, dtype)
    ops_backend = backend
    if backend == "compile":
        torch._dynamo.reset()
        net = copy.deepcopy(net)
        for child in net.children():
            child.compile(dynamic=None)
        ops_backend = "eager"  # traced into the compiled networks
    with kernels.use(ops_backend):
        yield net


@contextlib.contextmanager
def compiled_fallback_is_error(label: str) -> Iterator[None]:
    """Inside, dynamo reaching its recompile limit raises instead of running eager silently."""
    try:
        with torch._dynamo.config.patch(fail_on_recompile_limit_hit=True):
            yield
    except torch._dynamo.exc.FailOnRecompileLimitHit as error:
        raise RecompilationError(f"{label}: torch.compile hit its recompile limit: {error}") from None


@contextlib.contextmanager
def no_recompilation(label: str) -> Iterator[None]:
    """Inside (the timed region), any compilation raises ``RecompilationError``: a recompile at
    once (dynamo's ``error_on_recompile``), a first compile (after a ``torch._dynamo.reset()``,
    which no guard sees) when the region ends, by dynamo's count of graphs it captured."""
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    try:
        with torch._dynamo.config.patch(error_on_recompile=True, fail_on_recompile_limit_hit=True):
            yield
    except (torch._dynamo.exc.RecompileError, torch._dynamo.exc.FailOnRecompileLimitHit) as error:
        raise RecompilationError(
            f"{label}: torch.compile recompiled inside the timed region: {error}"
        ) from None
    compiled = torch._dynamo.utils.counters["stats"]["unique_graphs"] - graphs
    if compiled:
        raise RecompilationError(
            f"{label}: torch.compile compiled {compiled} graph(s) inside the timed region"
        )
