"""``attention``: softmax(scale Q K^T) V in the layout transformers and diffusers use,
q [B, H, Nq, D], k and v [B, Hkv, Nk, D] (Hkv divides H: grouped-query, multi-query attention).

FlashAttention-2 forward (Dao 2023, Algorithm 1): one program per (query block, batch, head)
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

Visibility: ``causal`` aligns bottom-right (query i sees keys j <= i + Nk - Nq, as a KV cache
needs; top-left equals it when Nq = Nk); ``key_padding_mask`` [B, Nk] (True: the key is real);
``attn_mask`` bool, broadcastable to [B, H, Nq, Nk] (True: attend). A row that sees no key gives
0, as ``F.scaled_dot_product_attention`` does. Causal key blocks split in two loops: blocks every
row of the tile sees (no masking) and the diagonal/last blocks (masked), as in Triton's
06-fused-attention tutorial. head_dim pads to a power of two inside the kernel, sequences of any
length are masked, not padded; any strides (transformers hands transposed views).

For seq_q <= 4 without a general mask, ``attention_decode.py`` (split-KV) runs instead; the
backward is ``attention_backward.py``. Both kernels are ``torch.library`` custom ops, so
``torch.compile(fullgraph=True)`` traces through them, and a ``torch.autograd.Function`` joins
them for training. ``attention_ops.py`` registers the ops built on them.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from genzoo.kernels import triton_mode
from genzoo.kernels.attention_backward import dot_mode, flash_attention_backward
from genzoo.kernels.attention_decode import MAX_DECODE_QUERIES, decode_kernel_applies, flash_decoding
from genzoo.kernels.validation import FLOAT_DTYPES, KernelInputError, check_finite_scalar, check_tensor

MAX_HEAD_DIM = 256
LOG2E = 1.4426950408889634
INTERPRETED_BLOCKS = {"BLOCK_M": 16, "BLOCK_N": 16}  # one small fixed config under the interpreter
# a config valid at every head_dim (<= 256) on sm_80 and later, for launches that fix the K/V loads
FIXED_CONFIG = {"BLOCK_M": 64, "BLOCK_N": 32, "num_warps": 4, "num_stages": 2}
HOPPER_SHARED_MEMORY = 227 * 1024  # the most one block may use on sm_90 (compiling without a GPU)

if triton_mode.triton_available():
    import triton
    import triton.language as tl
    from triton.tools.tensor_descriptor import TensorDescriptor

    from genzoo.kernels.attention_backward import (
        for_store,
        hide_invisible,
        key_block_range,
        load_tile,
        tile_dot,
    )

    @triton.jit
    def _fwd_key_blocks(
        acc, l_i, m_i, q, k_base, v_base, k_desc, v_desc, b, g, kpm_base, mask_base,
        stride_kn, stride_kd, stride_vn, stride_vd, stride_kpm_n, stride_mask_m, stride_mask_n,
        offs_m, offs_d, seq_q, seq_k, qk_scale, start, end,
        BOUNDARY: tl.constexpr, CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, HAS_MASK: tl.constexpr,
        DOT_MODE: tl.constexpr, HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, BLOCK_M: tl.constexpr,
        BLOCK_N: tl.constexpr, USE_TMA: tl.constexpr,
    ):  # fmt: skip
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
                qk, offs_m, offs_n, n_in, kpm_base, mask_base, stride_kpm_n, stride_mask_m, stride_mask_n,
                seq_q, seq_k, float("-inf"), BOUNDARY, CAUSAL, HAS_KPM, HAS_MASK,
            )  # fmt: skip
            # online softmax; m_use = 0 while a row has seen no key, so that no -inf - -inf = NaN arises
            m_new = tl.maximum(m_i, tl.max(qk, 1))
            m_use = tl.where(m_new == float("-inf"), 0.0, m_new)
            p = tl.math.exp2(qk - m_use[:, None])
            alpha = tl.math.exp2(m_i - m_use)
            l_i = l_i * alpha + tl.sum(p, 1)
            acc = tile_dot(p, v, acc * alpha[:, None], DOT_MODE)
            m_i = m_new
        return acc, l_i, m_i

    @triton.jit
    def flash_attention_fwd_kernel(
        q_ptr, k_ptr, v_ptr, k_desc, v_desc, out_ptr, lse_ptr, kpm_ptr, mask_ptr,
        stride_qb, stride_qh, stride_qm, stride_qd, stride_kb, stride_kh, stride_kn, stride_kd,
        stride_vb, stride_vh, stride_vn, stride_vd, stride_ob, stride_oh, stride_om, stride_od,
        stride_kpm_b, stride_kpm_n, stride_mask_b, stride_mask_h, stride_mask_m, stride_mask_n,
        num_heads, group_size, seq_q, seq_k, qk_scale,
        seq_q_class, seq_k_class, has_descriptors,  # autotuning key only
        CAUSAL: tl.constexpr, HAS_KPM: tl.constexpr, HAS_MASK: tl.constexpr, DOT_MODE: tl.constexpr,
        HEAD_DIM: tl.constexpr, HEAD_DIM_PAD: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
        USE_TMA: tl.constexpr,
    ):  # fmt: skip
        bh = tl.program_id(1).to(tl.int64)
        b, h = bh // num_heads, bh % num_heads
        g = h // group_size  # the kv head this q head reads (transformers' repeat_kv order)
        start_m = tl.program_id(0) * BLOCK_M
        offs_m = start_m + tl.arange(0, BLOCK_M)
        offs_d = tl.arange(0, HEAD_DIM_PAD)
        q = load_tile(q_ptr + b * stride_qb + h * stride_qh, offs_m, offs_d, offs_m < seq_q, stride_qm, stride_qd, HEAD_DIM)
        m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
        l_i = tl.zeros([BLOCK_M], tl.float32)
        acc = tl.zeros([BLOCK_M, HEAD_DIM_PAD], tl.float32)
        full, end = key_block_range(start_m, seq_q, seq_k, CAUSAL, BLOCK_M, BLOCK_N)
        k_base = k_ptr + b * stride_kb + g * stride_kh
        v_base = v_ptr + b * stride_vb + g * stride_vh
        kpm_base = kpm_ptr + b * stride_kpm_b
        mask_base = mask_ptr + b * stride_mask_b + h * stride_mask_h
        b32, g32 = b.to(tl.int32), g.to(tl.int32)  # descriptor coordinates
        acc, l_i, m_i = _fwd_key_blocks(
            acc, l_i, m_i, q, k_base, v_base, k_desc, v_desc, b32, g32, kpm_base, mask_base,
            stride_kn, stride_kd, stride_vn, stride_vd, stride_kpm_n, stride_mask_m, stride_mask_n,
            offs_m, offs_d, seq_q, seq_k, qk_scale, 0, full,
            False, CAUSAL, HAS_KPM, HAS_MASK, DOT_MODE, HEAD_DIM, HEAD_DIM_PAD, BLOCK_M, BLOCK_N, USE_TMA,
        )  # fmt: skip
        acc, l_i, m_i = _fwd_key_blocks(
            acc, l_i, m_i, q, k_base, v_base, k_desc, v_desc, b32, g32, kpm_base, mask_base,
            stride_kn, stride_kd, stride_vn, stride_vd, stride_kpm_n, stride_mask_m, stride_mask_n,
            offs_m, offs_d, seq_q, seq_k, qk_scale, full, end,
            True, CAUSAL, HAS_KPM, HAS_MASK, DOT_MODE, HEAD_DIM, HEAD_DIM_PAD, BLOCK_M, BLOCK_N, USE_TMA,
        )  # fmt: skip
        empty = l_i == 0.0  # rows that saw no key: out 0, lse -inf
        out = acc / tl.where(empty, 1.0, l_i)[:, None]
        row_mask = (offs_m < seq_q)[:, None] & (offs_d < HEAD_DIM)[None, :]
        out_rows = out_ptr + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_om
        out_ptrs = out_rows + offs_d[None, :] * stride_od
        tl.store(out_ptrs, for_store(out, DOT_MODE).to(out_ptr.dtype.element_ty), mask=row_mask)
        lse = tl.where(
            empty, float("-inf"), (m_i + tl.math.log2(tl.where(empty, 1.0, l_i))) * 0.6931471805599453
        )  # ln 2
        tl.store(lse_ptr + bh * seq_q + offs_m, lse, mask=offs_m < seq_q)

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
            c for c in configs
            if _fwd_registers_per_thread(c, head_dim) < 160
            and _fwd_shared_bytes(c, head_dim, element_size) <= limit
            and c.kwargs["BLOCK_M"] <= max(64, seq_q)  # short sequences: no half-empty tiles
            and (tma or not c.kwargs["USE_TMA"])
        ]  # fmt: skip
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
            triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "USE_TMA": tma}, num_stages=s, num_warps=w,
                          pre_hook=_set_kv_block_shapes)
            for tma in (False, True) for bm in (64, 128) for bn in (32, 64, 128) for s in (2, 3, 4) for w in (4, 8)
            if not tma or w == bm // 16
        ],
        key=["seq_q_class", "seq_k_class", "has_descriptors", "HEAD_DIM_PAD", "CAUSAL", "HAS_KPM", "HAS_MASK"],
        prune_configs_by={"early_config_prune": _prune_fwd_configs},
    )(flash_attention_fwd_kernel)  # fmt: skip


# ----------------------------------------------------------------------------------------------
# Input checks, shared by every backend
# ----------------------------------------------------------------------------------------------


def check_attention_inputs(
    q, k, v, causal, scale, key_padding_mask, attn_mask, *, device=None, dtypes=FLOAT_DTYPES, max_head_dim=None
) -> float:  # fmt: skip
    """Raise ``KernelInputError`` naming the bad argument; return the softmax scale."""
    check_tensor("q", q, dtypes=dtypes, device=device, ndim=4, contiguous=False)
    for name, tensor in (("k", k), ("v", v)):
        check_tensor(name, tensor, dtypes=(q.dtype,), ndim=4, contiguous=False)
        if tensor.device != q.device:
            raise KernelInputError(f"{name} is on {tensor.device} but q is on {q.device}")
    batch, num_heads, seq_q, head_dim = q.shape
    if k.shape[0] != batch or k.shape[3] != head_dim:
        raise KernelInputError(
            f"k has shape {tuple(k.shape)}; with q of shape {tuple(q.shape)} it must be [{batch}, Hkv, Nk, {head_dim}]"
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
                f"key_padding_mask has shape {tuple(key_padding_mask.shape)}; it must be [B, Nk] = {[batch, seq_k]}"
            )
    if attn_mask is not None:
        check_tensor("attn_mask", attn_mask, dtypes=(torch.bool,), ndim=4, contiguous=False)
        full = (batch, num_heads, seq_q, seq_k)
        if any(size not in (1, want) for size, want in zip(attn_mask.shape, full)):
            raise KernelInputError(
                f"attn_mask has shape {tuple(attn_mask.shape)}, which does not broadcast to [B, H, Nq, Nk] = {list(full)}"
            )
    for name, mask in (("key_padding_mask", key_padding_mask), ("attn_mask", attn_mask)):
        if mask is not None and mask.device != q.device:
            raise KernelInputError(f"{name} is on {mask.device} but q is on {q.device}")
    return 1.0 / math.sqrt(head_dim) if scale is None else check_finite_scalar("scale", scale)


def kernel_masks(q, k, key_padding_mask, attn_mask):
    """Masks as the kernels take them: an ``attn_mask`` shared by heads and queries ([B|1, 1, 1, Nk],
    what transformers passes while decoding) becomes a key padding mask; the rest expands to [B, H, Nq, Nk]."""
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
# Launcher, custom ops and autograd
# ----------------------------------------------------------------------------------------------


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
        if t.data_ptr() % 16 or strides[-1] != 1 or any(s <= 0 or s * t.element_size() % 16 for s in strides[:-1]):
            return None
    return tuple(TensorDescriptor(t, list(t.shape), list(t.stride()), [1, 1, 16, head_dim_pad]) for t in (k, v))


def flash_attention_forward(q, k, v, key_padding_mask, attn_mask, causal, scale, out, lse, use_tma=None):
    """Write ``out`` [B, H, Nq, D] and ``lse`` [B, H, Nq] (fp32, natural log) for checked inputs
    (``kernel_masks`` applied); split-KV for a few queries, FlashAttention-2 otherwise.
    ``use_tma``: None lets autotuning choose where descriptors apply (pointer loads under the
    interpreter); True or False forces K/V loads through the copy engine or not, in FIXED_CONFIG."""
    batch, num_heads, seq_q, head_dim = q.shape
    num_kv_heads, seq_k = k.shape[1], k.shape[2]
    if out.numel() == 0:
        return
    kpm = None if key_padding_mask is None else key_padding_mask.view(torch.uint8)
    mask = None if attn_mask is None else attn_mask.view(torch.uint8)
    if decode_kernel_applies(seq_q, seq_k, num_heads, num_kv_heads, mask is not None):
        flash_decoding(q, k, v, kpm, causal, scale, out, lse)
        return
    head_dim_pad = max(16, triton.next_power_of_2(head_dim))
    interpreted = triton_mode.interpreted()  # one fixed config; autotuning on GPUs
    wants_tma = use_tma or (use_tma is None and not interpreted)
    descriptors = kv_descriptors(k, v, head_dim_pad) if wants_tma else None
    if use_tma and descriptors is None:
        raise KernelInputError("use_tma=True, but the copy engine cannot read these k and v (see kv_descriptors)")
    fixed = interpreted or use_tma is not None  # else autotuning picks the config, and the loads
    kernel = flash_attention_fwd_kernel if fixed else flash_attention_fwd_tuned
    blocks = {**(INTERPRETED_BLOCKS if interpreted else FIXED_CONFIG), "USE_TMA": bool(use_tma)} if fixed else {}
    if fixed and use_tma:
        _set_kv_block_shapes({"k_desc": descriptors[0], "v_desc": descriptors[1], "HEAD_DIM_PAD": head_dim_pad, **blocks})
    k_desc, v_desc = descriptors or (k, v)  # unread without USE_TMA
    kernel[lambda meta: (triton.cdiv(seq_q, meta["BLOCK_M"]), batch * num_heads)](
        q, k, v, k_desc, v_desc, out, lse, q if kpm is None else kpm, q if mask is None else mask,
        *q.stride(), *k.stride(), *v.stride(), *out.stride(),
        *((0, 0) if kpm is None else kpm.stride()), *((0, 0, 0, 0) if mask is None else mask.stride()),
        num_heads, num_heads // num_kv_heads, seq_q, seq_k, scale * LOG2E,
        triton.next_power_of_2(seq_q), triton.next_power_of_2(seq_k), int(descriptors is not None),
        CAUSAL=causal, HAS_KPM=kpm is not None, HAS_MASK=mask is not None, DOT_MODE=dot_mode(q.dtype),
        HEAD_DIM=head_dim, HEAD_DIM_PAD=head_dim_pad, **blocks,
    )  # fmt: skip


@torch.library.custom_op("genzoo::attention_forward", mutates_args=())
def _attention_forward_op(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, key_padding_mask: torch.Tensor | None,
    attn_mask: torch.Tensor | None, causal: bool, scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    out = torch.empty(q.shape, device=q.device, dtype=q.dtype)
    lse = torch.empty(q.shape[:3], device=q.device, dtype=torch.float32)
    flash_attention_forward(q, k, v, key_padding_mask, attn_mask, causal, scale, out, lse)
    return out, lse


@_attention_forward_op.register_fake
def _(q, k, v, key_padding_mask, attn_mask, causal, scale):
    return q.new_empty(q.shape), q.new_empty(q.shape[:3], dtype=torch.float32)


@torch.library.custom_op("genzoo::attention_backward", mutates_args=())
def _attention_backward_op(
    grad_out: torch.Tensor, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor,
    lse: torch.Tensor, key_padding_mask: torch.Tensor | None, attn_mask: torch.Tensor | None,
    causal: bool, scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    kpm = None if key_padding_mask is None else key_padding_mask.view(torch.uint8)
    mask = None if attn_mask is None else attn_mask.view(torch.uint8)
    return flash_attention_backward(grad_out, q, k, v, out, lse, kpm, mask, causal, scale)


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
    if not decode_kernel_applies(q.shape[2], k.shape[2], q.shape[1], k.shape[1], False):
        raise KernelInputError(
            f"q has {q.shape[2]} queries and {q.shape[1] // k.shape[1]} q heads per kv head against {k.shape[2]} keys; "
            f"the decode kernel takes 1..{MAX_DECODE_QUERIES} queries, at most 128 packed rows, at least one key"
        )
    if torch.is_grad_enabled() and any(t.requires_grad for t in (q, k, v)):
        raise KernelInputError(
            "q, k or v requires grad, but the decode kernel is forward-only; use attention_triton"
        )
    out = torch.empty(q.shape, device=q.device, dtype=q.dtype) if out is None else _check_out(out, q)
    kpm = None if key_padding_mask is None else key_padding_mask.view(torch.uint8)
    flash_decoding(
        q, k, v, kpm, causal, scale, out, torch.empty(q.shape[:3], device=q.device, dtype=torch.float32)
    )
    return out


def _check_out(out, q):
    check_tensor("out", out, dtypes=(q.dtype,), ndim=4, contiguous=False)
    if out.shape != q.shape or out.device != q.device:
        raise KernelInputError(
            f"out has shape {tuple(out.shape)} on {out.device}; it must match q: {tuple(q.shape)} on {q.device}"
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
