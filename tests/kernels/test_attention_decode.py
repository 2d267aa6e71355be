"""Split-KV decoding: chosen automatically for a few queries, correct against the float64
reference for 1..4 queries, grouped-query packing, causal and key padding masks (including
splits whose keys are all masked), and refused clearly outside its domain."""

from __future__ import annotations

import pytest
import torch
from attention_cases import DEVICE, DTYPES, assert_close, fresh_seed, qkv

from genzoo.kernels import attention, attention_decode, attention_forward
from genzoo.kernels.attention_tiles import INTERPRETED_BLOCKS
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import relative_error


@pytest.fixture
def kernel_calls(monkeypatch):
    """The launches of the split-KV path that the forward launcher makes."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return attention_decode.flash_decoding(*args, **kwargs)

    monkeypatch.setattr(attention_forward, "flash_decoding", spy)
    return calls


@pytest.mark.parametrize(
    "h, hkv, nq, masks, chosen",
    [
        (4, 4, 1, {}, True),
        (8, 2, 4, {}, True),  # 4 q heads per kv head x 4 queries packed in one 16-row tile
        (4, 4, 5, {}, False),  # more queries: FlashAttention-2
        (64, 1, 4, {}, False),  # 256 packed rows: too many for one tile
        (4, 4, 1, {"mask": (2, 1, 1, 40)}, True),  # [B, 1, 1, Nk]: a key padding mask in disguise
        (4, 4, 2, {"mask": (2, 4, 2, 40)}, False),  # per head and query: the general mask needs FA-2
    ],
)
def test_split_kv_is_chosen_for_a_few_queries(kernel_calls, h, hkv, nq, masks, chosen):
    q, k, v = qkv(2, h, hkv, nq, 40, 16, torch.float32, fresh_seed())
    attn_mask = torch.rand(masks["mask"], device=DEVICE) < 0.7 if "mask" in masks else None
    result = attention.attention_triton(q, k, v, attn_mask=attn_mask)
    assert bool(kernel_calls) == chosen
    reference = attention.attention_eager(q.double(), k.double(), v.double(), attn_mask=attn_mask)
    assert relative_error(result, reference) <= 1e-5


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "b, h, hkv, nq, nk, d, causal, padding",
    [
        (1, 2, 2, 1, 1, 16, False, False),  # one key
        (2, 8, 2, 1, 300, 64, False, True),  # 4 splits; short sequences leave whole splits masked
        (1, 6, 2, 3, 77, 40, True, False),  # causal with 3 queries: the last keys hidden from the first
        (2, 4, 4, 4, 130, 128, True, True),
    ],
)
def test_decode_matches_float64_reference(b, h, hkv, nq, nk, d, causal, padding, dtype):
    seed = fresh_seed()
    q, k, v = qkv(b, h, hkv, nq, nk, d, dtype, seed)
    masks = {}
    if padding:
        lengths = torch.randint(1, nk // 3, (b,), generator=torch.Generator().manual_seed(seed))
        masks["key_padding_mask"] = (torch.arange(nk)[None, :] < lengths[:, None]).to(DEVICE)
    out = torch.full_like(q, float("nan"))
    assert attention.attention_decode_triton(q, k, v, causal, out=out, **masks) is out
    reference = attention.attention_eager(q.double(), k.double(), v.double(), causal, **masks)
    assert_close(out, reference, attention.attention_eager(q, k, v, causal, **masks), dtype, "out", seed)


def test_decode_lse_and_rows_without_keys():
    q, k, v = qkv(2, 4, 2, 1, 50, 16, torch.float32, fresh_seed())
    key_padding_mask = torch.ones(2, 50, dtype=torch.bool, device=DEVICE)
    key_padding_mask[0] = False
    out, lse = torch.ops.genzoo.attention_forward(q, k, v, key_padding_mask, None, False, 0.25)
    assert torch.equal(out[0], torch.zeros_like(out[0])) and (lse[0] == float("-inf")).all()
    scores = q[1].double() @ k[1].double().repeat_interleave(2, 0).transpose(-1, -2) * 0.25
    assert relative_error(lse[1], torch.logsumexp(scores, -1)) <= 1e-6


def test_gradients_through_the_decode_forward():
    """The split-KV forward saves the same log-sum-exp as FlashAttention-2: training works."""
    seed = fresh_seed()
    q, k, v = (t.requires_grad_() for t in qkv(1, 4, 2, 2, 70, 32, torch.float32, seed))
    attention.attention_triton(q, k, v, True).square().sum().backward()
    q64, k64, v64 = (t.detach().double().requires_grad_() for t in (q, k, v))
    attention.attention_eager(q64, k64, v64, True).square().sum().backward()
    for g, ref in zip((q.grad, k.grad, v.grad), (q64.grad, k64.grad, v64.grad)):
        assert relative_error(g, ref) <= 1e-5, f"seed {seed}"


@pytest.mark.parametrize(
    "nq, nk, kwargs, name",
    [
        (5, 20, {}, "q"),  # more queries than the decode kernel takes
        (1, 0, {}, "k"),  # an empty key cache
        (2, 20, {"attn_mask": True}, "attn_mask"),  # a mask per query
        (1, 20, {"requires_grad": True}, "q"),  # forward-only
    ],
)
def test_decode_refuses_what_it_does_not_do_by_name(nq, nk, kwargs, name):
    q, k, v = qkv(1, 2, 2, nq, nk, 16, torch.float32, fresh_seed())
    attn_mask = torch.ones(1, 2, nq, nk, dtype=torch.bool, device=DEVICE) if kwargs.get("attn_mask") else None
    if kwargs.get("requires_grad"):
        q.requires_grad_()
    with pytest.raises(KernelInputError, match=rf"^{name}\b"):
        attention.attention_decode_triton(q, k, v, attn_mask=attn_mask)


def test_attention_handles_an_empty_key_cache():
    q, k, v = qkv(1, 2, 2, 1, 0, 16, torch.float32, fresh_seed())
    assert torch.equal(attention.attention_triton(q, k, v), torch.zeros_like(q))  # FA-2 handles it


@pytest.mark.parametrize(
    "batch, kv_heads, seq_k", [(1, 8, 65536), (8, 8, 8192), (32, 8, 1024), (1, 1, 100), (2, 4, 1)]
)
@pytest.mark.parametrize("sms", [132, None])  # an H100; None: the interpreter's plan
def test_split_plan_covers_the_keys_once(batch, kv_heads, seq_k, sms):
    splits, chunk = attention_decode.split_plan(batch, kv_heads, seq_k, sms)
    assert (splits - 1) * chunk < seq_k <= splits * chunk  # no empty split at the end
    # every split but the last is whole key blocks of any config autotuning may choose
    assert chunk % (attention_decode.CHUNK_MULTIPLE if sms else INTERPRETED_BLOCKS["BLOCK_N"]) == 0
    if sms:
        assert splits <= attention_decode.MAX_SPLITS
        assert batch * kv_heads * splits >= min(sms, batch * kv_heads * seq_k // 128)  # the GPU is kept busy
