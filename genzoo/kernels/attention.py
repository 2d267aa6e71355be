"""``attention``: softmax(scale Q K^T) V in the layout transformers and diffusers use,
q [B, H, Nq, D], k and v [B, Hkv, Nk, D] (Hkv divides H: grouped-query, multi-query attention).

Visibility: ``causal`` aligns bottom-right (query i sees keys j <= i + Nk - Nq, as a KV cache
needs; top-left equals it when Nq = Nk); ``key_padding_mask`` [B, Nk] (True: the key is real);
``attn_mask`` bool, broadcastable to [B, H, Nq, Nk] (True: attend). A row that sees no key gives
0, as ``F.scaled_dot_product_attention`` does.

The backends: ``attention_triton`` (the FlashAttention-2 forward of ``attention_forward.py``, or
split-KV decoding of ``attention_decode.py`` for seq_q <= 4 without a general mask, and the
backward of ``attention_backward.py``), ``attention_decode_triton`` (split-KV alone), eager (on
float64 inputs, the reference) and sdpa. The kernels are ``torch.library`` custom ops, so
``torch.compile(fullgraph=True)`` traces through them, and a ``torch.autograd.Function`` joins
them for training. ``attention_ops.py`` registers the ops built on them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genzoo.kernels import triton_mode
from genzoo.kernels.attention_backward import flash_attention_backward
from genzoo.kernels.attention_decode import (
    MAX_DECODE_QUERIES,
    MAX_PACKED_ROWS,
    decode_kernel_applies,
    flash_decoding,
)
from genzoo.kernels.attention_forward import flash_attention_forward
from genzoo.kernels.validation import FLOAT_DTYPES, KernelInputError, check_finite_scalar, check_tensor

MAX_HEAD_DIM = 256

# ----------------------------------------------------------------------------------------------
# Input checks, shared by every backend
# ----------------------------------------------------------------------------------------------


def check_attention_inputs(
    q,
    k,
    v,
    causal,
    scale,
    key_padding_mask,
    attn_mask,
    *,
    device=None,
    dtypes=FLOAT_DTYPES,
    max_head_dim=None,
) -> float:
    """Raise ``KernelInputError`` naming the bad argument; return the softmax scale."""
    check_tensor("q", q, dtypes=dtypes, device=device, ndim=4, contiguous=False)
    for name, tensor in (("k", k), ("v", v)):
        check_tensor(name, tensor, dtypes=(q.dtype,), ndim=4, contiguous=False)
        if tensor.device != q.device:
            raise KernelInputError(f"{name} is on {tensor.device} but q is on {q.device}")
    batch, num_heads, seq_q, head_dim = q.shape
    if k.shape[0] != batch or k.shape[3] != head_dim:
        raise KernelInputError(
            f"k has shape {tuple(k.shape)}; with q of shape {tuple(q.shape)} it must be "
            f"[{batch}, Hkv, Nk, {head_dim}]"
        )
    if v.shape != k.shape:
        raise KernelInputError(f"v has shape {tuple(v.shape)} but k has {tuple(k.shape)}")
    num_kv_heads, seq_k = k.shape[1], k.shape[2]
    if num_kv_heads == 0 or num_heads % num_kv_heads:
        raise KernelInputError(f"k has {num_kv_heads} heads, which do not divide the {num_heads} heads of q")
    if head_dim == 0:
        raise KernelInputError(f"q has head_dim 0 (shape {tuple(q.shape)})")
    if max_head_dim is not None and head_dim > max_head_dim:
        raise KernelInputError(
            f"q has head_dim {head_dim}; the kernel supports head_dim up to {max_head_dim}"
        )
    if not isinstance(causal, bool):
        raise KernelInputError(f"causal must be a bool, got {causal!r}")
    if key_padding_mask is not None:
        check_tensor("key_padding_mask", key_padding_mask, dtypes=(torch.bool,), ndim=2, contiguous=False)
        if tuple(key_padding_mask.shape) != (batch, seq_k):
            raise KernelInputError(
                f"key_padding_mask has shape {tuple(key_padding_mask.shape)}; "
                f"it must be [B, Nk] = {[batch, seq_k]}"
            )
    if attn_mask is not None:
        check_tensor("attn_mask", attn_mask, dtypes=(torch.bool,), ndim=4, contiguous=False)
        full = (batch, num_heads, seq_q, seq_k)
        if any(size not in (1, want) for size, want in zip(attn_mask.shape, full)):
            raise KernelInputError(
                f"attn_mask has shape {tuple(attn_mask.shape)}, which does not broadcast to "
                f"[B, H, Nq, Nk] = {list(full)}"
            )
    for name, mask in (("key_padding_mask", key_padding_mask), ("attn_mask", attn_mask)):
        if mask is not None and mask.device != q.device:
            raise KernelInputError(f"{name} is on {mask.device} but q is on {q.device}")
    return 1.0 / math.sqrt(head_dim) if scale is None else check_finite_scalar("scale", scale)


def kernel_masks(q, k, key_padding_mask, attn_mask):
    """Masks as the kernels take them: an ``attn_mask`` shared by heads and queries
    ([B|1, 1, 1, Nk], what transformers passes while decoding) becomes a key padding mask; the
    rest expands to [B, H, Nq, Nk]."""
    batch, num_heads, seq_q, _ = q.shape
    seq_k = k.shape[2]
    if attn_mask is not None and attn_mask.shape[1] == 1 and attn_mask.shape[2] == 1:
        keys = attn_mask[:, 0, 0, :].expand(batch, seq_k)
        key_padding_mask = keys if key_padding_mask is None else key_padding_mask & keys
        attn_mask = None
    if attn_mask is not None:
        attn_mask = attn_mask.expand(batch, num_heads, seq_q, seq_k)
    return key_padding_mask, attn_mask


# ----------------------------------------------------------------------------------------------
# Custom ops and autograd
# ----------------------------------------------------------------------------------------------


@torch.library.custom_op("genzoo::attention_forward", mutates_args=())
def _attention_forward_op(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    key_padding_mask: torch.Tensor | None,
    attn_mask: torch.Tensor | None,
    causal: bool,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    out = torch.empty(q.shape, device=q.device, dtype=q.dtype)
    lse = torch.empty(q.shape[:3], device=q.device, dtype=torch.float32)
    flash_attention_forward(q, k, v, key_padding_mask, attn_mask, causal, scale, out, lse)
    return out, lse


@_attention_forward_op.register_fake
def _(q, k, v, key_padding_mask, attn_mask, causal, scale):
    return q.new_empty(q.shape), q.new_empty(q.shape[:3], dtype=torch.float32)


@torch.library.custom_op("genzoo::attention_backward", mutates_args=())
def _attention_backward_op(
    grad_out: torch.Tensor,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    key_padding_mask: torch.Tensor | None,
    attn_mask: torch.Tensor | None,
    causal: bool,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return flash_attention_backward(grad_out, q, k, v, out, lse, key_padding_mask, attn_mask, causal, scale)


@_attention_backward_op.register_fake
def _(grad_out, q, k, v, out, lse, key_padding_mask, attn_mask, causal, scale):
    return q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape)


class FlashAttention(torch.autograd.Function):
    """Forward and backward custom ops joined for autograd; masks get no gradient."""

    @staticmethod
    def forward(ctx, q, k, v, key_padding_mask, attn_mask, causal, scale):
        out, lse = torch.ops.genzoo.attention_forward(q, k, v, key_padding_mask, attn_mask, causal, scale)
        ctx.save_for_backward(q, k, v, out, lse, key_padding_mask, attn_mask)
        ctx.causal, ctx.scale = causal, scale
        return out

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse, key_padding_mask, attn_mask = ctx.saved_tensors
        dq, dk, dv = torch.ops.genzoo.attention_backward(
            grad_out, q, k, v, out, lse, key_padding_mask, attn_mask, ctx.causal, ctx.scale
        )
        return dq, dk, dv, None, None, None, None


# ----------------------------------------------------------------------------------------------
# Backends: triton, decode (split-KV only), eager (and the float64 reference), sdpa
# ----------------------------------------------------------------------------------------------


def attention_triton(q, k, v, causal=False, scale=None, *, key_padding_mask=None, attn_mask=None, out=None):
    """Differentiable; ``out=`` (forward only) makes the kernel write into a given tensor."""
    device = triton_mode.triton_device()
    scale = check_attention_inputs(
        q, k, v, causal, scale, key_padding_mask, attn_mask, device=device, max_head_dim=MAX_HEAD_DIM
    )
    key_padding_mask, attn_mask = kernel_masks(q, k, key_padding_mask, attn_mask)
    if out is None:
        return FlashAttention.apply(q, k, v, key_padding_mask, attn_mask, causal, scale)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        raise KernelInputError("out= cannot be used when q, k or v requires grad; drop out= to train")
    lse = torch.empty(q.shape[:3], device=q.device, dtype=torch.float32)
    flash_attention_forward(q, k, v, key_padding_mask, attn_mask, causal, scale, _check_out(out, q), lse)
    return out


def attention_decode_triton(
    q, k, v, causal=False, scale=None, *, key_padding_mask=None, attn_mask=None, out=None
):
    """The split-KV kernel alone (forward only): seq_q <= 4 and no per-query mask."""
    device = triton_mode.triton_device()
    scale = check_attention_inputs(
        q, k, v, causal, scale, key_padding_mask, attn_mask, device=device, max_head_dim=MAX_HEAD_DIM
    )
    key_padding_mask, attn_mask = kernel_masks(q, k, key_padding_mask, attn_mask)
    if attn_mask is not None:
        raise KernelInputError(
            "attn_mask varies over heads or queries; the decode kernel takes only a key padding mask"
        )
    if k.shape[2] == 0:
        raise KernelInputError("k holds no keys; the decode kernel needs at least one")
    if not decode_kernel_applies(q.shape[2], k.shape[2], q.shape[1], k.shape[1], False):
        raise KernelInputError(
            f"q has {q.shape[2]} queries and {q.shape[1] // k.shape[1]} q heads per kv head; "
            f"the decode kernel takes 1..{MAX_DECODE_QUERIES} queries and at most {MAX_PACKED_ROWS} "
            f"of their products"
        )
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        raise KernelInputError(
            "q, k or v requires grad, but the decode kernel is forward-only; use attention_triton"
        )
    out = torch.empty(q.shape, device=q.device, dtype=q.dtype) if out is None else _check_out(out, q)
    lse = torch.empty(q.shape[:3], device=q.device, dtype=torch.float32)
    flash_decoding(q, k, v, key_padding_mask, causal, scale, out, lse)
    return out


def _check_out(out, q):
    check_tensor("out", out, dtypes=(q.dtype,), ndim=4, contiguous=False)
    if out.shape != q.shape or out.device != q.device:
        raise KernelInputError(
            f"out has shape {tuple(out.shape)} on {out.device}; "
            f"it must match q: {tuple(q.shape)} on {q.device}"
        )
    if any(stride == 0 and size > 1 for stride, size in zip(out.stride(), out.shape)):
        raise KernelInputError(f"out has a zero stride (strides {out.stride()}): its elements overlap")
    return out


def visible_keys(q, k, causal, key_padding_mask, attn_mask):
    """Boolean [B|1, H|1, Nq, Nk] of the keys each query sees, or None when it sees all."""
    seq_q, seq_k = q.shape[2], k.shape[2]
    visible = None
    if causal:  # bottom-right aligned: query i sees keys j <= i + Nk - Nq
        rows = torch.arange(seq_q, device=q.device)[:, None]
        visible = torch.arange(seq_k, device=q.device)[None, :] <= rows + (seq_k - seq_q)
    for extra in (None if key_padding_mask is None else key_padding_mask[:, None, None, :], attn_mask):
        if extra is not None:
            visible = extra if visible is None else visible & extra
    return visible


def attention_eager(q, k, v, causal=False, scale=None, *, key_padding_mask=None, attn_mask=None, out=None):
    """Matmul, softmax, matmul, in the inputs' dtype; on float64 inputs it is the reference."""
    scale = check_attention_inputs(
        q, k, v, causal, scale, key_padding_mask, attn_mask, dtypes=(*FLOAT_DTYPES, torch.float64)
    )
    # 1. grouped-query attention: kv head g serves q heads g*G .. g*G + G-1 (transformers' repeat_kv)
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    # 2. scores S = scale Q K^T: [B, H, Nq, Nk]
    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    # 3. softmax over the visible keys; a row that sees none gives 0 (as F.sdpa does)
    visible = visible_keys(q, k, causal, key_padding_mask, attn_mask)
    if visible is not None:
        scores = scores.masked_fill(~visible, float("-inf")).masked_fill(~visible.any(-1, keepdim=True), 0.0)
    probs = torch.softmax(scores, dim=-1)
    if visible is not None:
        probs = probs.masked_fill(~visible, 0.0)
    # 4. O = P V: [B, H, Nq, D]
    result = torch.matmul(probs, v)
    return result if out is None else out.copy_(result)


def attention_sdpa(q, k, v, causal=False, scale=None, *, key_padding_mask=None, attn_mask=None, out=None):
    """``F.scaled_dot_product_attention``; its ``is_causal`` aligns top-left, so causal with
    Nq != Nk (or with masks) goes in as an explicit boolean mask."""
    scale = check_attention_inputs(q, k, v, causal, scale, key_padding_mask, attn_mask)
    square_causal = causal and q.shape[2] == k.shape[2] and key_padding_mask is None and attn_mask is None
    visible = None if square_causal else visible_keys(q, k, causal, key_padding_mask, attn_mask)
    result = F.scaled_dot_product_attention(
        q, k, v, attn_mask=visible, is_causal=square_causal, scale=scale, enable_gqa=q.shape[1] != k.shape[1]
    )
    return result if out is None else out.copy_(result)
