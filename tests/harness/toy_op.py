"""A toy op defined outside genzoo, registered on import: loaded as a pytest plugin
(``-p toy_op``), the generated suites must test and benchmark it with no edit to genzoo."""

from __future__ import annotations

import torch

from genzoo.kernels import registry


def scaled_tanh(x: torch.Tensor, scale: float) -> torch.Tensor:
    return torch.tanh(x) * scale


def make_call(
    case: registry.Case, dtype: torch.dtype, device: str, generator: torch.Generator
) -> registry.Call:
    x = torch.randn(case.params["shape"], generator=generator).to(device=device, dtype=dtype)
    return registry.Call((x, 1.5), {})


def cost(call: registry.Call) -> registry.Cost:
    x = call.args[0]
    return registry.Cost(bytes_moved=2 * x.numel() * x.element_size(), flops=2 * x.numel())


TOY_OP = registry.register(
    registry.Op(
        name="toy_scaled_tanh",
        eager=scaled_tanh,
        reference=registry.float64_reference(scaled_tanh),
        cost=cost,
        make_call=make_call,
        metric="GB/s",
        test_cases=[registry.Case("7x13", dict(shape=(7, 13)))],
        bench_cases={
            "cpu": [registry.Case("n=4099", dict(shape=(4099,)), quick=True)],
            "cuda": [registry.Case("n=2^24", dict(shape=(2**24,)), quick=True)],
        },
        dtypes=(torch.float32,),
        accepts_out=False,
    )
)
