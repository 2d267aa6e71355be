"""What each query sees, in the forward kernel: key padding masks, general masks (per head and
query) and bottom-right causal alignment, alone and together, against the float64 reference;
rows that see no key give 0 and lse = -inf."""

from __future__ import annotations

import pytest
import torch
from attention_cases import DEVICE, forward_checked, fresh_seed, masks, qkv

from genzoo.tolerance import relative_error


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    "padding, mask, causal", [(True, False, False), (False, True, True), (True, True, True)]
)
def test_forward_with_masks(padding, mask, causal, dtype):
    seed = fresh_seed()
    q, k, v = qkv(2, 4, 2, 21, 37, 32, dtype, seed, layout="bnhd")
    forward_checked(q, k, v, dtype, seed, causal, **masks(q, k, seed, padding, mask))


@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 1, 1, 37), (2, 4, 1, 37), (1, 1, 21, 37)], ids=str)
def test_masks_broadcast_over_batch_heads_and_queries(shape):
    """attn_mask of any shape that broadcasts to [B, H, Nq, Nk]; [B, 1, 1, Nk] is what transformers
    passes while decoding."""
    seed = fresh_seed()
    q, k, v = qkv(2, 4, 2, 21, 37, 16, torch.float32, seed)
    attn_mask = torch.rand(shape, generator=torch.Generator().manual_seed(seed)).to(DEVICE) < 0.7
    forward_checked(q, k, v, torch.float32, seed, True, attn_mask=attn_mask)


def test_rows_that_see_no_key_give_zero_and_lse_minus_inf():
    q, k, v = qkv(2, 2, 2, 6, 20, 16, torch.float32, fresh_seed())
    key_padding_mask = torch.ones(2, 20, dtype=torch.bool, device=DEVICE)
    key_padding_mask[1] = False  # the second sequence has no real key
    out, lse = torch.ops.genzoo.attention_forward(q, k, v, key_padding_mask, None, False, 0.25)
    assert torch.equal(out[1], torch.zeros_like(out[1])) and torch.isinf(lse[1]).all() and (lse[1] < 0).all()
    scores = (q[0].double() @ k[0].double().transpose(-1, -2)) * 0.25
    assert relative_error(lse[0], torch.logsumexp(scores, -1)) <= 1e-6
