"""What the attention kernels share: the forward (``attention_forward.py``), its backward
(``attention_backward.py``) and split-KV decoding (``attention_decode.py``).

A tile holds rows of one head's [seq, head_dim] matrix, head_dim padded to a power of two (at
least 16, the tensor cores' k); rows past the sequence and columns past head_dim load as 0.
Scores live in base 2, since ``exp2`` is one instruction and ``exp`` is not: the host multiplies
the softmax scale by log2(e) once, and a log-sum-exp leaves the kernels in natural log (ln 2).
Visibility is the same everywhere: causal aligns bottom-right (query i sees keys j <= i + Nk - Nq),
a key padding mask [B, Nk] and a general mask [B, H, Nq, Nk] keep what is True, and a row that
sees no key gives 0 and lse = -inf.
"""

from __future__ import annotations

import torch

from genzoo.kernels import triton_mode

INTERPRETED_BLOCKS = {"BLOCK_M": 16, "BLOCK_N": 16}  # under the interpreter: one small config, no autotuning


def dot_mode(dtype: torch.dtype) -> str:
    """How ``tile_dot`` multiplies tiles of ``dtype`` (see there)."""
    if dtype == torch.float32:
        return "ieee"
    return "bf16_emulated" if dtype == torch.bfloat16 and triton_mode.interpreted() else "native"


def padded_head_dim(head_dim: int) -> int:
    """head_dim as tiles hold it: a power of two (``tl.arange`` needs one), at least 16 (the
    smallest k of a tensor-core product)."""
    return max(16, triton.next_power_of_2(head_dim))


def optional_mask(mask: torch.Tensor | None, ndim: int, placeholder: torch.Tensor):
    """(pointer, strides) of a boolean mask as the kernels read it, a uint8 view; for no mask, a
    placeholder that is never read (HAS_KPM, HAS_MASK off) and zero strides."""
    if mask is None:
        return placeholder, (0,) * ndim
    mask = mask.view(torch.uint8)
    return mask, mask.stride()


def kernel_flags(q, causal, key_padding_mask, attn_mask) -> dict:
    """The constexprs the forward and backward kernels specialise on, for q [B, H, Nq, D]."""
    head_dim = q.shape[3]
    return {
        "CAUSAL": causal,
        "HAS_KPM": key_padding_mask is not None,
        "HAS_MASK": attn_mask is not None,
        "DOT_MODE": dot_mode(q.dtype),
        "HEAD_DIM": head_dim,
        "HEAD_DIM_PAD": padded_head_dim(head_dim),
    }


if triton_mode.triton_available():
    import triton
    import triton.language as tl

    from genzoo.kernels.bf16_rounding import round_to_bf16

    # kernels read only constexpr globals; the host takes ``.value``
    LOG2E = tl.constexpr(1.4426950408889634)  # log2(e): natural-log scores to base 2
    LN2 = tl.constexpr(0.6931471805599453)  # ln(2): a base-2 log-sum-exp to natural log

    @triton.jit
    def for_store(x, DOT_MODE: tl.constexpr):
        """fp32 results about to be stored: rounded to bf16 here when the interpreter would truncate."""
        if DOT_MODE == "bf16_emulated":
            return round_to_bf16(x)
        else:
            return x

    @triton.jit
    def tile_dot(a, b, acc, DOT_MODE: tl.constexpr):
        """a @ b + acc, accumulated in fp32. "ieee": fp32 inputs at full precision (not TF32);
        "native": a cast to b's dtype (fp16/bf16 tensor cores); "bf16_emulated": the same
        rounding with fp32 products, for the interpreter, whose dot cannot multiply bf16."""
        if DOT_MODE == "ieee":
            return tl.dot(a, b, acc, input_precision="ieee")
        elif DOT_MODE == "bf16_emulated":
            return tl.dot(round_to_bf16(a.to(tl.float32)), b.to(tl.float32), acc, input_precision="ieee")
        else:
            return tl.dot(a.to(b.dtype), b, acc)

    @triton.jit
    def load_tile(base, offs_rows, offs_d, rows_in, stride_row, stride_d, HEAD_DIM: tl.constexpr):
        """Rows ``offs_rows`` of a [seq, head_dim] matrix; zeros past ``rows_in`` and past head_dim."""
        mask = rows_in[:, None] & (offs_d < HEAD_DIM)[None, :]
        return tl.load(
            base + offs_rows[:, None] * stride_row + offs_d[None, :] * stride_d, mask=mask, other=0.0
        )

    @triton.jit
    def key_block_range(
        start_m, seq_q, seq_k, CAUSAL: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr
    ):
        """(full, end) for the query tile at ``start_m``: key blocks [0, full) are visible to every
        row of the tile, [full, end) need masking (the seq_k edge, the bottom-right causal
        diagonal), keys from ``end`` on are seen by none."""
        shift = seq_k - seq_q
        if CAUSAL:
            end = tl.minimum(seq_k, start_m + BLOCK_M + shift)
            full = tl.minimum(
                tl.maximum(start_m + shift + 1, 0) // BLOCK_N * BLOCK_N, seq_k // BLOCK_N * BLOCK_N
            )
        else:
            end = seq_k
            full = seq_k // BLOCK_N * BLOCK_N
        return full, end

    @triton.jit
    def hide_invisible(
        s,
        offs_m,
        offs_n,
        n_in,
        kpm_base,
        mask_base,
        stride_kpm_n,
        stride_mask_m,
        stride_mask_n,
        seq_q,
        seq_k,
        FILL: tl.constexpr,
        BOUNDARY: tl.constexpr,
        CAUSAL: tl.constexpr,
        HAS_KPM: tl.constexpr,
        HAS_MASK: tl.constexpr,
        KEYS_ON_ROWS: tl.constexpr,
    ):
        """The score tile ``s`` with FILL where query ``offs_m`` does not see key ``offs_n``:
        past the keys (``n_in`` false) or the causal diagonal (only BOUNDARY blocks can cross
        either), outside the key padding mask, outside the general mask. ``s`` is [BLOCK_M,
        BLOCK_N], or [BLOCK_N, BLOCK_M] with KEYS_ON_ROWS (the backward's dK/dV tiles)."""
        queries = offs_m[None, :] if KEYS_ON_ROWS else offs_m[:, None]
        keys = offs_n[:, None] if KEYS_ON_ROWS else offs_n[None, :]
        keys_in = n_in[:, None] if KEYS_ON_ROWS else n_in[None, :]
        if BOUNDARY:
            visible = keys_in
            if CAUSAL:
                visible = visible & (keys <= queries + (seq_k - seq_q))
            s = tl.where(visible, s, FILL)
        if HAS_KPM:
            keep = tl.load(kpm_base + offs_n * stride_kpm_n, mask=n_in, other=0)
            keep = keep[:, None] if KEYS_ON_ROWS else keep[None, :]
            s = tl.where(keep != 0, s, FILL)
        if HAS_MASK:
            m_in = offs_m < seq_q
            rows_in = m_in[None, :] if KEYS_ON_ROWS else m_in[:, None]
            keep = tl.load(
                mask_base + queries * stride_mask_m + keys * stride_mask_n, mask=rows_in & keys_in, other=0
            )
            s = tl.where(keep != 0, s, FILL)
        return s

    @triton.jit
    def online_softmax_step(acc, l_i, m_i, qk, v, DOT_MODE: tl.constexpr):
        """Fold a block of base-2 scores ``qk`` [M, N] (-inf where hidden) and its values ``v``
        into the running row maximum ``m_i``, row sum ``l_i`` and output ``acc`` (FlashAttention-2);
        m_use = 0 while a row has seen no key, so that no -inf - -inf = NaN arises."""
        m_new = tl.maximum(m_i, tl.max(qk, 1))
        m_use = tl.where(m_new == float("-inf"), 0.0, m_new)
        p = tl.math.exp2(qk - m_use[:, None])
        alpha = tl.math.exp2(m_i - m_use)
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = tile_dot(p, v, acc * alpha[:, None], DOT_MODE)
        return acc, l_i, m_new

    @triton.jit
    def normalized(acc, l_i):
        """The output rows acc / l; rows that saw no key (l = 0) stay 0."""
        return acc / tl.where(l_i == 0.0, 1.0, l_i)[:, None]

    @triton.jit
    def log_sum_exp(m, l, NATURAL_LOG: tl.constexpr):
        """m + log2(l), the base-2 log-sum-exp of scores with maximum m and sum l of 2^(s - m),
        in natural log if NATURAL_LOG; -inf where l = 0 (no key seen)."""
        lse = m + tl.math.log2(tl.where(l == 0.0, 1.0, l))
        if NATURAL_LOG:
            lse = lse * LN2
        return tl.where(l == 0.0, float("-inf"), lse)
