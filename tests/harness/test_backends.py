"""What a backend means inside the harness: compile is specialised to its point, compiles in the
warm-up only, and a recompilation inside the timed region is an error, never a timing."""

from __future__ import annotations

import contextlib
import dataclasses

import pytest
import torch

from genzoo.harness import backends, ops, pipeline
from genzoo.harness.ceilings import Ceilings
from genzoo.harness.timing import TimingPlan, measure
from genzoo.kernels import registry

CEILINGS = Ceilings("cpu", copy_gbps=10.0, matmul_tflops={"float32": 1.0, "bfloat16": 1.0})
PLAN = TimingPlan(warmup=2, min_rounds=30, max_rounds=300, budget_s=0.3)


def _median(point: ops.OpPoint) -> float:
    row = pipeline.measure(
        ops.OpSubject(point, "cpu", CEILINGS), lambda run: measure(run, "cpu", PLAN), pipeline.Baselines()
    )
    assert row.within_tolerance
    return row.value


def test_a_compiled_point_times_the_same_alone_and_after_the_rest_of_its_grid():
    """One compiled function serving a whole grid recompiles with dynamic shapes (or stops at
    dynamo's recompile limit): the point after the others was 6x slower than alone. The band is
    3x either way, the best of three medians each: wide enough for a loaded 2-core machine, narrow
    enough to catch that 6x."""
    op = registry.get("ddim_step")
    cases = [c for c in op.bench_cases["cpu"] if c.quick]
    target = ops.OpPoint("ddim_step", "compile", torch.float32, cases[-1])
    alone = min(_median(target) for _ in range(3))
    for dtype in (torch.float32, torch.bfloat16):
        for case in cases[:-1]:
            _median(ops.OpPoint("ddim_step", "compile", dtype, case))
    after = min(_median(target) for _ in range(3))
    assert 1 / 3 < after / alone < 3, f"alone {alone * 1e6:.0f} us, after the grid {after * 1e6:.0f} us"


@dataclasses.dataclass
class _GrowingInput:
    """A subject whose input changes shape on every call: a compiled call must recompile."""

    label: str = "growing"
    calls: int = 0

    def prepared(self):
        compiled = torch.compile(lambda x: (x * 2).sum(), dynamic=False)

        def run():
            self.calls += 1
            return compiled(torch.ones(self.calls))

        return contextlib.nullcontext(run)

    def warm_up(self, run):
        return run()

    def check(self, output, baselines):
        return None

    def row(self, timing, check, baselines):
        raise AssertionError("a point that recompiled while timed must not give a row")


def test_a_recompilation_inside_the_timed_region_is_an_error_naming_the_point():
    torch._dynamo.reset()
    with pytest.raises(backends.RecompilationError, match="growing.*recompiled inside the timed region"):
        pipeline.measure(
            _GrowingInput(),
            lambda run: measure(run, "cpu", TimingPlan(warmup=1, min_rounds=3)),
            pipeline.Baselines(),
        )


def test_model_compile_compiles_the_networks_and_traces_the_ops_eager_inside():
    from genzoo import kernels

    model = torch.nn.Sequential(torch.nn.Linear(3, 3))
    with backends.model_on_backend(model, "compile", "float32") as net:
        assert net is not model and all(hasattr(child, "_compiled_call_impl") for child in net.children())
        assert kernels.current_backend("ddim_step") == "eager"
    with backends.model_on_backend(model, "triton", "float32") as net:
        assert net is model and kernels.current_backend("ddim_step") == "triton"


@dataclasses.dataclass
class _CheckOnOtherShapes(_GrowingInput):
    """A compiled point whose check runs another compiled model (and resets dynamo, as every
    backend switch does): the LLM's kernel-swap check did this, and its timed calls recompiled."""

    label: str = "checked elsewhere"

    def prepared(self):
        compiled = torch.compile(lambda x: (x * 2).sum(), dynamic=False)
        return contextlib.nullcontext(lambda: compiled(torch.ones(5)))

    def check(self, output, baselines):
        with backends.model_on_backend(
            torch.nn.Sequential(torch.nn.Linear(3, 3)), "compile", "float32"
        ) as net:
            net(torch.ones(2, 3))
        return None

    def row(self, timing, check, baselines):
        return timing


def test_the_timed_call_is_warmed_again_after_a_check_that_compiled_something_else():
    timing = pipeline.measure(
        _CheckOnOtherShapes(),
        lambda run: measure(run, "cpu", TimingPlan(warmup=0, min_rounds=3)),
        pipeline.Baselines(),
    )
    assert timing.rounds >= 3


def test_a_first_compilation_inside_the_timed_region_is_an_error_too():
    """After ``torch._dynamo.reset()`` a compile is no recompile, and no guard of dynamo sees it."""

    def run():
        torch._dynamo.reset()
        return torch.compile(lambda x: x + 1, dynamic=False)(torch.ones(3))

    with pytest.raises(backends.RecompilationError, match="compiled 1 graph"):
        with backends.no_recompilation("reset inside"):
            run()
