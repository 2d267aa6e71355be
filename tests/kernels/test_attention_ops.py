"""The attention ops as the harness and users see them: bad arguments refused by name, the
custom ops under opcheck and torch.compile, the three registered ops with their backends and
cost model, the blockwise float64 reference, and every kernel compiled for Hopper."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from attention_cases import DEVICE, fresh_seed, qkv

from genzoo.kernels import attention, attention_ops, registry
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import relative_error

# (changes to q, k, v [2, 4|2|2, 5|9|9, 16] and keyword arguments, the argument the error must name)
BAD_INPUTS = {
    "not a tensor": (lambda q, k, v: ([1.0], k, v, {}), "q"),
    "int dtype": (lambda q, k, v: (q.int(), k, v, {}), "q"),
    "float64": (lambda q, k, v: (q.double(), k.double(), v.double(), {}), "q"),
    "k dtype": (lambda q, k, v: (q, k.half(), v, {}), "k"),
    "device": (lambda q, k, v: (q.to("meta"), k, v, {}), "q"),
    "k device": (lambda q, k, v: (q, k.to("meta"), v, {}), "k"),
    "rank": (lambda q, k, v: (q[0], k, v, {}), "q"),
    "k batch": (lambda q, k, v: (q, k[:1], v, {}), "k"),
    "k head_dim": (lambda q, k, v: (q, k[..., :8], v, {}), "k"),
    "v shape": (lambda q, k, v: (q, k, v[:, :, :3], {}), "v"),
    "kv heads": (lambda q, k, v: (q[:, :3], k, v, {}), "k"),
    "head_dim > 256": (lambda q, k, v: tuple(t.new_ones(*t.shape[:3], 272) for t in (q, k, v)) + ({},), "q"),
    "head_dim 0": (lambda q, k, v: (q[..., :0], k[..., :0], v[..., :0], {}), "q"),
    "causal": (lambda q, k, v: (q, k, v, {"causal": 1}), "causal"),
    "scale": (lambda q, k, v: (q, k, v, {"scale": float("nan")}), "scale"),
    "padding dtype": (lambda q, k, v: (q, k, v, {"key_padding_mask": torch.ones(2, 9)}), "key_padding_mask"),
    "padding shape": (
        lambda q, k, v: (q, k, v, {"key_padding_mask": torch.ones(2, 8, dtype=torch.bool)}),
        "key_padding_mask",
    ),
    "mask dtype": (lambda q, k, v: (q, k, v, {"attn_mask": torch.zeros(2, 1, 5, 9)}), "attn_mask"),
    "mask shape": (
        lambda q, k, v: (q, k, v, {"attn_mask": torch.ones(2, 3, 5, 9, dtype=torch.bool)}),
        "attn_mask",
    ),
    "out shape": (lambda q, k, v: (q, k, v, {"out": torch.empty(2, 4, 5, 15)}), "out"),
    "out overlaps": (lambda q, k, v: (q, k, v, {"out": torch.empty(1, 1, 1, 16).expand(2, 4, 5, 16)}), "out"),
    "out with grad": (lambda q, k, v: (q.requires_grad_(), k, v, {"out": torch.empty_like(q)}), "out"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_inputs_are_refused_with_the_argument_named(case):
    make, name = BAD_INPUTS[case]
    q, k, v = (torch.randn(2, heads, n, 16) for heads, n in ((4, 5), (2, 9), (2, 9)))
    q, k, v, kwargs = make(q, k, v)
    with pytest.raises(KernelInputError, match=rf"^{name}\b"):
        attention.attention_triton(q, k, v, **kwargs)


def test_eager_and_sdpa_check_inputs_too():
    q, k, v = (torch.randn(1, heads, 5, 16) for heads in (3, 2, 2))
    for fn in (attention.attention_eager, attention.attention_sdpa):
        with pytest.raises(KernelInputError, match=r"^k\b"):
            fn(q, k, v)


def test_custom_ops_pass_opcheck():
    q, k, v = qkv(1, 2, 1, 9, 11, 16, torch.float32, fresh_seed())
    mask = torch.rand(1, 2, 9, 11, device=DEVICE) < 0.7
    torch.library.opcheck(torch.ops.genzoo.attention_forward.default, (q, k, v, None, mask, True, 0.25))
    out, lse = torch.ops.genzoo.attention_forward(q, k, v, None, mask, True, 0.25)
    args = (torch.randn_like(out), q, k, v, out, lse, None, mask, True, 0.25)
    torch.library.opcheck(torch.ops.genzoo.attention_backward.default, args)


def test_torch_compile_fullgraph_traces_through_forward_and_backward():
    seed = fresh_seed()
    q, k, v = (t.requires_grad_() for t in qkv(1, 2, 1, 17, 17, 16, torch.float32, seed))

    def loss(q, k, v):
        return attention.attention_triton(q, k, v, causal=True).square().sum()

    compiled = torch.compile(loss, fullgraph=True, backend="aot_eager")  # graph breaks raise
    compiled(q, k, v).backward()
    grads = [t.grad for t in (q, k, v)]
    q64, k64, v64 = (t.detach().double().requires_grad_() for t in (q, k, v))
    attention.attention_eager(q64, k64, v64, True).square().sum().backward()
    for g, ref in zip(grads, (q64.grad, k64.grad, v64.grad)):
        assert relative_error(g, ref) <= 1e-5, f"seed {seed}"


@pytest.mark.slow
def test_torch_compile_inductor():
    q, k, v = qkv(1, 2, 2, 9, 9, 16, torch.float32, fresh_seed())
    compiled = torch.compile(
        lambda q, k, v: attention.attention_triton(q, k, v, causal=True) * 2, fullgraph=True
    )
    reference = 2 * attention.attention_eager(q.double(), k.double(), v.double(), True)
    assert relative_error(compiled(q, k, v), reference) <= 1e-5


def test_three_ops_registered_with_their_backends():
    for name in ("attention", "attention_forward_backward", "attention_decode"):
        assert set(registry.get(name).backends) == {"eager", "compile", "sdpa", "triton"}
    assert registry.get("attention").metric == "TFLOP/s" and registry.get("attention_decode").metric == "GB/s"
    assert not registry.get("attention_forward_backward").accepts_out


def _call(op, **params):
    case = registry.Case("case", {"b": 2, "h": 16, "nq": 64, "d": 128, **params})
    return op.make_call(case, torch.bfloat16, "meta", torch.Generator().manual_seed(0))


def test_cost_model():
    """FLOPs 4 B H Nq Nk D, halved for square causal attention, 3.5x with the backward; bytes:
    q, k, v read and out written once."""
    op = registry.get("attention")
    cost = op.cost(_call(op))
    assert cost.flops == 4 * 2 * 16 * 64 * 64 * 128
    assert cost.bytes_moved == 4 * 2 * 16 * 64 * 128 * 2  # q, k, v, out in bf16
    assert op.cost(_call(op, causal=True)).flops == cost.flops // 2
    backward = registry.get("attention_forward_backward")
    assert backward.cost(_call(backward, grad=True)).flops == 3.5 * cost.flops
    assert attention_ops.visible_pairs(2, 5, True) == 4 + 5  # bottom-right: row 0 sees 4 keys, row 1 all 5


@pytest.mark.parametrize(
    "causal, padding, mask", [(True, True, False), (False, False, True), (True, False, True)]
)
def test_reference_by_query_blocks_equals_eager_attention(monkeypatch, causal, padding, mask):
    """The float64 reference holds at most REFERENCE_BLOCK_BYTES of scores at a time (a few query
    rows): the same result as eager, for the forward and for the gradients, with causal
    (Nq != Nk), padding and general masks."""
    seed = fresh_seed()
    params = {
        "b": 2,
        "h": 4,
        "hkv": 2,
        "nq": 13,
        "nk": 21,
        "d": 16,
        "causal": causal,
        "padding": padding,
        "mask": mask,
        "grad": True,
    }
    case = registry.Case("x", params)
    call = attention_ops.attention_call(case, torch.float64, "cpu", torch.Generator().manual_seed(seed))
    q, k, v, grad_out = call.args
    budget = 8 * 2 * 4 * 21 * 3  # float64 scores of 3 query rows
    monkeypatch.setattr(attention_ops, "REFERENCE_BLOCK_BYTES", budget)
    rows = []
    eager = attention_ops.attention_eager

    def counted(q, *args, **kwargs):
        rows.append(q.shape[2])
        return eager(q, *args, **kwargs)

    monkeypatch.setattr(attention_ops, "attention_eager", counted)
    by_blocks = attention_ops.attention_by_query_blocks(q, k, v, **call.kwargs)
    assert len(rows) > 1 and sum(rows) == 13 and all(8 * 2 * 4 * 21 * n <= budget for n in rows)
    assert torch.allclose(by_blocks, eager(q, k, v, **call.kwargs), atol=1e-13), seed
    grads = attention_ops.attention_forward_backward(eager)(q, k, v, grad_out, **call.kwargs)
    grads_by_blocks = attention_ops.forward_backward_by_query_blocks(q, k, v, grad_out, **call.kwargs)
    assert torch.allclose(grads_by_blocks, grads, atol=1e-12), seed


SM90_COMPILE = """
import os, sys
os.environ["TRITON_INTERPRET"] = "0"
import torch, triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.jit import mangle_type
from genzoo.kernels import attention_backward as B, attention_decode as D, attention_forward as F
t, u8, f32 = (torch.empty(4, dtype=d) for d in (torch.bfloat16, torch.uint8, torch.float32))
pointers = dict(q_ptr=t, k_ptr=t, v_ptr=t, k_desc=t, v_desc=t, out_ptr=t, do_ptr=t, dout_ptr=t, dq_ptr=t,
                dk_ptr=t, dv_ptr=t, lse_ptr=f32, delta_ptr=f32, part_out_ptr=f32, part_lse_ptr=f32,
                kpm_ptr=u8, mask_ptr=u8)
flags = dict(CAUSAL=True, HAS_KPM=True, HAS_MASK=True, DOT_MODE="native", HEAD_DIM=80, HEAD_DIM_PAD=128,
             USE_TMA=False, BLOCK_M=64, BLOCK_N=64, BLOCK_S=16)
for kernel in (F.flash_attention_fwd_kernel, B.attention_bwd_delta_kernel, B.attention_bwd_dkdv_kernel,
               B.attention_bwd_dq_kernel, D.flash_decoding_split_kernel, D.flash_decoding_merge_kernel):
    constexprs = {n: flags[n] for n in kernel.arg_names if n in flags}
    signature = {
        n: "constexpr" if n in constexprs else mangle_type(pointers.get(n, 0.5 if "scale" in n else 7))
        for n in kernel.arg_names
    }
    compiled = triton.compile(ASTSource(kernel, signature, constexprs), target=GPUTarget("cuda", 90, 32),
                              options=dict(num_warps=4, num_stages=3))
    assert "mma" in compiled.asm["ptx"] or "dot" not in kernel.src, kernel.__name__
    print(kernel.__name__, "ok")
"""


@pytest.mark.slow
def test_kernels_compile_for_hopper_without_a_gpu():
    """The interpreter accepts code that the compiler rejects (non-constexpr globals, ...):
    compile every kernel, with every mask, to PTX for sm_90 with Triton's bundled ptxas."""
    pytest.importorskip("triton.backends.nvidia")
    env = {**os.environ, "TRITON_INTERPRET": "0"}
    result = subprocess.run(
        [sys.executable, "-c", SM90_COMPILE],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count(" ok") == 6
