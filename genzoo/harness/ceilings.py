"""The machine's own ceilings, measured in the same run as the ops they judge.

A kernel's GB/s means little beside a datasheet number; beside what a plain large copy achieves
on the same device, moments earlier, it says how close to the memory system the kernel gets.
Likewise TFLOP/s against a large matrix product in the same dtype.
"""

from __future__ import annotations

import dataclasses

import torch

from genzoo.harness.timing import Timing, TimingPlan, measure


@dataclasses.dataclass(frozen=True)
class CeilingSizes:
    copy_bytes: int  # per buffer; several times the last-level cache
    matmul_n: int  # square n x n x n product


CEILING_SIZES = {
    "cpu": CeilingSizes(copy_bytes=256 * 2**20, matmul_n=1024),
    "cuda": CeilingSizes(copy_bytes=1 * 2**30, matmul_n=8192),
}
MATMUL_DTYPES = {
    "cpu": (torch.float32, torch.bfloat16),
    "cuda": (torch.float32, torch.bfloat16, torch.float16),
}


@dataclasses.dataclass(frozen=True)
class Ceilings:
    device: str
    copy_gbps: float  # bytes read + bytes written per second, in 1e9
    matmul_tflops: dict[str, float]  # by dtype name ("float32", "bfloat16", ...)

    def for_metric(self, metric: str, dtype: torch.dtype) -> float | None:
        if metric == "GB/s":
            return self.copy_gbps
        return self.matmul_tflops.get(dtype_name(dtype))


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def copy_bandwidth(device: str, nbytes: int, plan: TimingPlan = TimingPlan()) -> float:
    """GB/s of ``dst.copy_(src)`` counting bytes read and written."""
    src = torch.randn(nbytes // 4, device=device)
    dst = torch.empty_like(src)
    timing = measure(lambda: dst.copy_(src), device, plan)
    return 2 * src.numel() * src.element_size() / timing.median_s / 1e9


def matmul_throughput(device: str, n: int, dtype: torch.dtype, plan: TimingPlan = TimingPlan()) -> float:
    """TFLOP/s of an n x n x n product (2 n^3 FLOPs) on random data; fp32 runs without TF32."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        timing: Timing = measure(lambda: a @ b, device, plan)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    return 2 * n**3 / timing.median_s / 1e12


def measure_ceilings(device: str, sizes: CeilingSizes | None = None) -> Ceilings:
    kind = torch.device(device).type
    sizes = sizes or CEILING_SIZES[kind]
    return Ceilings(
        device=kind,
        copy_gbps=copy_bandwidth(device, sizes.copy_bytes),
        matmul_tflops={
            dtype_name(dtype): matmul_throughput(device, sizes.matmul_n, dtype)
            for dtype in MATMUL_DTYPES[kind]
        },
    )
