"""The FlashAttention-2 forward kernel against the float64 eager reference: odd shapes (Nq < Nk and
Nq > Nk, head_dim 1 to 256, grouped- and multi-query heads), a long sequence, strided inputs,
empty tensors, K and V through the copy engine's tensor descriptors, and a large GPU case against
sdpa. Masks: test_attention_masks.py; gradients: test_attention_backward.py; split-KV decoding:
test_attention_decode.py."""

from __future__ import annotations

import pytest
import torch
from attention_cases import DEVICE, DTYPES, assert_close, forward_checked, fresh_seed, masks, qkv

from genzoo.kernels import attention, attention_forward
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import error_limit, relative_error

# (b, h, hkv, nq, nk, d, causal): seq 1, 17, 128; Nq < Nk and Nq > Nk; head_dim 16..256; GQA, MQA
FORWARD_SHAPES = [
    (1, 2, 2, 1, 1, 16, False),
    (2, 2, 2, 17, 17, 16, True),
    (1, 4, 2, 17, 40, 40, True),  # bottom-right causal, as a KV cache needs
    (1, 2, 2, 40, 17, 64, True),  # the first 23 rows see no key at all
    (1, 4, 1, 128, 128, 80, False),  # multi-query
    (1, 2, 2, 33, 70, 128, False),
    (1, 1, 1, 5, 9, 256, True),
    (1, 3, 3, 19, 6, 1, False),  # head_dim 1 pads to 16
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "shape", FORWARD_SHAPES, ids=lambda s: "B{}H{}/{}N{}x{}D{}{}".format(*s[:6], "c" if s[6] else "")
)
def test_forward_matches_float64_reference(shape, dtype):
    seed = fresh_seed()
    *sizes, causal = shape
    q, k, v = qkv(*sizes, dtype, seed)
    forward_checked(q, k, v, dtype, seed, causal)


def test_forward_long_sequence():
    """seq 1000: 63 query blocks x 63 key blocks under the interpreter's 16 x 16 tiles."""
    seed = fresh_seed()
    q, k, v = qkv(1, 1, 1, 1000, 1000, 64, torch.bfloat16, seed)
    forward_checked(q, k, v, torch.bfloat16, seed, causal=True)


def test_strided_inputs():
    """Transposed, sliced and broadcast (stride 0) inputs are read through their strides."""
    g = torch.Generator().manual_seed(fresh_seed())
    q = torch.randn(2, 23, 4, 32, generator=g).to(DEVICE).transpose(1, 2)  # [B, H, N, D] view of [B, N, H, D]
    k = (
        torch.randn(1, 2, 2 * 31, 32, generator=g).to(DEVICE)[:, :, ::2].expand(2, 2, 31, 32)
    )  # batch stride 0
    v = torch.randn(2, 2, 31, 64, generator=g).to(DEVICE)[..., ::2]  # head_dim stride 2
    result = attention.attention_triton(q, k, v, True)
    reference = attention.attention_eager(q.double(), k.double(), v.double(), True)
    assert relative_error(result, reference) <= 1e-5


@pytest.mark.parametrize(
    "shape", [(0, 2, 2, 5, 5, 16), (1, 2, 2, 0, 5, 16), (1, 2, 2, 5, 0, 16), (1, 0, 1, 5, 5, 16)]
)
def test_empty_tensors_work(shape):
    q, k, v = qkv(*shape, torch.float32, fresh_seed())
    for t in (q, k, v):
        t.requires_grad_()
    out = attention.attention_triton(q, k, v, True)
    assert out.shape == q.shape and torch.equal(out, attention.attention_eager(q, k, v, True))
    out.sum().backward()
    assert all(t.grad is not None and torch.equal(t.grad, torch.zeros_like(t)) for t in (q, k, v))


# (b, h, hkv, nq, nk, d, causal, layout, padding, mask): odd lengths past a block, head_dim padded
# by the copy engine's zero fill, GQA, transposed views, both masks
TMA_SHAPES = [
    (2, 4, 2, 19, 37, 40, True, "bhnd", True, False),
    (1, 2, 1, 40, 23, 80, True, "bnhd", False, True),
    (1, 2, 2, 33, 33, 64, False, "bnhd", True, True),
    (1, 1, 1, 17, 50, 128, False, "bhnd", False, False),
]


@pytest.mark.skipif(not hasattr(attention_forward, "flash_attention_fwd_tuned"), reason="needs triton")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("shape", TMA_SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_forward_through_tensor_descriptors(shape, dtype):
    """K and V read through host tensor descriptors (the copy engine on sm_90): same result as
    the pointer loads, every output element written, out-of-range rows and columns zero."""
    b, h, hkv, nq, nk, d, causal, layout, padding, mask = shape
    seed = fresh_seed()
    q, k, v = qkv(b, h, hkv, nq, nk, d, dtype, seed, layout)
    given = masks(q, k, seed, padding, mask)
    assert attention_forward.kv_descriptors(k, v, 128) is not None
    kpm, attn_mask = attention.kernel_masks(q, k, given.get("key_padding_mask"), given.get("attn_mask"))
    out, lse = torch.full_like(q, float("nan")), torch.full(q.shape[:3], float("nan"), device=DEVICE)
    attention_forward.flash_attention_forward(
        q, k, v, kpm, attn_mask, causal, d**-0.5, out, lse, use_tma=True
    )
    reference = attention.attention_eager(*(t.double() for t in (q, k, v)), causal, **given)
    assert_close(out, reference, attention.attention_eager(q, k, v, causal, **given), dtype, "out", seed)
    pointer_out, pointer_lse = torch.empty_like(q), torch.empty(q.shape[:3], device=DEVICE)
    attention_forward.flash_attention_forward(
        q, k, v, kpm, attn_mask, causal, d**-0.5, pointer_out, pointer_lse, use_tma=False
    )
    # the same tiles in the same order: equal under the interpreter, within a rounding on a GPU
    assert relative_error(out, pointer_out) <= torch.finfo(dtype).eps, seed
    assert torch.allclose(lse, pointer_lse, rtol=1e-6, atol=1e-6, equal_nan=True), seed


def test_tensor_descriptors_only_where_the_copy_engine_can_read():
    q, k, v = qkv(1, 2, 2, 8, 8, 40, torch.bfloat16, 0)
    assert attention_forward.kv_descriptors(k, v, 64) is not None
    assert attention_forward.kv_descriptors(k.float(), v.float(), 64) is None  # fp32: not the tensor cores
    odd = torch.randn(1, 2, 8, 9, dtype=torch.bfloat16, device=DEVICE)[..., :8]  # rows of 18 bytes
    assert attention_forward.kv_descriptors(odd, odd, 16) is None
    with pytest.raises(KernelInputError, match=r"^use_tma\b"):
        attention_forward.flash_attention_forward(
            q.float(),
            k.float(),
            v.float(),
            None,
            None,
            False,
            0.1,
            torch.empty_like(q.float()),
            torch.empty(q.shape[:3], device=DEVICE),
            use_tma=True,
        )


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("causal", [False, True])
def test_gpu_large_against_sdpa(causal):
    q, k, v = qkv(2, 8, 2, 2048, 2048, 128, torch.bfloat16, fresh_seed())
    reference = attention.attention_eager(*(t.double() for t in (q, k, v)), causal)
    result = attention.attention_triton(q, k, v, causal)
    sdpa = attention.attention_sdpa(q, k, v, causal)
    limit = error_limit(torch.bfloat16, relative_error(sdpa, reference))
    assert relative_error(result, reference) <= limit
    for use_tma in (True, False):  # each way of loading K and V, at a fixed config
        out, lse = torch.full_like(q, float("nan")), torch.empty(q.shape[:3], device=q.device)
        attention_forward.flash_attention_forward(
            q, k, v, None, None, causal, 128**-0.5, out, lse, use_tma=use_tma
        )
        assert relative_error(out, reference) <= limit, use_tma
