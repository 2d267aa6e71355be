"""The three registry ops built on the attention kernels (``attention.py``, its backward and
decode files): ``attention`` (forward, TFLOP/s), ``attention_forward_backward`` (forward then
backward, TFLOP/s) and ``attention_decode`` (split-KV, GB/s), each with its float64 reference,
cost model, input maker and test/benchmark cases.

    FLOPs = 4 B H Nq Nk D (two matmuls), halved for square causal attention; backward 2.5x that
    bytes  = elsize (|q| + |k| + |v| + |out|) (+ masks): the minimum, each read or written once

The float64 reference runs eager attention a block of query rows at a time. Rows are independent
(each has its own softmax), so the result is eager's; but the benchmark grid's longest point would
otherwise hold [B, H, Nq, Nk] float64 scores of 34 GB, several times over, on the GPU.
"""

from __future__ import annotations

import torch

from genzoo.kernels import registry, triton_mode
from genzoo.kernels.attention import (
    attention_decode_triton,
    attention_eager,
    attention_sdpa,
    attention_triton,
)

REFERENCE_BLOCK_BYTES = 2**29  # float64 scores of one block of query rows: 512 MiB


def _query_blocks(q, k, causal, attn_mask):
    """(rows, attn_mask) per block of query rows, with the causal rule (bottom-right) turned into
    the block's part of an explicit mask, so that each block runs as plain masked attention."""
    batch, heads, seq_q = q.shape[:3]
    seq_k = k.shape[2]
    block = max(1, REFERENCE_BLOCK_BYTES // (8 * batch * heads * max(seq_k, 1)))
    for start in range(0, seq_q, block):
        rows = slice(start, min(start + block, seq_q))
        mask = None
        if attn_mask is not None:
            mask = attn_mask[:, :, rows] if attn_mask.shape[2] == seq_q else attn_mask
        if causal:
            positions = torch.arange(rows.start, rows.stop, device=q.device)[:, None] + (seq_k - seq_q)
            below = (torch.arange(seq_k, device=q.device)[None, :] <= positions)[None, None]
            mask = below if mask is None else mask & below
        yield rows, mask


def attention_by_query_blocks(
    q, k, v, causal=False, scale=None, *, key_padding_mask=None, attn_mask=None, out=None
):
    """``attention_eager``, computed a block of query rows at a time (the float64 reference)."""
    result = torch.empty(q.shape, dtype=q.dtype, device=q.device) if out is None else out
    for rows, mask in _query_blocks(q, k, causal, attn_mask):
        result[:, :, rows] = attention_eager(
            q[:, :, rows], k, v, False, scale, key_padding_mask=key_padding_mask, attn_mask=mask
        )
    return result


def forward_backward_by_query_blocks(
    q, k, v, grad_out, causal=False, scale=None, *, key_padding_mask=None, attn_mask=None
):
    """``attention_forward_backward(attention_eager)`` a block of query rows at a time: dq per
    block, dk and dv summed over the blocks."""
    k, v = (t.detach().requires_grad_() for t in (k, v))
    dq, dk, dv = torch.empty_like(q), torch.zeros_like(k), torch.zeros_like(v)
    for rows, mask in _query_blocks(q, k, causal, attn_mask):
        q_rows = q[:, :, rows].detach().requires_grad_()
        with torch.enable_grad():
            out = attention_eager(
                q_rows, k, v, False, scale, key_padding_mask=key_padding_mask, attn_mask=mask
            )
            grads = torch.autograd.grad(out, (q_rows, k, v), grad_out[:, :, rows])
        dq[:, :, rows] = grads[0]
        dk += grads[1]
        dv += grads[2]
    return torch.cat([g.flatten() for g in (dq, dk, dv)])


def attention_forward_backward(attention_fn):
    """``attention_fn`` forward, then backward with ``grad_out``: dq, dk, dv flattened and concatenated."""

    def run(q, k, v, grad_out, causal=False, scale=None, *, key_padding_mask=None, attn_mask=None):
        q, k, v = (t.detach().requires_grad_() for t in (q, k, v))
        with torch.enable_grad():
            out = attention_fn(q, k, v, causal, scale, key_padding_mask=key_padding_mask, attn_mask=attn_mask)
            grads = torch.autograd.grad(out, (q, k, v), grad_out)
        return torch.cat([g.flatten() for g in grads])

    run.__name__ = f"{getattr(attention_fn, '__name__', 'attention')}_forward_backward"
    return run


def visible_pairs(seq_q: int, seq_k: int, causal: bool) -> float:
    """(query, key) pairs computed: Nq Nk, halved for square causal attention (FlashAttention's
    benchmark convention); bottom-right causal with Nq != Nk counts the pairs exactly."""
    if not causal:
        return seq_q * seq_k
    if seq_q == seq_k:
        return seq_q * seq_k / 2
    return sum(min(max(i + seq_k - seq_q + 1, 0), seq_k) for i in range(seq_q))


def _attention_sizes(call):
    q, k, v = call.args[:3]
    causal = call.kwargs.get("causal", False)  # attention_call passes it by keyword
    masks = [call.kwargs.get(name) for name in ("key_padding_mask", "attn_mask")]
    masks = sum(m.numel() for m in masks if m is not None)  # bool: 1 byte each
    tensors = (q.numel() * 2 + k.numel() + v.numel()) * q.element_size()  # q, k, v read; out written
    flops = 4 * q.shape[0] * q.shape[1] * visible_pairs(q.shape[2], k.shape[2], causal) * q.shape[3]
    return tensors + masks, flops


def attention_cost(call: registry.Call) -> registry.Cost:
    bytes_moved, flops = _attention_sizes(call)
    return registry.Cost(bytes_moved=int(bytes_moved), flops=int(flops))


def attention_forward_backward_cost(call: registry.Call) -> registry.Cost:
    """Forward 1x, backward 2.5x the forward FLOPs; backward bytes: q, k, v, out, dout, lse read,
    dq, dk, dv written."""
    bytes_moved, flops = _attention_sizes(call)
    q, k = call.args[0], call.args[1]
    backward = (3 * q.numel() + 4 * k.numel()) * q.element_size() + 4 * q[..., 0].numel()
    return registry.Cost(bytes_moved=int(bytes_moved + backward), flops=int(3.5 * flops))


def attention_call(
    case: registry.Case, dtype: torch.dtype, device: str, generator: torch.Generator
) -> registry.Call:
    """Params: b, h, hkv (default h), nq, nk (default nq), d, causal, padding (random key lengths
    >= 1 per sequence), mask (random pattern, diagonal kept), layout "bnhd" (transposed views)."""
    p = case.params
    batch, heads, seq_q, head_dim = p["b"], p["h"], p["nq"], p["d"]
    kv_heads, seq_k = p.get("hkv", heads), p.get("nk", seq_q)

    def randn(num_heads, seq):
        if p.get("layout") == "bnhd":  # [B, N, H, D] memory, as a linear projection leaves it
            x = torch.randn((batch, seq, num_heads, head_dim), generator=generator)
            return x.to(device, dtype).transpose(1, 2)
        return torch.randn((batch, num_heads, seq, head_dim), generator=generator).to(device, dtype)

    q, k, v = randn(heads, seq_q), randn(kv_heads, seq_k), randn(kv_heads, seq_k)
    kwargs = {"causal": p.get("causal", False)}
    if p.get("padding"):
        lengths = torch.randint(1, seq_k + 1, (batch,), generator=generator)
        kwargs["key_padding_mask"] = (torch.arange(seq_k)[None, :] < lengths[:, None]).to(device)
    if p.get("mask"):
        mask = torch.rand((batch, 1, seq_q, seq_k), generator=generator) < 0.6
        diagonal = (torch.arange(seq_q) + seq_k - seq_q).clamp(0, seq_k - 1)
        mask[:, :, torch.arange(seq_q), diagonal] = True  # every row keeps a key, on every backend
        kwargs["attn_mask"] = mask.to(device)
    args = (q, k, v)
    if p.get("grad"):
        args += (torch.randn((batch, heads, seq_q, head_dim), generator=generator).to(device, dtype),)
    return registry.Call(args, kwargs)


def _case(quick=False, **params) -> registry.Case:
    b, h, nq, d = params["b"], params["h"], params["nq"], params["d"]
    label = f"B{b} H{h}" + (f"/{params['hkv']}" if "hkv" in params else "") + f" N{nq}"
    label += f"x{params['nk']}" if "nk" in params else ""
    label += f" D{d}" + "".join(f" {flag}" for flag in ("causal", "padding", "mask") if params.get(flag))
    return registry.Case(label + (" bnhd" if params.get("layout") == "bnhd" else ""), params, quick=quick)


def _gpu_grid(**extra) -> list[registry.Case]:
    """16k tokens per batch at every length (FlashAttention's benchmark grid); 2048 model width."""
    return [
        _case(b=16384 // n, h=2048 // d, nq=n, d=d, causal=causal, quick=(n == 8192 and d == 128), **extra)
        for causal in (False, True)
        for d in (64, 128)
        for n in (512, 1024, 2048, 4096, 8192, 16384)
    ]


_TRITON = triton_mode.triton_available()

registry.register(
    registry.Op(
        name="attention",
        eager=attention_eager,
        reference=registry.float64_reference(attention_by_query_blocks),
        cost=attention_cost,
        make_call=attention_call,
        metric="TFLOP/s",
        test_cases=[
            _case(b=1, h=2, nq=17, d=16),
            _case(b=2, h=4, hkv=2, nq=17, nk=33, d=40, causal=True, padding=True, layout="bnhd"),
            _case(b=1, h=3, hkv=1, nq=1, nk=45, d=64, causal=True),  # decode: the split-KV kernel
            _case(b=2, h=2, nq=20, d=80, causal=True, mask=True),
        ],
        bench_cases={
            "cpu": [
                _case(b=1, h=2, nq=64, d=32, quick=True),
                _case(b=1, h=4, nq=128, d=64),
                _case(b=1, h=2, nq=256, d=64, causal=True),  # interpreted: ~2 s a call,
            ],
            "cuda": _gpu_grid(),
        },
        backends={"sdpa": attention_sdpa, **({"triton": attention_triton} if _TRITON else {})},
    )
)

registry.register(
    registry.Op(
        name="attention_forward_backward",
        eager=attention_forward_backward(attention_eager),
        reference=registry.float64_reference(forward_backward_by_query_blocks),
        cost=attention_forward_backward_cost,
        make_call=attention_call,
        metric="TFLOP/s",
        test_cases=[
            _case(b=1, h=2, hkv=1, nq=17, d=16, causal=True, grad=True),
            _case(b=2, h=2, nq=9, nk=24, d=40, padding=True, mask=True, grad=True, layout="bnhd"),
        ],
        bench_cases={
            "cpu": [
                _case(b=1, h=2, nq=64, d=32, grad=True, quick=True),
                _case(b=1, h=4, nq=128, d=64, causal=True, grad=True),
            ],
            "cuda": _gpu_grid(grad=True),
        },
        backends={
            "sdpa": attention_forward_backward(attention_sdpa),
            "compile": attention_forward_backward(registry.compiled(attention_eager)),
            **({"triton": attention_forward_backward(attention_triton)} if _TRITON else {}),
        },
        accepts_out=False,
    )
)

registry.register(
    registry.Op(
        name="attention_decode",
        eager=attention_eager,
        reference=registry.float64_reference(attention_by_query_blocks),
        cost=attention_cost,  # memory bound: bytes ~= reading K and V once
        make_call=attention_call,
        metric="GB/s",
        test_cases=[
            _case(b=2, h=4, hkv=2, nq=1, nk=70, d=32, padding=True),
            _case(b=1, h=2, nq=3, nk=50, d=16, causal=True, layout="bnhd"),
        ],
        bench_cases={
            "cpu": [_case(b=1, h=8, hkv=2, nq=1, nk=n, d=64, quick=n == 1024) for n in (256, 1024)],
            "cuda": [
                _case(b=b, h=32, hkv=8, nq=nq, nk=n, d=128, quick=(b == 8 and n == 32768 and nq == 1))
                for b in (1, 8)
                for n in (1024, 8192, 32768, 65536)  # the goal is read at 32k
                for nq in (1, 4)
            ],
        },
        backends={"sdpa": attention_sdpa, **({"triton": attention_decode_triton} if _TRITON else {})},
    )
)
