"""Round-to-nearest fp32 -> bf16 for kernels run under Triton's interpreter.

On a GPU, ``x.to(tl.bfloat16)`` rounds to the nearest bf16 (ties to even). The interpreter's
conversion truncates instead, doubling the rounding error, so a correct kernel can fail the
bf16 tolerance on the CPU at random. Kernels round explicitly first when ``needs_rounding``.
"""

from __future__ import annotations

import torch

from genzoo.kernels import triton_mode


def needs_rounding(dtype: torch.dtype) -> bool:
    return dtype == torch.bfloat16 and triton_mode.interpreted()


if triton_mode.triton_available():
    import triton
    import triton.language as tl

    @triton.jit
    def round_to_bf16(x):
        """fp32 -> the nearest bf16 value (ties to even), kept in fp32: what a GPU's conversion gives."""
        bits = x.to(tl.uint32, bitcast=True)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return bits.to(tl.float32, bitcast=True)
