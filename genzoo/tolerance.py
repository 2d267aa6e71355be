"""Tolerances by dtype, and the error measure they apply to.

Error is normwise: ``max|out - ref| / max|ref|`` against a float64 reference. Elementwise
relative error blows up where the reference crosses zero, which says nothing about the kernel.

Low precision follows flash-attention's rule: a kernel's error in bf16/fp16 may be at most twice
the error of PyTorch's own eager code run in that same dtype (plus one unit of roundoff, so an
eager error of exactly 0 does not demand perfection). A fixed bound alone is either too loose for
fp32 or too tight for bf16.
"""

from __future__ import annotations

import dataclasses

import torch


@dataclasses.dataclass(frozen=True)
class Tolerance:
    bound: float
    reason: str


TOLERANCES: dict[torch.dtype, Tolerance] = {
    torch.float64: Tolerance(1e-12, "float64 math differs only by reassociation"),
    torch.float32: Tolerance(1e-5, "fp32 (2^-24 roundoff) after a few dozen ops, reassociated"),
    torch.bfloat16: Tolerance(1e-2, "bf16 keeps 8 mantissa bits: 2^-8 = 3.9e-3 per rounding"),
    torch.float16: Tolerance(1e-2, "fp16 keeps 11 mantissa bits; 1e-2 leaves room for accumulation"),
}
# a whole model's float32 output under another backend, against eager's: hundreds of ops, each a
# few roundoffs, some (fused kernels, attention) reassociated; sampling loops add them up
MODEL_OUTPUT_FP32 = Tolerance(1e-4, "a whole model in fp32: hundreds of ops, reassociated by fused kernels")

LOW_PRECISION = (torch.bfloat16, torch.float16)
EAGER_ERROR_FACTOR = 2.0


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    """``max|out - ref| / max|ref|`` computed in float64; NaN anywhere in ``out`` gives inf."""
    if out.shape != ref.shape:
        raise ValueError(f"output shape {tuple(out.shape)} differs from reference {tuple(ref.shape)}")
    if out.numel() == 0:
        return 0.0
    out64, ref64 = out.detach().double().cpu(), ref.detach().double().cpu()
    if not torch.isfinite(out64).all():
        return float("inf")
    scale = ref64.abs().max().item()
    return (out64 - ref64).abs().max().item() / (scale if scale > 0 else 1.0)


def roundoff(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps / 2


def error_limit(dtype: torch.dtype, eager_error: float | None = None) -> float:
    """The largest error a backend may show in ``dtype``.

    For bf16/fp16, when the eager error in that dtype is known, the limit is
    ``2 * eager_error + roundoff``: a kernel may be at most twice as wrong as eager itself.
    """
    if dtype in LOW_PRECISION and eager_error is not None:
        return EAGER_ERROR_FACTOR * eager_error + roundoff(dtype)
    return TOLERANCES[dtype].bound


def model_error_limit(dtype: torch.dtype, eager_error: float | None = None) -> float:
    """The largest error a whole model's output may show against eager float32: the model bound in
    fp32, and in bf16/fp16 the same rule as an op's (twice eager's own error in that dtype)."""
    if dtype == torch.float32:
        return MODEL_OUTPUT_FP32.bound
    return error_limit(dtype, eager_error)
