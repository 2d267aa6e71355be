"""The registry's backend switching: one call site, any backend, chosen by context."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
import torch

from genzoo import kernels
from genzoo.kernels import registry


@pytest.fixture
def probe_op():
    """A throwaway op whose backends say who ran."""
    name = f"probe_{torch.randint(0, 2**31 - 1, ()).item()}"
    op = registry.Op(
        name=name,
        eager=lambda x: ("eager", x),
        reference=lambda x: ("reference", x),
        cost=lambda call: registry.Cost(1, 1),
        make_call=lambda case, dtype, device, generator: registry.Call((1,), {}),
        metric="GB/s",
        test_cases=[],
        bench_cases={},
        backends={"triton": lambda x: ("triton", x)},
    )
    registry.register(op)
    yield op
    registry._REGISTRY.pop(name)


def test_default_backend_is_eager(probe_op):
    assert kernels.call(probe_op.name, 3) == ("eager", 3)
    assert kernels.current_backend(probe_op.name) == "eager"


def test_use_selects_the_backend_for_everything_inside(probe_op):
    with kernels.use("triton"):
        assert kernels.call(probe_op.name, 3) == ("triton", 3)
        assert getattr(kernels.ops, probe_op.name)(4) == ("triton", 4)
    assert kernels.call(probe_op.name, 3) == ("eager", 3)


def test_contexts_nest_and_restore(probe_op):
    with kernels.use("triton"):
        with kernels.use("eager"):
            assert kernels.call(probe_op.name, 1)[0] == "eager"
        assert kernels.call(probe_op.name, 1)[0] == "triton"


def test_missing_backend_falls_back_or_raises(probe_op):
    with kernels.use("sdpa"):
        assert kernels.call(probe_op.name, 1)[0] == "eager"
    with kernels.use("sdpa", fallback=None), pytest.raises(KeyError, match="has no backend 'sdpa'"):
        kernels.call(probe_op.name, 1)


def test_ops_restricts_the_switch(probe_op):
    with kernels.use("triton", ops=["ddim_step"]):
        assert kernels.call(probe_op.name, 1)[0] == "eager"
        assert kernels.current_backend("ddim_step") == "triton"


def test_every_op_gets_a_compile_backend(probe_op):
    assert "compile" in probe_op.backends
    assert all("compile" in op.backends for op in kernels.all_ops())


def test_registry_calls_trace_into_one_graph_under_torch_compile():
    """Models call the registry inside compiled code: no graph break may come from it."""

    def step(eps, x):
        return kernels.ops.ddim_step(eps, x, 0.5, 0.7) * 2

    compiled = torch.compile(step, fullgraph=True, backend="eager")
    eps, x = torch.randn(3, 5), torch.randn(3, 5)
    with kernels.use("eager"):
        torch.testing.assert_close(compiled(eps, x), step(eps, x))


@pytest.mark.parametrize(
    "action, message",
    [
        (lambda: kernels.use("cuda").__enter__(), "unknown backend 'cuda'"),
        (lambda: kernels.use("triton", ops=["no_such_op"]).__enter__(), "no op named 'no_such_op'"),
        (lambda: kernels.call("no_such_op"), "no op named 'no_such_op'"),
        (lambda: kernels.ops.no_such_op, "no op named 'no_such_op'"),
    ],
)
def test_typos_fail_loudly(action, message):
    with pytest.raises((KeyError, ValueError), match=message):
        action()


def test_registering_twice_or_an_unknown_backend_is_refused(probe_op):
    with pytest.raises(ValueError, match="registered twice"):
        registry.register(probe_op)
    with pytest.raises(ValueError, match="unknown backends.*cudnn"):
        registry.register(dataclasses.replace(probe_op, name="probe_cudnn", backends={"cudnn": lambda x: x}))


def test_importing_the_registry_loads_no_harness_or_model_library():
    """Models and kernels import the registry; it must stay as light as torch and triton."""
    script = "import sys, genzoo.kernels; print(*sorted(m for m in ('pandas', 'transformers', 'diffusers') if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == []
