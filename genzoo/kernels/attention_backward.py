"""FlashAttention-2 backward pass: dQ, dK, dV recomputed tile by tile from Q, K, V and the saved
log-sum-exp, never materialising the N x N matrices (Dao 2023, "FlashAttention-2", Algorithm 2).

With S = scale Q K^T, P = softmax(S) over the visible keys (P = exp(S - lse)) and O = P V:

    dV = P^T dO                            (1)
    dP = dO V^T                            (2)
    dS = P * (dP - Delta),  Delta_i = sum_d dO_id O_id      (3)  (= rowsum(P * dP))
    dQ = scale dS K,        dK = scale dS^T Q                (4)

Three launches: ``delta`` (Delta, one row per program); ``dkdv`` (one program per key block and
kv head: it walks the query blocks of every q head that reads this kv head, so grouped-query
attention sums dK, dV in registers, without atomics); ``dq`` (one program per query block and
q head, walking the key blocks). FLOPs: 2.5x the forward's (5 matmuls of the forward's 2, with
the recomputation of S). The visibility rules (causal bottom-right, key padding mask, general
mask, sequence bounds) are the forward's; a row that saw no key has lse = -inf and gets P = 0.
"""

from __future__ import annotations

import torch

from genzoo.kernels import triton_mode
from genzoo.kernels.attention_tiles import INTERPRETED_BLOCKS, kernel_flags, optional_mask, padded_head_dim

if triton_mode.triton_available():
    import triton
    import triton.language as tl

    from genzoo.kernels.attention_tiles import (
        LOG2E,
        for_store,
        hide_invisible,
        key_block_range,
        load_tile,
        tile_dot,
    )

    @triton.jit
    def _lse_in_base_2(lse_ptrs, rows_in):
        """The saved lse of the rows in base 2; +inf for rows out of range or with no visible key
        (lse = -inf), so that P = exp2(S - lse) = 0 there."""
        lse = tl.load(lse_ptrs, mask=rows_in, other=float("inf")) * LOG2E
        return tl.where(lse == float("-inf"), float("inf"), lse)

    @triton.jit
    def attention_bwd_delta_kernel(
        out_ptr, dout_ptr, delta_ptr,
        stride_ob, stride_oh, stride_om, stride_od,
        stride_db, stride_dh, stride_dm, stride_dd,
        num_heads, seq_q,
        HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, BLOCK_M: tl.constexpr,
    ):  # fmt: skip
        bh = tl.program_id(1).to(tl.int64)
        b, h = bh // num_heads, bh % num_heads
        offs_m = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, HEAD_DIM_PAD)
        m_in = offs_m < seq_q
        o = load_tile(
            out_ptr + b * stride_ob + h * stride_oh, offs_m, offs_d, m_in, stride_om, stride_od, HEAD_DIM
        )
        do = load_tile(
            dout_ptr + b * stride_db + h * stride_dh, offs_m, offs_d, m_in, stride_dm, stride_dd, HEAD_DIM
        )
        delta = tl.sum(o.to(tl.float32) * do.to(tl.float32), 1)  # eq. (3)
        tl.store(delta_ptr + bh * seq_q + offs_m, delta, mask=m_in)

    @triton.jit
    def _dkdv_query_blocks(
        dk, dv, k, v,
        q_base, do_base, lse_base, delta_base, kpm_base, mask_base,
        stride_qm, stride_qd, stride_dm, stride_dd,
        stride_kpm_n, stride_mask_m, stride_mask_n,
        offs_n, n_in, offs_d,
        seq_q, seq_k, qk_scale, start, end,
        BOUNDARY: tl.constexpr, CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, HAS_MASK: tl.constexpr,
        DOT_MODE: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    ):  # fmt: skip
        for start_m in range(start, end, BLOCK_M):
            offs_m = start_m + tl.arange(0, BLOCK_M)
            m_in = offs_m < seq_q
            q = load_tile(q_base, offs_m, offs_d, m_in, stride_qm, stride_qd, HEAD_DIM)
            do = load_tile(do_base, offs_m, offs_d, m_in, stride_dm, stride_dd, HEAD_DIM)
            lse = _lse_in_base_2(lse_base + offs_m, m_in)
            # transposed tiles [BLOCK_N, BLOCK_M]: keys on rows, so dK and dV accumulate by row
            p_t = tl.math.exp2(
                tile_dot(k, tl.trans(q), tl.zeros([BLOCK_N, BLOCK_M], tl.float32), DOT_MODE) * qk_scale
                - lse[None, :]
            )
            p_t = hide_invisible(
                p_t, offs_m, offs_n, n_in,
                kpm_base, mask_base, stride_kpm_n, stride_mask_m, stride_mask_n,
                seq_q, seq_k, 0.0,
                BOUNDARY, CAUSAL, HAS_KPM, HAS_MASK, True,
            )  # fmt: skip
            dv = tile_dot(p_t, do, dv, DOT_MODE)  # eq. (1)
            dp_t = tile_dot(v, tl.trans(do), tl.zeros([BLOCK_N, BLOCK_M], tl.float32), DOT_MODE)  # eq. (2)
            delta = tl.load(delta_base + offs_m, mask=m_in, other=0.0)
            ds_t = p_t * (dp_t - delta[None, :])  # eq. (3)
            dk = tile_dot(ds_t, q, dk, DOT_MODE)  # eq. (4), scaled by the caller
        return dk, dv

    @triton.jit
    def attention_bwd_dkdv_kernel(
        q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, kpm_ptr, mask_ptr, dk_ptr, dv_ptr,
        stride_qb, stride_qh, stride_qm, stride_qd,
        stride_kb, stride_kh, stride_kn, stride_kd,
        stride_vb, stride_vh, stride_vn, stride_vd,
        stride_db, stride_dh, stride_dm, stride_dd,
        stride_kpm_b, stride_kpm_n,
        stride_mask_b, stride_mask_h, stride_mask_m, stride_mask_n,
        num_kv_heads, group_size, seq_q, seq_k, scale, qk_scale,
        seq_q_class, seq_k_class,  # autotuning key only
        CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, HAS_MASK: tl.constexpr, DOT_MODE: tl.constexpr,
        HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    ):  # fmt: skip
        bg = tl.program_id(1).to(tl.int64)
        b, g = bg // num_kv_heads, bg % num_kv_heads
        start_n = tl.program_id(0) * BLOCK_N
        offs_n = start_n + tl.arange(0, BLOCK_N)
        offs_d = tl.arange(0, HEAD_DIM_PAD)
        n_in = offs_n < seq_k
        k = load_tile(
            k_ptr + b * stride_kb + g * stride_kh, offs_n, offs_d, n_in, stride_kn, stride_kd, HEAD_DIM
        )
        v = load_tile(
            v_ptr + b * stride_vb + g * stride_vh, offs_n, offs_d, n_in, stride_vn, stride_vd, HEAD_DIM
        )
        dk = tl.zeros([BLOCK_N, HEAD_DIM_PAD], tl.float32)
        dv = tl.zeros([BLOCK_N, HEAD_DIM_PAD], tl.float32)
        # query blocks: rows i >= j - shift see key j; from m_full on they see the whole key block
        shift = seq_k - seq_q
        end = tl.cdiv(seq_q, BLOCK_M) * BLOCK_M
        if CAUSAL:
            start = tl.minimum(tl.maximum(start_n - shift, 0) // BLOCK_M * BLOCK_M, end)
            full = tl.minimum(tl.cdiv(tl.maximum(start_n + BLOCK_N - 1 - shift, 0), BLOCK_M) * BLOCK_M, end)
        else:
            start = 0
            full = 0
        kpm_base = kpm_ptr + b * stride_kpm_b
        for head in range(g * group_size, (g + 1) * group_size):
            bh = b * num_kv_heads * group_size + head
            q_base = q_ptr + b * stride_qb + head * stride_qh
            do_base = do_ptr + b * stride_db + head * stride_dh
            mask_base = mask_ptr + b * stride_mask_b + head * stride_mask_h
            # query blocks [start, full) cross the causal diagonal (masked), [full, end) see every key
            for whole in tl.static_range(2):
                # fmt: off
                dk, dv = _dkdv_query_blocks(
                    dk, dv, k, v,
                    q_base, do_base, lse_ptr + bh * seq_q, delta_ptr + bh * seq_q, kpm_base, mask_base,
                    stride_qm, stride_qd, stride_dm, stride_dd,
                    stride_kpm_n, stride_mask_m, stride_mask_n,
                    offs_n, n_in, offs_d,
                    seq_q, seq_k, qk_scale, full if whole else start, end if whole else full,
                    whole == 0, CAUSAL, HAS_KPM, HAS_MASK, DOT_MODE, HEAD_DIM, BLOCK_M, BLOCK_N,
                )
                # fmt: on
        kv_mask = n_in[:, None] & (offs_d < HEAD_DIM)[None, :]
        dk_ptrs = dk_ptr + bg * seq_k * HEAD_DIM + offs_n[:, None] * HEAD_DIM + offs_d[None, :]  # contiguous
        tl.store(dk_ptrs, for_store(dk * scale, DOT_MODE).to(dk_ptr.dtype.element_ty), mask=kv_mask)
        tl.store(
            dv_ptr + bg * seq_k * HEAD_DIM + offs_n[:, None] * HEAD_DIM + offs_d[None, :],
            for_store(dv, DOT_MODE).to(dv_ptr.dtype.element_ty),
            mask=kv_mask,
        )

    @triton.jit
    def _dq_key_blocks(
        dq, q, do, lse, delta,
        k_base, v_base, kpm_base, mask_base,
        stride_kn, stride_kd, stride_vn, stride_vd,
        stride_kpm_n, stride_mask_m, stride_mask_n,
        offs_m, offs_d,
        seq_q, seq_k, qk_scale, start, end,
        BOUNDARY: tl.constexpr, CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, HAS_MASK: tl.constexpr,
        DOT_MODE: tl.constexpr, HEAD_DIM: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    ):  # fmt: skip
        for start_n in range(start, end, BLOCK_N):
            offs_n = start_n + tl.arange(0, BLOCK_N)
            n_in = offs_n < seq_k
            k = load_tile(k_base, offs_n, offs_d, n_in, stride_kn, stride_kd, HEAD_DIM)
            v = load_tile(v_base, offs_n, offs_d, n_in, stride_vn, stride_vd, HEAD_DIM)
            p = tl.math.exp2(
                tile_dot(q, tl.trans(k), tl.zeros([BLOCK_M, BLOCK_N], tl.float32), DOT_MODE) * qk_scale
                - lse[:, None]
            )
            p = hide_invisible(
                p, offs_m, offs_n, n_in,
                kpm_base, mask_base, stride_kpm_n, stride_mask_m, stride_mask_n,
                seq_q, seq_k, 0.0,
                BOUNDARY, CAUSAL, HAS_KPM, HAS_MASK, False,
            )  # fmt: skip
            dp = tile_dot(do, tl.trans(v), tl.zeros([BLOCK_M, BLOCK_N], tl.float32), DOT_MODE)  # eq. (2)
            ds = p * (dp - delta[:, None])  # eq. (3)
            dq = tile_dot(ds, k, dq, DOT_MODE)  # eq. (4), scaled by the caller
        return dq

    @triton.jit
    def attention_bwd_dq_kernel(
        q_ptr, k_ptr, v_ptr, do_ptr, lse_ptr, delta_ptr, kpm_ptr, mask_ptr, dq_ptr,
        stride_qb, stride_qh, stride_qm, stride_qd,
        stride_kb, stride_kh, stride_kn, stride_kd,
        stride_vb, stride_vh, stride_vn, stride_vd,
        stride_db, stride_dh, stride_dm, stride_dd,
        stride_kpm_b, stride_kpm_n,
        stride_mask_b, stride_mask_h, stride_mask_m, stride_mask_n,
        num_heads, group_size, seq_q, seq_k, scale, qk_scale,
        seq_q_class, seq_k_class,  # autotuning key only
        CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, HAS_MASK: tl.constexpr, DOT_MODE: tl.constexpr,
        HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    ):  # fmt: skip
        bh = tl.program_id(1).to(tl.int64)
        b, h = bh // num_heads, bh % num_heads
        g = h // group_size
        start_m = tl.program_id(0) * BLOCK_M
        offs_m = start_m + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, HEAD_DIM_PAD)
        m_in = offs_m < seq_q
        q = load_tile(
            q_ptr + b * stride_qb + h * stride_qh, offs_m, offs_d, m_in, stride_qm, stride_qd, HEAD_DIM
        )
        do = load_tile(
            do_ptr + b * stride_db + h * stride_dh, offs_m, offs_d, m_in, stride_dm, stride_dd, HEAD_DIM
        )
        lse = _lse_in_base_2(lse_ptr + bh * seq_q + offs_m, m_in)
        delta = tl.load(delta_ptr + bh * seq_q + offs_m, mask=m_in, other=0.0)
        full, end = key_block_range(start_m, seq_q, seq_k, CAUSAL, BLOCK_M, BLOCK_N)  # as in the forward
        dq = tl.zeros([BLOCK_M, HEAD_DIM_PAD], tl.float32)
        k_base = k_ptr + b * stride_kb + g * stride_kh
        v_base = v_ptr + b * stride_vb + g * stride_vh
        kpm_base = kpm_ptr + b * stride_kpm_b
        mask_base = mask_ptr + b * stride_mask_b + h * stride_mask_h
        for boundary in tl.static_range(2):  # key blocks [0, full): all visible; [full, end): masked
            # fmt: off
            dq = _dq_key_blocks(
                dq, q, do, lse, delta,
                k_base, v_base, kpm_base, mask_base,
                stride_kn, stride_kd, stride_vn, stride_vd,
                stride_kpm_n, stride_mask_m, stride_mask_n,
                offs_m, offs_d,
                seq_q, seq_k, qk_scale, full if boundary else 0, end if boundary else full,
                boundary == 1, CAUSAL, HAS_KPM, HAS_MASK, DOT_MODE, HEAD_DIM, BLOCK_M, BLOCK_N,
            )
            # fmt: on
        dq_ptrs = dq_ptr + bh * seq_q * HEAD_DIM + offs_m[:, None] * HEAD_DIM + offs_d[None, :]  # contiguous
        row_mask = m_in[:, None] & (offs_d < HEAD_DIM)[None, :]
        tl.store(dq_ptrs, for_store(dq * scale, DOT_MODE).to(dq_ptr.dtype.element_ty), mask=row_mask)

    def _configs():
        return [
            triton.Config({"BLOCK_M": bm, "BLOCK_N": bn}, num_warps=w, num_stages=s)
            for bm, bn in ((32, 64), (64, 64), (64, 128), (128, 64), (128, 128))
            for w in (4, 8)
            for s in (2, 3)
        ]

    def _tile_words(config, head_dim_pad):
        """[BLOCK_M, BLOCK_N] x head_dim words per thread: the register pressure of one tile step."""
        return config.kwargs["BLOCK_M"] * config.kwargs["BLOCK_N"] * head_dim_pad / (32 * config.num_warps)

    def _pruner(budget):
        """Drop the configs the sm_90 compiler spills (``genzoo.kernel_inspection``, Triton 3.9,
        head_dim 64 and 128): dQ keeps one accumulator and fits 4096 tile words per thread,
        dK and dV keep two and fit 2048; beyond, hundreds of bytes per thread spill."""

        def prune(configs, named_args, **kwargs):
            head_dim = {**named_args, **kwargs}["HEAD_DIM_PAD"]
            return [c for c in configs if _tile_words(c, head_dim) <= budget] or configs[:1]

        return prune

    _KEY = ["seq_q_class", "seq_k_class", "HEAD_DIM_PAD", "CAUSAL", "HAS_KPM", "HAS_MASK"]
    attention_bwd_dkdv_tuned = triton.autotune(
        configs=_configs(), key=_KEY, prune_configs_by={"early_config_prune": _pruner(2048)}
    )(attention_bwd_dkdv_kernel)
    attention_bwd_dq_tuned = triton.autotune(
        configs=_configs(), key=_KEY, prune_configs_by={"early_config_prune": _pruner(4096)}
    )(attention_bwd_dq_kernel)


def flash_attention_backward(
    grad_out, q, k, v, out, lse, key_padding_mask, attn_mask, causal, scale, grads=None
):
    """dQ, dK, dV in q's dtype, written into ``grads`` (contiguous, e.g. NaN-poisoned by a test)
    or fresh tensors. Inputs are checked by ``attention.py``: q, out, grad_out [B, H, Nq, D];
    k, v [B, Hkv, Nk, D]; lse [B, H, Nq] fp32 (natural log); masks None or boolean,
    ``key_padding_mask`` [B, Nk], ``attn_mask`` expanded to [B, H, Nq, Nk]."""
    batch, num_heads, seq_q, head_dim = q.shape
    num_kv_heads, seq_k = k.shape[1], k.shape[2]
    if grads is None:
        grads = tuple(torch.empty_like(t, memory_format=torch.contiguous_format) for t in (q, k, v))
    dq, dk, dv = grads
    if not all(g.is_contiguous() and g.shape == t.shape for g, t in zip(grads, (q, k, v))):
        raise ValueError("grads must be contiguous tensors shaped like q, k, v")
    if q.numel() == 0 or k.numel() == 0:
        return dq.zero_(), dk.zero_(), dv.zero_()
    delta = torch.empty((batch, num_heads, seq_q), device=q.device, dtype=torch.float32)
    # fmt: off
    attention_bwd_delta_kernel[(triton.cdiv(seq_q, 64), batch * num_heads)](
        out, grad_out, delta,
        *out.stride(), *grad_out.stride(),
        num_heads, seq_q,
        HEAD_DIM=head_dim, HEAD_DIM_PAD=padded_head_dim(head_dim), BLOCK_M=64,
    )
    # fmt: on
    kpm, kpm_strides = optional_mask(key_padding_mask, 2, q)
    mask, mask_strides = optional_mask(attn_mask, 4, q)
    # the same for both kernels; between them, the heads that a program's index counts
    strides = (*q.stride(), *k.stride(), *v.stride(), *grad_out.stride(), *kpm_strides, *mask_strides)
    sizes = (
        num_heads // num_kv_heads, seq_q, seq_k, scale, scale * LOG2E.value,
        triton.next_power_of_2(seq_q), triton.next_power_of_2(seq_k),
    )  # fmt: skip
    flags = kernel_flags(q, causal, key_padding_mask, attn_mask)
    interpreted = triton_mode.interpreted()
    dkdv = attention_bwd_dkdv_kernel if interpreted else attention_bwd_dkdv_tuned
    dq_kernel = attention_bwd_dq_kernel if interpreted else attention_bwd_dq_tuned
    blocks = INTERPRETED_BLOCKS if interpreted else {}
    # fmt: off
    dkdv[lambda meta: (triton.cdiv(seq_k, meta["BLOCK_N"]), batch * num_kv_heads)](
        q, k, v, grad_out, lse, delta, kpm, mask, dk, dv,
        *strides, num_kv_heads, *sizes, **flags, **blocks,
    )
    dq_kernel[lambda meta: (triton.cdiv(seq_q, meta["BLOCK_M"]), batch * num_heads)](
        q, k, v, grad_out, lse, delta, kpm, mask, dq,
        *strides, num_heads, *sizes, **flags, **blocks,
    )
    # fmt: on
    return dq, dk, dv
