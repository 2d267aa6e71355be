"""FlashAttention-2 forward (Dao 2023, Algorithm 1): one program per (query block, batch, head)
keeps its Q tile on chip and streams K and V through it, with an online softmax in fp32, so the
[Nq, Nk] score matrix never reaches memory:

    S_j = scale Q K_j^T log2(e)                      scores of key block j, in base 2
    m_j = max(m_{j-1}, rowmax(S_j))                  running row maximum
    l_j = l_{j-1} 2^(m_{j-1} - m_j) + rowsum(2^(S_j - m_j))
    O_j = O_{j-1} 2^(m_{j-1} - m_j) + 2^(S_j - m_j) V_j
    O = O_last / l_last,   lse = (m_last + log2 l_last) ln 2     (lse saved for the backward)

K and V tiles reach shared memory through cp.async (pointer loads, masked) or, on sm_90 for
fp16/bf16 with 16-byte aligned strides, through host tensor descriptors and the copy engine (TMA),
whose zero fill stands in for the masks; autotuning chooses between them per shape class.

Causal key blocks split in two loops: blocks every row of the tile sees (no masking) and the
diagonal/last blocks (masked), as in Triton's 06-fused-attention tutorial. head_dim pads to a
power of two inside the kernel, sequences of any length are masked, not padded; any strides
(transformers hands transposed views). For a few queries without a general mask the launcher
runs split-KV decoding (``attention_decode.py``) instead.
"""

from __future__ import annotations

import torch

from genzoo.kernels import triton_mode
from genzoo.kernels.attention_decode import decode_kernel_applies, flash_decoding
from genzoo.kernels.attention_tiles import INTERPRETED_BLOCKS, kernel_flags, optional_mask, padded_head_dim
from genzoo.kernels.validation import KernelInputError

# a config valid at every head_dim (<= 256) on sm_80 and later, for launches that fix the K/V loads
FIXED_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 32, "num_warps": 4, "num_stages": 2}
HOPPER_SHARED_MEMORY = 227 * 1024  # the most one block may use on sm_90 (compiling without a GPU)

if triton_mode.triton_available():
    import triton
    import triton.language as tl
    from triton.tools.tensor_descriptor import TensorDescriptor

    from genzoo.kernels.attention_tiles import (
        LOG2E,
        for_store,
        hide_invisible,
        key_block_range,
        load_tile,
        log_sum_exp,
        normalized,
        online_softmax_step,
        tile_dot,
    )

    @triton.jit
    def _fwd_key_blocks(
        acc,
        l_i,
        m_i,
        q,
        k_base,
        v_base,
        k_desc,
        v_desc,
        b,
        g,
        kpm_base,
        mask_base,
        stride_kn,
        stride_kd,
        stride_vn,
        stride_vd,
        stride_kpm_n,
        stride_mask_m,
        stride_mask_n,
        offs_m,
        offs_d,
        seq_q,
        seq_k,
        qk_scale,
        start,
        end,
        BOUNDARY: tl.constexpr,
        CAUSAL: tl.constexpr,
        HAS_KPM: tl.constexpr,
        HAS_MASK: tl.constexpr,
        DOT_MODE: tl.constexpr,
        HEAD_DIM: tl.constexpr,
        HEAD_DIM_PAD: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        USE_TMA: tl.constexpr,
    ):
        for start_n in range(start, end, BLOCK_N):
            offs_n = start_n + tl.arange(0, BLOCK_N)
            n_in = offs_n < seq_k
            if USE_TMA:  # the copy engine fills rows past seq_k and columns past head_dim with 0
                k = k_desc.load([b, g, start_n, 0]).reshape(BLOCK_N, HEAD_DIM_PAD)
                v = v_desc.load([b, g, start_n, 0]).reshape(BLOCK_N, HEAD_DIM_PAD)
            else:
                k = load_tile(k_base, offs_n, offs_d, n_in, stride_kn, stride_kd, HEAD_DIM)
                v = load_tile(v_base, offs_n, offs_d, n_in, stride_vn, stride_vd, HEAD_DIM)
            qk = tile_dot(q, tl.trans(k), tl.zeros([BLOCK_M, BLOCK_N], tl.float32), DOT_MODE) * qk_scale
            qk = hide_invisible(
                qk,
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
                float("-inf"),
                BOUNDARY,
                CAUSAL,
                HAS_KPM,
                HAS_MASK,
                False,
            )
            acc, l_i, m_i = online_softmax_step(acc, l_i, m_i, qk, v, DOT_MODE)
        return acc, l_i, m_i

    @triton.jit
    def flash_attention_fwd_kernel(
        q_ptr,
        k_ptr,
        v_ptr,
        k_desc,
        v_desc,
        out_ptr,
        lse_ptr,
        kpm_ptr,
        mask_ptr,
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
        stride_ob,
        stride_oh,
        stride_om,
        stride_od,
        stride_kpm_b,
        stride_kpm_n,
        stride_mask_b,
        stride_mask_h,
        stride_mask_m,
        stride_mask_n,
        num_heads,
        group_size,
        seq_q,
        seq_k,
        qk_scale,
        seq_q_class,
        seq_k_class,
        has_descriptors,  # autotuning key only
        CAUSAL: tl.constexpr,
        HAS_KPM: tl.constexpr,
        HAS_MASK: tl.constexpr,
        DOT_MODE: tl.constexpr,
        HEAD_DIM: tl.constexpr,
        HEAD_DIM_PAD: tl.constexpr,
        BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr,
        USE_TMA: tl.constexpr,
    ):
        bh = tl.program_id(1).to(tl.int64)
        b, h = bh // num_heads, bh % num_heads
        g = h // group_size  # the kv head this q head reads (transformers' repeat_kv order)
        start_m = tl.program_id(0) * BLOCK_M
        offs_m = start_m + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, HEAD_DIM_PAD)
        q_base = q_ptr + b * stride_qb + h * stride_qh
        q = load_tile(q_base, offs_m, offs_d, offs_m < seq_q, stride_qm, stride_qd, HEAD_DIM)
        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, HEAD_DIM_PAD], tl.float32)
        full, end = key_block_range(start_m, seq_q, seq_k, CAUSAL, BLOCK_M, BLOCK_N)
        k_base = k_ptr + b * stride_kb + g * stride_kh
        v_base = v_ptr + b * stride_vb + g * stride_vh
        kpm_base = kpm_ptr + b * stride_kpm_b
        mask_base = mask_ptr + b * stride_mask_b + h * stride_mask_h
        b32, g32 = b.to(tl.int32), g.to(tl.int32)  # descriptor coordinates
        for boundary in tl.static_range(2):  # key blocks [0, full) unmasked, then [full, end) masked
            acc, l_i, m_i = _fwd_key_blocks(
                acc,
                l_i,
                m_i,
                q,
                k_base,
                v_base,
                k_desc,
                v_desc,
                b32,
                g32,
                kpm_base,
                mask_base,
                stride_kn,
                stride_kd,
                stride_vn,
                stride_vd,
                stride_kpm_n,
                stride_mask_m,
                stride_mask_n,
                offs_m,
                offs_d,
                seq_q,
                seq_k,
                qk_scale,
                full if boundary else 0,
                end if boundary else full,
                boundary == 1,
                CAUSAL,
                HAS_KPM,
                HAS_MASK,
                DOT_MODE,
                HEAD_DIM,
                HEAD_DIM_PAD,
                BLOCK_M,
                BLOCK_N,
                USE_TMA,
            )
        out = normalized(acc, l_i)
        row_mask = (offs_m < seq_q)[:, None] & (offs_d < HEAD_DIM)[None, :]
        out_rows = out_ptr + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_om
        out_ptrs = out_rows + offs_d[None, :] * stride_od
        tl.store(out_ptrs, for_store(out, DOT_MODE).to(out_ptr.dtype.element_ty), mask=row_mask)
        tl.store(lse_ptr + bh * seq_q + offs_m, log_sum_exp(m_i, l_i, True), mask=offs_m < seq_q)

    def _fwd_registers_per_thread(config, head_dim_pad):
        """fp32 words per thread of the output accumulator and the score tile."""
        block_m, block_n = config.kwargs["BLOCK_M"], config.kwargs["BLOCK_N"]
        return block_m * (head_dim_pad + block_n) / (32 * config.num_warps)

    def _fwd_shared_bytes(config, head_dim_pad, element_size):
        """The Q tile and ``num_stages`` K and V tiles in flight (the compiler's figure exactly)."""
        block_m, block_n = config.kwargs["BLOCK_M"], config.kwargs["BLOCK_N"]
        return element_size * head_dim_pad * (block_m + 2 * config.num_stages * block_n)

    def _shared_memory_limit() -> int:
        if torch.cuda.is_available():
            device = torch.cuda.current_device()
            return triton.runtime.driver.active.utils.get_device_properties(device)["max_shared_mem"]
        return HOPPER_SHARED_MEMORY

    def _prune_fwd_configs(configs, named_args, **kwargs):
        """Configs that compile well for this head_dim and length. The bounds come from the sm_90
        compiler's reports (``genzoo.kernel_inspection``, Triton 3.6 and 3.9, head_dim 64, 128
        and 256): from 160 accumulator and score words per thread the kernel spills hundreds of
        bytes per thread (Triton 3.9 at 160, 3.6 from 192); below it, at most a few words."""
        args = {**named_args, **kwargs}
        head_dim, seq_q = args["HEAD_DIM_PAD"], args["seq_q_class"]
        element_size = args["q_ptr"].element_size() if "q_ptr" in args else 2
        limit = _shared_memory_limit()
        tma = bool(args["has_descriptors"])
        kept = [
            c
            for c in configs
            if _fwd_registers_per_thread(c, head_dim) < 160
            and _fwd_shared_bytes(c, head_dim, element_size) <= limit
            and c.kwargs["BLOCK_M"] <= max(64, seq_q)  # short sequences: no half-empty tiles
            and (tma or not c.kwargs["USE_TMA"])
        ]
        return kept or [c for c in configs if not c.kwargs["USE_TMA"]][:1]

    def _set_kv_block_shapes(args):
        """Autotuning pre-hook: a descriptor's block is the config's K/V tile."""
        for name in ("k_desc", "v_desc"):
            if isinstance(args[name], TensorDescriptor):
                args[name].block_shape = [1, 1, args["BLOCK_N"], args["HEAD_DIM_PAD"]]

    # Hopper: BLOCK_M 128 with 8 warps (two warpgroups), 3-4 stages of K/V in flight; K and V
    # through cp.async or, where descriptors apply, the copy engine (TMA) with one warpgroup per 64 rows
    flash_attention_fwd_tuned = triton.autotune(
        configs=[
            triton.Config(
                {"BLOCK_M": bm, "BLOCK_N": bn, "USE_TMA": tma},
                num_stages=s,
                num_warps=w,
                pre_hook=_set_kv_block_shapes,
            )
            for tma in (False, True)
            for bm in (64, 128)
            for bn in (32, 64, 128)
            for s in (2, 3, 4)
            for w in (4, 8)
            if not tma or w == bm // 16
        ],
        key=[
            "seq_q_class",
            "seq_k_class",
            "has_descriptors",
            "HEAD_DIM_PAD",
            "CAUSAL",
            "HAS_KPM",
            "HAS_MASK",
        ],
        prune_configs_by={"early_config_prune": _prune_fwd_configs},
    )(flash_attention_fwd_kernel)


def kv_descriptors(k, v, head_dim_pad):
    """Host tensor descriptors of K and V [B, Hkv, Nk, D] for the copy engine (TMA, sm_90 and
    later), or None where it cannot read them: fp16/bf16 only (the tensor-core path), a 16-byte
    aligned base, strides of whole 16-byte units, head_dim contiguous."""
    if k.dtype not in (torch.float16, torch.bfloat16):
        return None
    if not triton_mode.interpreted() and torch.cuda.get_device_capability(k.device)[0] < 9:
        return None
    for t in (k, v):
        strides = t.stride()
        if (
            t.data_ptr() % 16
            or strides[-1] != 1
            or any(s <= 0 or s * t.element_size() % 16 for s in strides[:-1])
        ):
            return None
    return tuple(
        TensorDescriptor(t, list(t.shape), list(t.stride()), [1, 1, 16, head_dim_pad]) for t in (k, v)
    )


def flash_attention_forward(q, k, v, key_padding_mask, attn_mask, causal, scale, out, lse, use_tma=None):
    """Write ``out`` [B, H, Nq, D] and ``lse`` [B, H, Nq] (fp32, natural log) for inputs checked
    by ``attention.py`` (``kernel_masks`` applied); split-KV for a few queries, FlashAttention-2
    otherwise. ``use_tma``: None lets autotuning choose where descriptors apply (pointer loads
    under the interpreter); True or False forces K/V loads through the copy engine or not, in
    FIXED_CONFIG."""
    batch, num_heads, seq_q, head_dim = q.shape
    num_kv_heads, seq_k = k.shape[1], k.shape[2]
    if out.numel() == 0:
        return
    if decode_kernel_applies(seq_q, seq_k, num_heads, num_kv_heads, attn_mask is not None):
        flash_decoding(q, k, v, key_padding_mask, causal, scale, out, lse)
        return
    head_dim_pad = padded_head_dim(head_dim)
    interpreted = triton_mode.interpreted()  # one fixed config; autotuning on GPUs
    wants_tma = use_tma or (use_tma is None and not interpreted)
    descriptors = kv_descriptors(k, v, head_dim_pad) if wants_tma else None
    if use_tma and descriptors is None:
        raise KernelInputError(
            "use_tma=True, but the copy engine cannot read these k and v (see kv_descriptors)"
        )
    fixed = interpreted or use_tma is not None  # else autotuning picks the config, and the loads
    kernel = flash_attention_fwd_kernel if fixed else flash_attention_fwd_tuned
    blocks = (
        {**(INTERPRETED_BLOCKS if interpreted else FIXED_CONFIG), "USE_TMA": bool(use_tma)} if fixed else {}
    )
    if fixed and use_tma:
        _set_kv_block_shapes(
            {"k_desc": descriptors[0], "v_desc": descriptors[1], "HEAD_DIM_PAD": head_dim_pad, **blocks}
        )
    k_desc, v_desc = descriptors or (k, v)  # unread without USE_TMA
    kpm, kpm_strides = optional_mask(key_padding_mask, 2, q)
    mask, mask_strides = optional_mask(attn_mask, 4, q)
    kernel[lambda meta: (triton.cdiv(seq_q, meta["BLOCK_M"]), batch * num_heads)](
        q,
        k,
        v,
        k_desc,
        v_desc,
        out,
        lse,
        kpm,
        mask,
        *q.stride(),
        *k.stride(),
        *v.stride(),
        *out.stride(),
        *kpm_strides,
        *mask_strides,
        num_heads,
        num_heads // num_kv_heads,
        seq_q,
        seq_k,
        scale * LOG2E.value,
        triton.next_power_of_2(seq_q),
        triton.next_power_of_2(seq_k),
        int(descriptors is not None),
        **kernel_flags(q, causal, key_padding_mask, attn_mask),
        **blocks,
    )
