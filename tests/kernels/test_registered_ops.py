"""Every registered op, every backend, every dtype, on the op's own small odd test cases: fresh
random inputs per check, the output poisoned with NaN before the launch, the error judged against
the float64 reference by the dtype's tolerance (bf16/fp16: at most 2x eager's own error).

Generated from the registry: a new op or backend is tested the moment it is registered."""

from __future__ import annotations

import pytest
import torch

from genzoo import tolerance
from genzoo.kernels import registry

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _points(compile_only_first_case: bool):
    for op in registry.all_ops():
        for backend in sorted(op.backends):
            for dtype in op.dtypes:
                for index, case in enumerate(op.test_cases):
                    # torch.compile costs seconds per graph on 2 CPU cores: its other cases are slow
                    slow = backend == "compile" and (index > 0 or dtype != torch.float32)
                    marks = [pytest.mark.slow] if slow and compile_only_first_case else []
                    label = f"{op.name}-{backend}-{str(dtype).removeprefix('torch.')}-{case.label}"
                    yield pytest.param(op, backend, dtype, case, marks=marks, id=label)


def _poisoned_like(tensor: torch.Tensor) -> torch.Tensor:
    return torch.full_like(tensor, float("nan"))


@pytest.mark.parametrize("op, backend, dtype, case", list(_points(compile_only_first_case=True)))
def test_backend_matches_float64_reference(op, backend, dtype, case):
    seed = torch.randint(0, 2**31 - 1, ()).item()  # fresh inputs each run; the seed is reported
    call = op.make_call(case, dtype, DEVICE, torch.Generator().manual_seed(seed))
    with torch.no_grad():
        reference = call.run(op.reference)
        reference = reference[0] if isinstance(reference, (tuple, list)) else reference
        eager_error = tolerance.relative_error(call.run(op.eager), reference)
        if backend == "triton" and op.accepts_out:
            out = _poisoned_like(reference.to(dtype))
            result = op.implementation(backend)(*call.args, **call.kwargs, out=out)
            assert result is out, "the triton launcher must write into the given out="
        else:
            result = call.run(op.implementation(backend))
    result = result[0] if isinstance(result, (tuple, list)) else result
    assert result.dtype == dtype and result.shape == reference.shape
    error = tolerance.relative_error(result, reference)
    limit = tolerance.error_limit(dtype, eager_error)
    assert error <= limit, f"seed {seed}: error {error:.3g} > limit {limit:.3g} (eager {eager_error:.3g})"


@pytest.mark.parametrize("op", registry.all_ops(), ids=lambda op: op.name)
def test_op_declares_what_the_harness_needs(op):
    assert op.test_cases and op.bench_cases.get("cpu") and op.bench_cases.get("cuda")
    assert any(case.quick for case in op.bench_cases["cpu"]), "the --quick grid must not be empty"
    call = op.make_call(op.test_cases[-1], torch.float32, DEVICE, torch.Generator().manual_seed(1))
    cost = op.cost(call)
    assert cost.bytes_moved > 0 and cost.flops > 0


@pytest.mark.parametrize("op", registry.all_ops(), ids=lambda op: op.name)
def test_inputs_are_random_not_zeros(op):
    case = op.test_cases[-1]
    first = op.make_call(case, torch.float32, DEVICE, torch.Generator().manual_seed(1))
    second = op.make_call(case, torch.float32, DEVICE, torch.Generator().manual_seed(2))
    tensor_pairs = [(a, b) for a, b in zip(first.args, second.args) if isinstance(a, torch.Tensor)]
    assert tensor_pairs
    for a, b in tensor_pairs:
        assert a.abs().sum() > 0 and not torch.equal(a, b)
