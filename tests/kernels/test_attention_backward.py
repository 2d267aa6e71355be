"""The FlashAttention-2 backward kernels: dq, dk, dv against float64 autograd through the eager
code (grouped-query heads summed, bottom-right causal, key padding and general masks, rows
without keys), every gradient element written, and a few training steps that end where eager's
end."""

from __future__ import annotations

import pytest
import torch
from attention_cases import DEVICE, DTYPES, assert_close, fresh_seed, gradients, masks, qkv

from genzoo import kernels
from genzoo.kernels import attention
from genzoo.kernels.attention_backward import flash_attention_backward
from genzoo.tolerance import relative_error

# (b, h, hkv, nq, nk, d, causal, padding, mask)
BACKWARD_SHAPES = [
    (1, 2, 1, 17, 17, 16, True, False, False),
    (2, 2, 2, 9, 24, 40, False, True, True),
    (1, 2, 2, 24, 9, 64, True, False, False),  # Nq > Nk: rows without keys get zero gradient
    (1, 4, 2, 33, 47, 80, True, True, False),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "shape",
    BACKWARD_SHAPES,
    ids=lambda s: "B{}H{}/{}N{}x{}D{}".format(*s[:6]) + "c" * s[6] + "p" * s[7] + "m" * s[8],
)
def test_gradients_match_float64_reference(shape, dtype):
    seed = fresh_seed()
    b, h, hkv, nq, nk, d, causal, padding, mask = shape
    q, k, v = qkv(b, h, hkv, nq, nk, d, dtype, seed, layout="bnhd" if padding else "bhnd")
    given = masks(q, k, seed, padding, mask)
    grad_out = torch.randn(q.shape, generator=torch.Generator().manual_seed(seed + 2)).to(DEVICE, dtype)
    reference = gradients(attention.attention_eager, q, k, v, grad_out, torch.float64, causal, **given)
    eager = gradients(attention.attention_eager, q, k, v, grad_out, dtype, causal, **given)
    result = gradients(attention.attention_triton, q, k, v, grad_out, dtype, causal, **given)
    for name, r, ref, e in zip(("dq", "dk", "dv"), result, reference, eager):
        assert r.dtype == dtype and r.shape == ref.shape
        assert_close(r, ref, e, dtype, name, seed)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_backward_kernels_write_every_gradient_element(dtype):
    """dq, dk, dv poisoned with NaN before the launch: every element must be written."""
    seed = fresh_seed()
    q, k, v = qkv(2, 4, 2, 19, 23, 40, dtype, seed)
    mask = torch.rand(2, 1, 19, 23, generator=torch.Generator().manual_seed(seed)).to(DEVICE) < 0.7
    full_mask = mask.expand(2, 4, 19, 23)
    out, lse = torch.ops.genzoo.attention_forward(q, k, v, None, full_mask, True, 0.2)
    grad_out = torch.randn_like(out)
    grads = tuple(torch.full_like(t, float("nan")) for t in (q, k, v))
    flash_attention_backward(grad_out, q, k, v, out, lse, None, full_mask, True, 0.2, grads=grads)

    def eager(q, k, v, causal):
        return attention.attention_eager(q, k, v, causal, 0.2, attn_mask=mask)

    reference = gradients(eager, q, k, v, grad_out, torch.float64, True)
    in_dtype = gradients(eager, q, k, v, grad_out, dtype, True)
    for name, g, ref, e in zip(("dq", "dk", "dv"), grads, reference, in_dtype):
        assert_close(g, ref, e, dtype, name, seed)


def test_a_training_step_matches_eager():
    """A tiny attention block trained for three steps gives the same weights on triton and eager."""
    torch.manual_seed(fresh_seed())
    x = torch.randn(2, 13, 32, device=DEVICE)
    start = torch.nn.Linear(32, 96).to(DEVICE)
    weights = {}
    for backend in ("eager", "triton"):
        layer = torch.nn.Linear(32, 96).to(DEVICE)
        layer.load_state_dict(start.state_dict())
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
        for _ in range(3):
            q, k, v = layer(x).view(2, 13, 3, 2, 16).permute(2, 0, 3, 1, 4)  # 3 x [B, H, N, D], strided
            with kernels.use(backend):
                loss = kernels.ops.attention(q, k, v, causal=True).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        weights[backend] = layer.weight.detach()
    assert relative_error(weights["triton"], weights["eager"].double()) <= 1e-5
