"""attention: the FlashAttention-2 forward and backward Triton kernels against the float64 eager
reference (fresh random inputs, NaN-poisoned outputs, bf16/fp16 judged by 2x eager's own error),
the visibility rules (bottom-right causal, key padding, masks, rows that see nothing), strides,
empty tensors, the errors that name a bad argument, and torch.compile through the custom ops.
Split-KV decoding has its own file, test_attention_decode.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from genzoo import kernels
from genzoo.kernels import attention, attention_ops, registry
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import LOW_PRECISION, error_limit, relative_error

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPES = [torch.float32, torch.bfloat16, torch.float16]


def _seed() -> int:
    return torch.randint(0, 2**31 - 1, ()).item()  # fresh inputs each run; the seed is reported


def _qkv(b, h, hkv, nq, nk, d, dtype, seed, layout="bhnd"):
    g = torch.Generator().manual_seed(seed)

    def randn(heads, seq):
        if layout == "bnhd":  # transformers' transposed views
            return torch.randn(b, seq, heads, d, generator=g).to(DEVICE, dtype).transpose(1, 2)
        return torch.randn(b, heads, seq, d, generator=g).to(DEVICE, dtype)

    return randn(h, nq), randn(hkv, nk), randn(hkv, nk)


def _masks(q, k, seed, padding=False, mask=False):
    g = torch.Generator().manual_seed(seed + 1)
    b, nq, nk = q.shape[0], q.shape[2], k.shape[2]
    kwargs = {}
    if padding:
        lengths = torch.randint(1, nk + 1, (b,), generator=g)
        kwargs["key_padding_mask"] = (torch.arange(nk)[None, :] < lengths[:, None]).to(DEVICE)
    if mask:  # per head, so the kernel reads the general [B, H, Nq, Nk] mask
        kwargs["attn_mask"] = (torch.rand(b, q.shape[1], nq, nk, generator=g) < 0.6).to(DEVICE)
    return kwargs


def _assert_close(result, reference, eager, dtype, what, seed):
    eager_error = relative_error(eager, reference) if dtype in LOW_PRECISION else None
    limit = error_limit(dtype, eager_error)
    error = relative_error(result, reference)
    assert error <= limit, f"{what}, seed {seed}: error {error:.3g} > limit {limit:.3g} (eager {eager_error})"


def _forward_checked(q, k, v, dtype, seed, causal=False, **masks):
    out = torch.full_like(q, float("nan"), memory_format=torch.contiguous_format)
    result = attention.attention_triton(q, k, v, causal, out=out, **masks)
    assert result is out
    reference = attention.attention_eager(*(t.double() for t in (q, k, v)), causal, **masks)
    eager = attention.attention_eager(q, k, v, causal, **masks)
    _assert_close(result, reference, eager, dtype, "out", seed)
    return result


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
    seed = _seed()
    *sizes, causal = shape
    q, k, v = _qkv(*sizes, dtype, seed)
    _forward_checked(q, k, v, dtype, seed, causal)


def test_forward_long_sequence():
    """seq 1000: 63 query blocks x 63 key blocks under the interpreter's 16 x 16 tiles."""
    seed = _seed()
    q, k, v = _qkv(1, 1, 1, 1000, 1000, 64, torch.bfloat16, seed)
    _forward_checked(q, k, v, torch.bfloat16, seed, causal=True)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    "padding, mask, causal", [(True, False, False), (False, True, True), (True, True, True)]
)
def test_forward_with_masks(padding, mask, causal, dtype):
    seed = _seed()
    q, k, v = _qkv(2, 4, 2, 21, 37, 32, dtype, seed, layout="bnhd")
    _forward_checked(q, k, v, dtype, seed, causal, **_masks(q, k, seed, padding, mask))


def test_rows_that_see_no_key_give_zero_and_lse_minus_inf():
    q, k, v = _qkv(2, 2, 2, 6, 20, 16, torch.float32, _seed())
    key_padding_mask = torch.ones(2, 20, dtype=torch.bool, device=DEVICE)
    key_padding_mask[1] = False  # the second sequence has no real key
    out, lse = torch.ops.genzoo.attention_forward(q, k, v, key_padding_mask, None, False, 0.25)
    assert torch.equal(out[1], torch.zeros_like(out[1])) and torch.isinf(lse[1]).all() and (lse[1] < 0).all()
    scores = (q[0].double() @ k[0].double().transpose(-1, -2)) * 0.25
    assert relative_error(lse[0], torch.logsumexp(scores, -1)) <= 1e-6


def test_strided_inputs():
    """Transposed, sliced and broadcast (stride 0) inputs are read through their strides."""
    seed = _seed()
    g = torch.Generator().manual_seed(seed)
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
    q, k, v = _qkv(*shape, torch.float32, _seed())
    for t in (q, k, v):
        t.requires_grad_()
    out = attention.attention_triton(q, k, v, True)
    assert out.shape == q.shape and torch.equal(out, attention.attention_eager(q, k, v, True))
    out.sum().backward()
    assert all(t.grad is not None and torch.equal(t.grad, torch.zeros_like(t)) for t in (q, k, v))


# (b, h, hkv, nq, nk, d, causal, padding, mask)
BACKWARD_SHAPES = [
    (1, 2, 1, 17, 17, 16, True, False, False),
    (2, 2, 2, 9, 24, 40, False, True, True),
    (1, 2, 2, 24, 9, 64, True, False, False),  # Nq > Nk: rows without keys get zero gradient
    (1, 4, 2, 33, 47, 80, True, True, False),
]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(
    "shape",
    BACKWARD_SHAPES,
    ids=lambda s: "B{}H{}/{}N{}x{}D{}".format(*s[:6]) + "c" * s[6] + "p" * s[7] + "m" * s[8],
)
def test_gradients_match_float64_reference(shape, dtype):
    seed = _seed()
    b, h, hkv, nq, nk, d, causal, padding, mask = shape
    q, k, v = _qkv(b, h, hkv, nq, nk, d, dtype, seed, layout="bnhd" if padding else "bhnd")
    masks = _masks(q, k, seed, padding, mask)
    grad_out = torch.randn(q.shape, generator=torch.Generator().manual_seed(seed + 2)).to(DEVICE, dtype)

    def gradients(fn, cast):
        inputs = [t.detach().to(cast).requires_grad_() for t in (q, k, v)]
        out = fn(*inputs, causal, **masks)
        return torch.autograd.grad(out, inputs, grad_out.to(cast))

    reference = gradients(attention.attention_eager, torch.float64)
    eager = gradients(attention.attention_eager, dtype)
    result = gradients(attention.attention_triton, dtype)
    for name, r, ref, e in zip(("dq", "dk", "dv"), result, reference, eager):
        assert r.dtype == dtype and r.shape == ref.shape
        _assert_close(r, ref, e, dtype, name, seed)


def test_a_training_step_matches_eager():
    """A tiny attention block trained for three steps gives the same weights on triton and eager."""
    torch.manual_seed(_seed())
    x = torch.randn(2, 13, 32, device=DEVICE)
    start = torch.nn.Linear(32, 96).to(DEVICE)
    weights = {}
    for backend in ("eager", "triton"):
        layer = torch.nn.Linear(32, 96).to(DEVICE)
        layer.load_state_dict(start.state_dict())
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.5)
        for _ in range(3):
            q, k, v = layer(x).view(2, 13, 3, 2, 16).permute(2, 0, 3, 1, 4)  # 3 x [B, H, N, D], strided
            with kernels.use(backend):
                loss = kernels.ops.attention(q, k, v, causal=True).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        weights[backend] = layer.weight.detach()
    assert relative_error(weights["triton"], weights["eager"].double()) <= 1e-5


BAD_INPUTS = {
    "not a tensor": (lambda q, k, v: ([1.0], k, v, {}), "q must be a torch.Tensor"),
    "int dtype": (lambda q, k, v: (q.int(), k, v, {}), "q has dtype torch.int32"),
    "float64": (lambda q, k, v: (q.double(), k.double(), v.double(), {}), "q has dtype torch.float64"),
    "k dtype": (lambda q, k, v: (q, k.half(), v, {}), "k has dtype torch.float16"),
    "device": (lambda q, k, v: (q.to("meta"), k, v, {}), "q is on meta"),
    "k device": (lambda q, k, v: (q, k.to("meta"), v, {}), "k is on meta"),
    "rank": (lambda q, k, v: (q[0], k, v, {}), "q must have 4 dimensions"),
    "k batch": (lambda q, k, v: (q, k[:1], v, {}), "k has shape"),
    "k head_dim": (lambda q, k, v: (q, k[..., :8], v, {}), "k has shape"),
    "v shape": (lambda q, k, v: (q, k, v[:, :, :3], {}), "v has shape"),
    "kv heads": (lambda q, k, v: (q[:, :3], k, v, {}), "do not divide the 3 heads of q"),
    "head_dim > 256": (
        lambda q, k, v: tuple(t.new_ones(*t.shape[:3], 272) for t in (q, k, v)) + ({},),
        "head_dim up to 256",
    ),
    "head_dim 0": (lambda q, k, v: (q[..., :0], k[..., :0], v[..., :0], {}), "head_dim 0"),
    "causal": (lambda q, k, v: (q, k, v, {"causal": 1}), "causal must be a bool"),
    "scale": (lambda q, k, v: (q, k, v, {"scale": float("nan")}), "scale must be finite"),
    "padding dtype": (
        lambda q, k, v: (q, k, v, {"key_padding_mask": torch.ones(2, 9)}),
        "key_padding_mask has dtype",
    ),
    "padding shape": (
        lambda q, k, v: (q, k, v, {"key_padding_mask": torch.ones(2, 8, dtype=torch.bool)}),
        "key_padding_mask has shape",
    ),
    "mask dtype": (lambda q, k, v: (q, k, v, {"attn_mask": torch.zeros(2, 1, 5, 9)}), "attn_mask has dtype"),
    "mask shape": (
        lambda q, k, v: (q, k, v, {"attn_mask": torch.ones(2, 3, 5, 9, dtype=torch.bool)}),
        "does not broadcast",
    ),
    "out shape": (lambda q, k, v: (q, k, v, {"out": torch.empty(2, 4, 5, 15)}), "out has shape"),
    "out overlaps": (
        lambda q, k, v: (q, k, v, {"out": torch.empty(1, 1, 1, 16).expand(2, 4, 5, 16)}),
        "zero stride",
    ),
    "out with grad": (
        lambda q, k, v: (q.requires_grad_(), k, v, {"out": torch.empty_like(q)}),
        "out= cannot be used",
    ),
}


@pytest.mark.parametrize("name", list(BAD_INPUTS))
def test_bad_inputs_are_refused_with_the_argument_named(name):
    make, message = BAD_INPUTS[name]
    q, k, v = (torch.randn(2, heads, n, 16) for heads, n in ((4, 5), (2, 9), (2, 9)))
    q, k, v, kwargs = make(q, k, v)
    with pytest.raises(KernelInputError, match=message):
        attention.attention_triton(q, k, v, **kwargs)


def test_eager_and_sdpa_check_inputs_too():
    q, k, v = (torch.randn(1, heads, 5, 16) for heads in (3, 2, 2))
    for fn in (attention.attention_eager, attention.attention_sdpa):
        with pytest.raises(KernelInputError, match="do not divide"):
            fn(q, k, v)


def test_custom_ops_pass_opcheck():
    q, k, v = _qkv(1, 2, 1, 9, 11, 16, torch.float32, _seed())
    mask = torch.rand(1, 2, 9, 11, device=DEVICE) < 0.7
    torch.library.opcheck(torch.ops.genzoo.attention_forward.default, (q, k, v, None, mask, True, 0.25))
    out, lse = torch.ops.genzoo.attention_forward(q, k, v, None, mask, True, 0.25)
    args = (torch.randn_like(out), q, k, v, out, lse, None, mask, True, 0.25)
    torch.library.opcheck(torch.ops.genzoo.attention_backward.default, args)


def test_torch_compile_fullgraph_traces_through_forward_and_backward():
    seed = _seed()
    q, k, v = (t.requires_grad_() for t in _qkv(1, 2, 1, 17, 17, 16, torch.float32, seed))

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
    q, k, v = _qkv(1, 2, 2, 9, 9, 16, torch.float32, _seed())
    compiled = torch.compile(
        lambda q, k, v: attention.attention_triton(q, k, v, causal=True) * 2, fullgraph=True
    )
    assert (
        relative_error(
            compiled(q, k, v), 2 * attention.attention_eager(q.double(), k.double(), v.double(), True)
        )
        <= 1e-5
    )


def test_three_ops_registered_with_their_backends():
    for name in ("attention", "attention_forward_backward", "attention_decode"):
        assert set(registry.get(name).backends) == {"eager", "compile", "sdpa", "triton"}
    assert registry.get("attention").metric == "TFLOP/s" and registry.get("attention_decode").metric == "GB/s"
    assert not registry.get("attention_forward_backward").accepts_out


def test_cost_model():
    op = registry.get("attention")
    case = registry.Case("goal", {"b": 2, "h": 16, "nq": 64, "d": 128})
    call = op.make_call(case, torch.bfloat16, "meta", torch.Generator().manual_seed(0))
    assert op.cost(call).flops == 4 * 2 * 16 * 64 * 64 * 128
    assert op.cost(call).bytes_moved == 4 * 2 * 16 * 64 * 128 * 2  # q, k, v, out in bf16
    causal = op.make_call(
        registry.Case("c", {"b": 2, "h": 16, "nq": 64, "d": 128, "causal": True}),
        torch.bfloat16,
        "meta",
        torch.Generator(),
    )
    assert op.cost(causal).flops == op.cost(call).flops // 2
    backward = registry.get("attention_forward_backward")
    grad_call = backward.make_call(
        registry.Case("g", {"b": 2, "h": 16, "nq": 64, "d": 128, "grad": True}),
        torch.bfloat16,
        "meta",
        torch.Generator(),
    )
    assert backward.cost(grad_call).flops == 3.5 * op.cost(call).flops
    assert attention_ops.visible_pairs(2, 5, True) == 4 + 5  # bottom-right: row 0 sees 4 keys, row 1 all 5


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("causal", [False, True])
def test_gpu_large_against_sdpa(causal):
    q, k, v = _qkv(2, 8, 2, 2048, 2048, 128, torch.bfloat16, _seed())
    reference = attention.attention_eager(*(t.double() for t in (q, k, v)), causal)
    result = attention.attention_triton(q, k, v, causal)
    sdpa = attention.attention_sdpa(q, k, v, causal)
    limit = error_limit(torch.bfloat16, relative_error(sdpa, reference))
    assert relative_error(result, reference) <= limit
    for use_tma in (True, False):  # each way of loading K and V, at a fixed config
        out, lse = torch.full_like(q, float("nan")), torch.empty(q.shape[:3], device=q.device)
        attention.flash_attention_forward(q, k, v, None, None, causal, 128**-0.5, out, lse, use_tma=use_tma)
        assert relative_error(out, reference) <= limit, use_tma


SM90_COMPILE = """
import os, sys
os.environ["TRITON_INTERPRET"] = "0"
import torch, triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from triton.runtime.jit import mangle_type
from genzoo.kernels import attention as A, attention_backward as B, attention_decode as D
t, u8, f32 = (torch.empty(4, dtype=d) for d in (torch.bfloat16, torch.uint8, torch.float32))
pointers = dict(q_ptr=t, k_ptr=t, v_ptr=t, k_desc=t, v_desc=t, out_ptr=t, do_ptr=t, dout_ptr=t, dq_ptr=t, dk_ptr=t, dv_ptr=t,
                lse_ptr=f32, delta_ptr=f32, part_out_ptr=f32, part_lse_ptr=f32, kpm_ptr=u8, mask_ptr=u8)
flags = dict(CAUSAL=True, HAS_KPM=True, HAS_MASK=True, DOT_MODE="native", HEAD_DIM=80, HEAD_DIM_PAD=128, USE_TMA=False,
             BLOCK_M=64, BLOCK_N=64, BLOCK_S=16)
for kernel in (A.flash_attention_fwd_kernel, B.attention_bwd_delta_kernel, B.attention_bwd_dkdv_kernel,
               B.attention_bwd_dq_kernel, D.flash_decoding_split_kernel, D.flash_decoding_merge_kernel):
    constexprs = {n: flags[n] for n in kernel.arg_names if n in flags}
    signature = {n: "constexpr" if n in constexprs else mangle_type(pointers.get(n, 0.5 if "scale" in n else 7))
                 for n in kernel.arg_names}
    compiled = triton.compile(ASTSource(kernel, signature, constexprs), target=GPUTarget("cuda", 90, 32),
                              options=dict(num_warps=4, num_stages=3))
    assert "mma" in compiled.asm["ptx"] or "dot" not in kernel.src, kernel.__name__
    print(kernel.__name__, "ok")
"""


@pytest.mark.slow
def test_kernels_compile_for_hopper_without_a_gpu():
    """The interpreter accepts code that the compiler rejects (non-constexpr globals, ...):
    compile every kernel to PTX for sm_90 with Triton's bundled ptxas, no GPU needed."""
    pytest.importorskip("triton.backends.nvidia")
    env = {**os.environ, "TRITON_INTERPRET": "0"}
    result = subprocess.run([sys.executable, "-c", SM90_COMPILE], check=False, env=env, capture_output=True, text=True, timeout=600,
                            cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count(" ok") == 6


@pytest.mark.skipif(not hasattr(attention, "flash_attention_fwd_tuned"), reason="needs triton")
@pytest.mark.parametrize("head_dim_pad, seq_q", [(64, 16384), (128, 512), (256, 8192), (64, 16)])
def test_autotune_pruning_keeps_valid_configs(head_dim_pad, seq_q):
    configs = attention.flash_attention_fwd_tuned.configs
    q = torch.empty(1, dtype=torch.bfloat16)
    named = {"seq_q_class": seq_q, "q_ptr": q, "has_descriptors": 0}
    kept = attention._prune_fwd_configs(configs, named, HEAD_DIM_PAD=head_dim_pad)
    assert not any(c.kwargs["USE_TMA"] for c in kept)
    with_tma = attention._prune_fwd_configs(configs, {**named, "has_descriptors": 1}, HEAD_DIM_PAD=head_dim_pad)
    assert any(c.kwargs["USE_TMA"] for c in with_tma) and set(kept) <= set(with_tma)
    assert kept and all(c.kwargs["BLOCK_N"] <= 64 for c in kept if head_dim_pad == 256)
    assert any(c.kwargs["BLOCK_M"] == 128 and c.num_stages >= 3 for c in kept) or seq_q < 128
    # configs the sm_90 compiler spills (at 4 warps) or cannot fit in shared memory are gone
    assert not any(c.kwargs["BLOCK_M"] == 128 and c.kwargs["BLOCK_N"] == 64 and c.num_warps == 4
                   for c in kept if head_dim_pad == 128)  # fmt: skip
    assert all(attention._fwd_shared_bytes(c, head_dim_pad, 2) <= 227 * 1024 for c in kept)
    assert attention._fwd_shared_bytes(configs[0], 128, 2) == 2 * 128 * (64 + 2 * 2 * 32)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_backward_kernels_write_every_gradient_element(dtype):
    """dq, dk, dv poisoned with NaN before the launch: every element must be written."""
    from genzoo.kernels.attention_backward import flash_attention_backward

    seed = _seed()
    q, k, v = _qkv(2, 4, 2, 19, 23, 40, dtype, seed)
    mask = torch.rand(2, 1, 19, 23, generator=torch.Generator().manual_seed(seed)).to(DEVICE) < 0.7
    out, lse = torch.ops.genzoo.attention_forward(q, k, v, None, mask.expand(2, 4, 19, 23), True, 0.2)
    grad_out = torch.randn_like(out)
    grads = tuple(torch.full_like(t, float("nan")) for t in (q, k, v))
    flash_attention_backward(
        grad_out, q, k, v, out, lse, None, mask.expand(2, 4, 19, 23).view(torch.uint8), True, 0.2, grads=grads
    )
    inputs = [t.detach().double().requires_grad_() for t in (q, k, v)]
    reference = torch.autograd.grad(
        attention.attention_eager(*inputs, True, 0.2, attn_mask=mask), inputs, grad_out.double()
    )
    eager_inputs = [t.detach().requires_grad_() for t in (q, k, v)]
    eager = torch.autograd.grad(
        attention.attention_eager(*eager_inputs, True, 0.2, attn_mask=mask), eager_inputs, grad_out
    )
    for name, g, ref, e in zip(("dq", "dk", "dv"), grads, reference, eager):
        _assert_close(g, ref, e, dtype, name, seed)


@pytest.mark.parametrize("causal, padding, mask", [(True, True, False), (False, False, True), (True, False, True)])
def test_reference_by_query_blocks_equals_eager_attention(monkeypatch, causal, padding, mask):
    """The float64 reference computes a few query rows at a time (memory): same result as eager,
    for the forward and for the gradients, with causal (Nq != Nk), padding and general masks."""
    seed = _seed()
    params = {"b": 2, "h": 4, "hkv": 2, "nq": 13, "nk": 21, "d": 16, "causal": causal, "padding": padding, "mask": mask, "grad": True}
    call = attention_ops.attention_call(registry.Case("x", params), torch.float64, "cpu", torch.Generator().manual_seed(seed))
    q, k, v, grad_out = call.args
    monkeypatch.setattr(attention_ops, "REFERENCE_BLOCK_BYTES", 8 * 2 * 4 * 21 * 3)  # 3 rows a block
    blocks = list(attention_ops._query_blocks(q, k, causal, call.kwargs.get("attn_mask")))
    assert [rows.stop - rows.start for rows, _ in blocks] == [3, 3, 3, 3, 1]
    expected = attention.attention_eager(q, k, v, **call.kwargs)
    assert torch.allclose(attention_ops.attention_by_query_blocks(q, k, v, **call.kwargs), expected, atol=1e-13), seed
    grads = attention_ops.attention_forward_backward(attention.attention_eager)(q, k, v, grad_out, **call.kwargs)
    by_blocks = attention_ops.forward_backward_by_query_blocks(q, k, v, grad_out, **call.kwargs)
    assert torch.allclose(by_blocks, grads, atol=1e-12), seed


@pytest.mark.skipif(not hasattr(attention, "flash_attention_fwd_tuned"), reason="needs triton")
def test_backward_autotuning_drops_the_configs_that_spill():
    from genzoo.kernels import attention_backward as backward

    def kept(tuned, head_dim):
        configs = tuned.early_config_prune(tuned.configs, {}, HEAD_DIM_PAD=head_dim)
        return {(c.kwargs["BLOCK_M"], c.kwargs["BLOCK_N"], c.num_warps) for c in configs}

    dkdv, dq = kept(backward.attention_bwd_dkdv_tuned, 128), kept(backward.attention_bwd_dq_tuned, 128)
    assert (64, 128, 8) not in dkdv and (128, 64, 8) not in dkdv and (64, 64, 8) in dkdv  # 56-160 B spilled
    assert (128, 64, 8) in dq and (128, 64, 4) not in dq and (128, 128, 4) not in dq  # 460-1480 B spilled
    assert kept(backward.attention_bwd_dkdv_tuned, 64) >= {(64, 128, 8), (128, 64, 8)} and (64, 128, 4) not in kept(
        backward.attention_bwd_dkdv_tuned, 64
    )


# (b, h, hkv, nq, nk, d, causal, layout, padding, mask): odd lengths past a block, head_dim padded
# by the copy engine's zero fill, GQA, transposed views, both masks
TMA_SHAPES = [
    (2, 4, 2, 19, 37, 40, True, "bhnd", True, False),
    (1, 2, 1, 40, 23, 80, True, "bnhd", False, True),
    (1, 2, 2, 33, 33, 64, False, "bnhd", True, True),
    (1, 1, 1, 17, 50, 128, False, "bhnd", False, False),
]


@pytest.mark.skipif(not hasattr(attention, "flash_attention_fwd_tuned"), reason="needs triton")
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("shape", TMA_SHAPES, ids=lambda s: "-".join(map(str, s)))
def test_forward_through_tensor_descriptors(shape, dtype):
    """K and V read through host tensor descriptors (the copy engine on sm_90): same result as
    the pointer loads, every output element written, out-of-range rows and columns zero."""
    b, h, hkv, nq, nk, d, causal, layout, padding, mask = shape
    seed = _seed()
    q, k, v = _qkv(b, h, hkv, nq, nk, d, dtype, seed, layout)
    masks = _masks(q, k, seed, padding, mask)
    assert attention.kv_descriptors(k, v, 128) is not None
    kpm, attn_mask = attention.kernel_masks(q, k, masks.get("key_padding_mask"), masks.get("attn_mask"))
    out, lse = torch.full_like(q, float("nan")), torch.full(q.shape[:3], float("nan"), device=DEVICE)
    attention.flash_attention_forward(q, k, v, kpm, attn_mask, causal, d**-0.5, out, lse, use_tma=True)
    reference = attention.attention_eager(*(t.double() for t in (q, k, v)), causal, **masks)
    _assert_close(out, reference, attention.attention_eager(q, k, v, causal, **masks), dtype, "out", seed)
    pointer_out, pointer_lse = torch.empty_like(q), torch.empty(q.shape[:3], device=DEVICE)
    attention.flash_attention_forward(q, k, v, kpm, attn_mask, causal, d**-0.5, pointer_out, pointer_lse, use_tma=False)
    # the same tiles in the same order: equal under the interpreter, within a rounding on a GPU
    assert relative_error(out, pointer_out) <= torch.finfo(dtype).eps, seed
    assert torch.allclose(lse, pointer_lse, rtol=1e-6, atol=1e-6, equal_nan=True), seed


def test_tensor_descriptors_only_where_the_copy_engine_can_read():
    q, k, v = _qkv(1, 2, 2, 8, 8, 40, torch.bfloat16, 0)
    assert attention.kv_descriptors(k, v, 64) is not None
    assert attention.kv_descriptors(k.float(), v.float(), 64) is None  # fp32: not the tensor-core path
    odd = torch.randn(1, 2, 8, 9, dtype=torch.bfloat16, device=DEVICE)[..., :8]  # rows of 18 bytes
    assert attention.kv_descriptors(odd, odd, 16) is None
    with pytest.raises(KernelInputError, match="use_tma"):
        attention.flash_attention_forward(
            q.float(), k.float(), v.float(), None, None, False, 0.1, torch.empty_like(q.float()),
            torch.empty(q.shape[:3], device=DEVICE),
            use_tma=True,
        )  # fmt: skip
