"""Split-KV attention ("flash-decoding") for a few query tokens against a long KV cache.

While generating, each step brings 1 new query token per sequence, and the KV cache holds
thousands. FlashAttention-2 parallelises over (query block, batch, head): with seq_q = 1 that is
B * H programs, far too few to keep 132 SMs streaming K and V from HBM. Flash-decoding
(Dao, Haziza, Massa, Sizov 2023, "Flash-Decoding for long-context inference") also splits the
keys into ``num_splits`` chunks, each reduced by its own program, then merges the partial results
with their log-sum-exps:

    pass 1, program (split s, batch b, kv head g):
        rows r = (head, query) of the G * Nq queries that read kv head g (grouped-query attention
        packs them into one tile, so K and V are read once per kv head, not once per q head)
        O_s = softmax(S[:, chunk s]) V[chunk s]    lse_s = logsumexp(S[:, chunk s])   (fp32)
    pass 2, program (b, h, i):
        lse = logsumexp_s(lse_s)                   O = sum_s exp(lse_s - lse) O_s

    bytes ~= elsize * (K + V) + small: memory bound, judged in GB/s
    FLOPs  = 4 * B * H * Nq * Nk * D

Masks: causal (bottom-right aligned: query i sees keys j <= i + Nk - Nq) and a key padding mask
[B, Nk]; rows that see no key give 0 and lse = -inf. The forward launcher
(``attention_forward.py``) runs this kernel where ``decode_kernel_applies``; ``attention.py``
owns the input checks.
"""

from __future__ import annotations

import torch

from genzoo.kernels import triton_mode
from genzoo.kernels.attention_tiles import INTERPRETED_BLOCKS, dot_mode, optional_mask, padded_head_dim

MAX_DECODE_QUERIES = 4  # seq_q up to this goes through split-KV when no general mask is given
MAX_PACKED_ROWS = 128  # (q heads per kv head) * seq_q rows in one tile; more: the FA-2 kernel
MAX_SPLITS = 128

if triton_mode.triton_available():
    import triton
    import triton.language as tl

    from genzoo.kernels.attention_tiles import (
        LOG2E,
        for_store,
        load_tile,
        log_sum_exp,
        normalized,
        online_softmax_step,
        tile_dot,
    )

    @triton.jit
    def flash_decoding_split_kernel(
        q_ptr,
        k_ptr,
        v_ptr,
        kpm_ptr,
        part_out_ptr,
        part_lse_ptr,
        stride_qb,
        stride_qh,
        stride_qm,
        stride_qd,
        stride_kb,
        stride_kh,
        stride_kn,
        stride_kd,
        stride_vb,
        stride_vh,
        stride_vn,
        stride_vd,
        stride_kpm_b,
        stride_kpm_n,
        num_kv_heads,
        group_size,
        seq_q,
        seq_k,
        chunk_size,
        num_splits,
        qk_scale,
        seq_k_class,  # autotuning key only
        CAUSAL: tl.constexpr,
        HAS_KPM: tl.constexpr,
        DOT_MODE: tl.constexpr,
        HEAD_DIM: tl.constexpr,
        HEAD_DIM_PAD: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
    ):
        split = tl.program_id(0)
        bg = tl.program_id(1).to(tl.int64)
        b, g = bg // num_kv_heads, bg % num_kv_heads
        # row r of the tile is query i = r % seq_q of q head g * group_size + r // seq_q
        rows = tl.arange(0, BLOCK_M)
        row_in = rows < group_size * seq_q
        head = g * group_size + rows // seq_q
        query = rows % seq_q
        offs_d = tl.arange(0, HEAD_DIM_PAD)
        d_in = offs_d < HEAD_DIM
        q_rows = q_ptr + b * stride_qb + head * stride_qh + query * stride_qm
        q = tl.load(
            q_rows[:, None] + offs_d[None, :] * stride_qd, mask=row_in[:, None] & d_in[None, :], other=0.0
        )
        k_base = k_ptr + b * stride_kb + g * stride_kh
        v_base = v_ptr + b * stride_vb + g * stride_vh

        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)  # running max of S * log2(e)
        l_i = tl.zeros([BLOCK_M], tl.float32)  # running sum of exp2(S * log2(e) - m_i)
        acc = tl.zeros([BLOCK_M, HEAD_DIM_PAD], tl.float32)
        start = split * chunk_size
        end = tl.minimum(start + chunk_size, seq_k)
        for start_n in range(start, end, BLOCK_N):
            offs_n = start_n + tl.arange(0, BLOCK_N)
            n_in = offs_n < end
            k = load_tile(k_base, offs_n, offs_d, n_in, stride_kn, stride_kd, HEAD_DIM)
            v = load_tile(v_base, offs_n, offs_d, n_in, stride_vn, stride_vd, HEAD_DIM)
            qk = tile_dot(q, tl.trans(k), tl.zeros([BLOCK_M, BLOCK_N], tl.float32), DOT_MODE) * qk_scale
            visible = n_in[None, :] & row_in[:, None]
            if CAUSAL:  # bottom-right: query i sees keys j <= i + seq_k - seq_q
                visible = visible & (offs_n[None, :] <= query[:, None] + (seq_k - seq_q))
            if HAS_KPM:
                keep = tl.load(kpm_ptr + b * stride_kpm_b + offs_n * stride_kpm_n, mask=n_in, other=0)
                visible = visible & (keep[None, :] != 0)
            qk = tl.where(visible, qk, float("-inf"))
            acc, l_i, m_i = online_softmax_step(acc, l_i, m_i, qk, v, DOT_MODE)

        # partials: out_part [B, Hq, Nq, S, HEAD_DIM_PAD], lse_part [B, Hq, Nq, S] (fp32, base 2)
        out = normalized(acc, l_i)
        lse = log_sum_exp(m_i, l_i, False)
        part_row = ((b * num_kv_heads * group_size + head) * seq_q + query) * num_splits + split
        tl.store(part_out_ptr + part_row[:, None] * HEAD_DIM_PAD + offs_d[None, :], out, mask=row_in[:, None])
        tl.store(part_lse_ptr + part_row, lse, mask=row_in)

    @triton.jit
    def flash_decoding_merge_kernel(
        part_out_ptr,
        part_lse_ptr,
        out_ptr,
        lse_ptr,
        stride_ob,
        stride_oh,
        stride_om,
        stride_od,
        num_heads,
        seq_q,
        num_splits,
        DOT_MODE: tl.constexpr,
        HEAD_DIM: tl.constexpr,
        HEAD_DIM_PAD: tl.constexpr,
        BLOCK_S: tl.constexpr,
    ):
        row = tl.program_id(0).to(tl.int64)  # (b * H + h) * seq_q + i
        b, h, i = row // (num_heads * seq_q), row // seq_q % num_heads, row % seq_q
        offs_s = tl.arange(0, BLOCK_S)
        offs_d = tl.arange(0, HEAD_DIM_PAD)
        s_in = offs_s < num_splits
        lse_s = tl.load(part_lse_ptr + row * num_splits + offs_s, mask=s_in, other=float("-inf"))
        m = tl.max(lse_s, 0)
        m_use = tl.where(m == float("-inf"), 0.0, m)
        w = tl.math.exp2(lse_s - m_use)  # 0 for empty splits
        total = tl.sum(w, 0)
        parts = tl.load(
            part_out_ptr + (row * num_splits + offs_s)[:, None] * HEAD_DIM_PAD + offs_d[None, :],
            mask=s_in[:, None],
            other=0.0,
        )
        out = tl.sum(parts * w[:, None], 0) / tl.where(total == 0.0, 1.0, total)
        out_row = out_ptr + b * stride_ob + h * stride_oh + i * stride_om
        tl.store(
            out_row + offs_d * stride_od,
            for_store(out, DOT_MODE).to(out_ptr.dtype.element_ty),
            mask=offs_d < HEAD_DIM,
        )
        tl.store(lse_ptr + row, log_sum_exp(m_use, total, True))  # natural log, as the FA-2 forward saves it

    # memory bound: enough keys in flight per program, few warps; the key is the shape class
    flash_decoding_split_tuned = triton.autotune(
        configs=[
            triton.Config({"BLOCK_N": bn}, num_warps=w, num_stages=s)
            for bn in (32, 64, 128)
            for w in (4, 8)
            for s in (2, 3, 4)
        ],
        key=["seq_k_class", "HEAD_DIM_PAD", "BLOCK_M", "CAUSAL", "HAS_KPM"],
    )(flash_decoding_split_kernel)

CHUNK_MULTIPLE = 128  # every split but the last holds a multiple of the largest BLOCK_N


def decode_kernel_applies(seq_q: int, seq_k: int, num_heads: int, num_kv_heads: int, has_mask: bool) -> bool:
    """Whether ``attention`` takes the split-KV path: few queries, no general [Nq, Nk] mask."""
    packed_rows = num_heads // num_kv_heads * seq_q
    return 1 <= seq_q <= MAX_DECODE_QUERIES and seq_k > 0 and not has_mask and packed_rows <= MAX_PACKED_ROWS


def split_plan(batch: int, num_kv_heads: int, seq_k: int, sms: int | None) -> tuple[int, int]:
    """(num_splits, chunk_size) for ``sms`` streaming multiprocessors: about two waves of
    programs, every chunk a multiple of the largest BLOCK_N. ``sms=None`` (the interpreter):
    up to 4 splits of 16-key blocks, so that small tests exercise the merge."""
    if sms is None:
        block = INTERPRETED_BLOCKS["BLOCK_N"]
        chunk = max(2 * block, triton.cdiv(triton.cdiv(seq_k, 4), block) * block)
        return triton.cdiv(seq_k, chunk), chunk
    wanted = min(MAX_SPLITS, triton.cdiv(2 * sms, batch * num_kv_heads), triton.cdiv(seq_k, CHUNK_MULTIPLE))
    chunk = triton.cdiv(triton.cdiv(seq_k, max(wanted, 1)), CHUNK_MULTIPLE) * CHUNK_MULTIPLE
    return triton.cdiv(seq_k, chunk), chunk


def flash_decoding(q, k, v, key_padding_mask, causal, scale, out, lse):
    """Launch both passes. Inputs are checked by ``attention.py``: q [B, H, Nq, D], k and v
    [B, Hkv, Nk, D] with any strides, ``key_padding_mask`` None or boolean [B, Nk]; writes
    ``out`` [B, H, Nq, D] and ``lse`` [B, H, Nq] (fp32, natural log)."""
    batch, num_heads, seq_q, head_dim = q.shape
    num_kv_heads, seq_k = k.shape[1], k.shape[2]
    group_size = num_heads // num_kv_heads
    head_dim_pad = padded_head_dim(head_dim)
    block_m = max(16, triton.next_power_of_2(group_size * seq_q))
    interpreted = triton_mode.interpreted()
    sms = None if interpreted else torch.cuda.get_device_properties(q.device).multi_processor_count
    num_splits, chunk = split_plan(batch, num_kv_heads, seq_k, sms)
    part_out = torch.empty(
        (batch, num_heads, seq_q, num_splits, head_dim_pad), device=q.device, dtype=torch.float32
    )
    part_lse = torch.empty((batch, num_heads, seq_q, num_splits), device=q.device, dtype=torch.float32)
    kpm, kpm_strides = optional_mask(key_padding_mask, 2, q)
    split_kernel = flash_decoding_split_kernel if interpreted else flash_decoding_split_tuned
    blocks = {"BLOCK_N": INTERPRETED_BLOCKS["BLOCK_N"]} if interpreted else {}
    split_kernel[(num_splits, batch * num_kv_heads)](
        q,
        k,
        v,
        kpm,
        part_out,
        part_lse,
        *q.stride(),
        *k.stride(),
        *v.stride(),
        *kpm_strides,
        num_kv_heads,
        group_size,
        seq_q,
        seq_k,
        chunk,
        num_splits,
        scale * LOG2E.value,
        triton.next_power_of_2(seq_k),
        CAUSAL=causal,
        HAS_KPM=key_padding_mask is not None,
        DOT_MODE=dot_mode(q.dtype),
        HEAD_DIM=head_dim,
        HEAD_DIM_PAD=head_dim_pad,
        BLOCK_M=block_m,
        **blocks,
    )
    flash_decoding_merge_kernel[(batch * num_heads * seq_q,)](
        part_out,
        part_lse,
        out,
        lse,
        *out.stride(),
        num_heads,
        seq_q,
        num_splits,
        DOT_MODE=dot_mode(q.dtype),
        HEAD_DIM=head_dim,
        HEAD_DIM_PAD=head_dim_pad,
        BLOCK_S=max(2, triton.next_power_of_2(num_splits)),
    )
    return out, lse
