"""Inputs and the accuracy check shared by the attention tests: fresh random inputs each run (the
seed goes into every failure message), outputs judged against the float64 eager reference, bf16
and fp16 by at most twice eager's own error in that dtype."""

from __future__ import annotations

import torch

from genzoo.kernels import attention
from genzoo.tolerance import LOW_PRECISION, error_limit, relative_error

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPES = [torch.float32, torch.bfloat16, torch.float16]


def fresh_seed() -> int:
    return torch.randint(0, 2**31 - 1, ()).item()


def qkv(b, h, hkv, nq, nk, d, dtype, seed, layout="bhnd"):
    """q [b, h, nq, d], k and v [b, hkv, nk, d]; ``layout="bnhd"``: transposed views, as
    transformers hands them over."""
    g = torch.Generator().manual_seed(seed)

    def randn(heads, seq):
        if layout == "bnhd":
            return torch.randn(b, seq, heads, d, generator=g).to(DEVICE, dtype).transpose(1, 2)
        return torch.randn(b, heads, seq, d, generator=g).to(DEVICE, dtype)

    return randn(h, nq), randn(hkv, nk), randn(hkv, nk)


def masks(q, k, seed, padding=False, mask=False) -> dict:
    """Random key lengths >= 1 (``key_padding_mask``) and a random per-head ``attn_mask`` [B, H, Nq, Nk]."""
    g = torch.Generator().manual_seed(seed + 1)
    b, nq, nk = q.shape[0], q.shape[2], k.shape[2]
    kwargs = {}
    if padding:
        lengths = torch.randint(1, nk + 1, (b,), generator=g)
        kwargs["key_padding_mask"] = (torch.arange(nk)[None, :] < lengths[:, None]).to(DEVICE)
    if mask:  # per head, so the kernels read the general [B, H, Nq, Nk] mask
        kwargs["attn_mask"] = (torch.rand(b, q.shape[1], nq, nk, generator=g) < 0.6).to(DEVICE)
    return kwargs


def assert_close(result, reference, eager, dtype, what, seed):
    eager_error = relative_error(eager, reference) if dtype in LOW_PRECISION else None
    limit = error_limit(dtype, eager_error)
    error = relative_error(result, reference)
    assert error <= limit, f"{what}, seed {seed}: error {error:.3g} > limit {limit:.3g} (eager {eager_error})"


def forward_checked(q, k, v, dtype, seed, causal=False, **masks):
    """``attention_triton`` into a NaN-poisoned ``out``, judged against the float64 reference."""
    out = torch.full_like(q, float("nan"), memory_format=torch.contiguous_format)
    result = attention.attention_triton(q, k, v, causal, out=out, **masks)
    assert result is out
    reference = attention.attention_eager(*(t.double() for t in (q, k, v)), causal, **masks)
    eager = attention.attention_eager(q, k, v, causal, **masks)
    assert_close(result, reference, eager, dtype, "out", seed)
    return result


def gradients(fn, q, k, v, grad_out, dtype, causal=False, **masks):
    """dq, dk, dv of ``fn`` on copies of q, k, v and grad_out cast to ``dtype``."""
    inputs = [t.detach().to(dtype).requires_grad_() for t in (q, k, v)]
    out = fn(*inputs, causal, **masks)
    return torch.autograd.grad(out, inputs, grad_out.to(dtype))
