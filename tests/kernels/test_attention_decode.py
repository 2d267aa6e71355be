"""Split-KV decoding: chosen automatically for a few queries, correct against the float64
reference for 1..4 queries, grouped-query packing, causal and key padding masks (including
splits whose keys are all masked), and refused clearly outside its domain."""

from __future__ import annotations

import pytest
import torch

from genzoo.kernels import attention, attention_decode
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import LOW_PRECISION, error_limit, relative_error

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


def _seed() -> int:
    return torch.randint(0, 2**31 - 1, ()).item()  # fresh inputs each run; the seed is reported


def _qkv(b, h, hkv, nq, nk, d, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    return tuple(
        torch.randn(b, heads, n, d, generator=g).to(DEVICE, dtype)
        for heads, n in ((h, nq), (hkv, nk), (hkv, nk))
    )


@pytest.fixture
def kernel_calls(monkeypatch):
    """Counts launches of the split-KV path made by ``attention_triton``."""
    calls = []

    def spy(*args, **kwargs):
        calls.append(args[0].shape)
        return attention_decode.flash_decoding(*args, **kwargs)

    monkeypatch.setattr(attention, "flash_decoding", spy)
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
    q, k, v = _qkv(2, h, hkv, nq, 40, 16, torch.float32, _seed())
    attn_mask = torch.rand(masks["mask"], device=DEVICE) < 0.7 if "mask" in masks else None
    result = attention.attention_triton(q, k, v, attn_mask=attn_mask)
    assert bool(kernel_calls) == chosen
    reference = attention.attention_eager(q.double(), k.double(), v.double(), attn_mask=attn_mask)
    assert relative_error(result, reference) <= 1e-5


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize(
    "b, h, hkv, nq, nk, d, causal, padding",
    [
        (1, 2, 2, 1, 1, 16, False, False),  # one key
        (2, 8, 2, 1, 300, 64, False, True),  # 4 splits; short sequences leave whole splits masked
        (
            1,
            6,
            2,
            3,
            77,
            40,
            True,
            False,
        ),  # causal with 3 queries: the last keys are hidden from early queries
        (2, 4, 4, 4, 130, 128, True, True),
    ],
)
def test_decode_matches_float64_reference(b, h, hkv, nq, nk, d, causal, padding, dtype):
    seed = _seed()
    q, k, v = _qkv(b, h, hkv, nq, nk, d, dtype, seed)
    masks = {}
    if padding:
        lengths = torch.randint(1, nk // 3, (b,), generator=torch.Generator().manual_seed(seed))
        masks["key_padding_mask"] = (torch.arange(nk)[None, :] < lengths[:, None]).to(DEVICE)
    out = torch.full_like(q, float("nan"))
    assert attention.attention_decode_triton(q, k, v, causal, out=out, **masks) is out
    reference = attention.attention_eager(q.double(), k.double(), v.double(), causal, **masks)
    eager = attention.attention_eager(q, k, v, causal, **masks)
    limit = error_limit(dtype, relative_error(eager, reference) if dtype in LOW_PRECISION else None)
    assert relative_error(out, reference) <= limit, f"seed {seed}"


def test_decode_lse_and_rows_without_keys():
    q, k, v = _qkv(2, 4, 2, 1, 50, 16, torch.float32, _seed())
    key_padding_mask = torch.ones(2, 50, dtype=torch.bool, device=DEVICE)
    key_padding_mask[0] = False
    out, lse = torch.ops.genzoo.attention_forward(q, k, v, key_padding_mask, None, False, 0.25)
    assert torch.equal(out[0], torch.zeros_like(out[0])) and (lse[0] == float("-inf")).all()
    scores = q[1].double() @ k[1].double().repeat_interleave(2, 0).transpose(-1, -2) * 0.25
    assert relative_error(lse[1], torch.logsumexp(scores, -1)) <= 1e-6


def test_gradients_through_the_decode_forward():
    """The split-KV forward saves the same log-sum-exp as FlashAttention-2: training works."""
    seed = _seed()
    q, k, v = (t.requires_grad_() for t in _qkv(1, 4, 2, 2, 70, 32, torch.float32, seed))
    attention.attention_triton(q, k, v, True).square().sum().backward()
    q64, k64, v64 = (t.detach().double().requires_grad_() for t in (q, k, v))
    attention.attention_eager(q64, k64, v64, True).square().sum().backward()
    for g, ref in zip((q.grad, k.grad, v.grad), (q64.grad, k64.grad, v64.grad)):
        assert relative_error(g, ref) <= 1e-5, f"seed {seed}"


@pytest.mark.parametrize(
    "nq, kwargs, message",
    [
        (5, {}, "the decode kernel takes 1..4 queries"),
        (2, {"attn_mask": True}, "the decode kernel takes only a key padding mask"),
        (1, {"requires_grad": True}, "the decode kernel is forward-only"),
    ],
)
def test_decode_refuses_what_it_does_not_do(nq, kwargs, message):
    q, k, v = _qkv(1, 2, 2, nq, 20, 16, torch.float32, _seed())
    attn_mask = torch.ones(1, 2, nq, 20, dtype=torch.bool, device=DEVICE) if kwargs.get("attn_mask") else None
    if kwargs.get("requires_grad"):
        q.requires_grad_()
    with pytest.raises(KernelInputError, match=message):
        attention.attention_decode_triton(q, k, v, attn_mask=attn_mask)


def test_decode_refuses_empty_key_cache():
    q, k, v = _qkv(1, 2, 2, 1, 0, 16, torch.float32, _seed())
    with pytest.raises(KernelInputError, match="at least one key"):
        attention.attention_decode_triton(q, k, v)
    assert torch.equal(attention.attention_triton(q, k, v), torch.zeros_like(q))  # FA-2 handles it


@pytest.mark.parametrize(
    "batch, kv_heads, seq_k", [(1, 8, 65536), (8, 8, 8192), (32, 8, 1024), (1, 1, 100), (2, 4, 1)]
)
@pytest.mark.parametrize("sms", [132, None])  # an H100; None: the interpreter's plan
def test_split_plan_covers_the_keys_once(batch, kv_heads, seq_k, sms):
    splits, chunk = attention_decode.split_plan(batch, kv_heads, seq_k, sms)
    assert (splits - 1) * chunk < seq_k <= splits * chunk  # no empty split at the end
    assert chunk % (128 if sms else attention_decode.INTERPRETED_BLOCK_N) == 0
    if sms:
        assert splits <= attention_decode.MAX_SPLITS
        assert batch * kv_heads * splits >= min(sms, batch * kv_heads * seq_k // 128)  # the GPU is kept busy
