"""What autotuning may choose on a GPU: the configs the forward and backward launchers hand the
autotuner, for shapes a GPU run sees, captured by ``genzoo.kernel_inspection`` in a process that
does not interpret the kernels (nothing runs or compiles). That none of them spills is checked
by compiling them: tests/test_kernel_inspection.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CANDIDATES = """
import json, torch
from genzoo import kernel_inspection
from genzoo.kernels import attention_backward, attention_forward

def candidates(run):
    with kernel_inspection.captured_launches() as launches:
        run()
    tiles = ("BLOCK_M", "BLOCK_N", "USE_TMA")
    return [{"kernel": launch.kernel.__name__, **launch.options,
             **{name: launch.arguments[name] for name in tiles if name in launch.arguments}}
            for launch in launches]

def forward(dtype, head_dim, seq, aligned):
    q = torch.randn(1, 2, seq, head_dim, dtype=dtype)
    # one element more per row: strides of odd bytes, which the copy engine cannot read
    k, v = (torch.randn(1, 2, seq, head_dim + (not aligned), dtype=dtype)[..., :head_dim] for _ in range(2))
    out, lse = torch.empty_like(q), torch.empty(1, 2, seq)
    return lambda: attention_forward.flash_attention_forward(q, k, v, None, None, False, 0.1, out, lse)

def backward(head_dim):
    q, k, v, out, grad_out = (torch.randn(1, 2, 4096, head_dim, dtype=torch.bfloat16) for _ in range(5))
    lse = torch.randn(1, 2, 4096)
    return lambda: attention_backward.flash_attention_backward(
        grad_out, q, k, v, out, lse, None, None, False, 0.1
    )

found = {}
for head_dim in (64, 128, 256):
    for seq in (16, 512, 16384):
        for dtype, aligned in ((torch.bfloat16, True), (torch.bfloat16, False), (torch.float32, True)):
            label = f"forward {str(dtype).removeprefix('torch.')} D{head_dim} N{seq}"
            label += "" if aligned else " odd"
            found[label] = candidates(forward(dtype, head_dim, seq, aligned))
    found[f"backward D{head_dim}"] = candidates(backward(head_dim))
print(json.dumps(found))
"""

HEAD_DIMS = (64, 128, 256)


@pytest.fixture(scope="module")
def candidates():
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "0", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, "-c", CANDIDATES],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def _configs(candidates, label, kernel=None):
    return {
        tuple(sorted((k, v) for k, v in c.items() if k != "kernel"))
        for c in candidates[label]
        if kernel is None or c["kernel"] == kernel
    }


@pytest.mark.parametrize("head_dim", HEAD_DIMS)
@pytest.mark.parametrize("seq", [16, 512, 16384])
def test_forward_tries_the_copy_engine_only_where_it_can_read_k_and_v(candidates, head_dim, seq):
    aligned = candidates[f"forward bfloat16 D{head_dim} N{seq}"]
    assert any(c["USE_TMA"] for c in aligned), "bf16 K and V with 16-byte strides: TMA configs are tried"
    for label in (f"forward bfloat16 D{head_dim} N{seq} odd", f"forward float32 D{head_dim} N{seq}"):
        assert candidates[label] and not any(c["USE_TMA"] for c in candidates[label]), label
    # the pointer-load configs do not depend on whether descriptors apply
    pointer_loads = _configs(candidates, f"forward bfloat16 D{head_dim} N{seq} odd")
    assert pointer_loads <= _configs(candidates, f"forward bfloat16 D{head_dim} N{seq}")


@pytest.mark.parametrize("head_dim", HEAD_DIMS)
def test_forward_tile_heights_follow_the_sequence(candidates, head_dim):
    """Long sequences: several configs, among them Hopper's 128-row tiles with 3+ stages of K/V in
    flight; 16 queries: no tile mostly empty (64 rows at most)."""
    long = candidates[f"forward bfloat16 D{head_dim} N16384"]
    assert len(long) >= 4
    assert any(c["BLOCK_M"] == 128 and c["num_stages"] >= 3 for c in long)
    assert all(c["BLOCK_M"] <= 64 for c in candidates[f"forward bfloat16 D{head_dim} N16"])


def test_a_smaller_head_dim_never_loses_a_config(candidates):
    for small, large in zip(HEAD_DIMS, HEAD_DIMS[1:]):
        for label in ("forward bfloat16 D{} N16384", "forward float32 D{} N512"):
            assert _configs(candidates, label.format(large)) <= _configs(candidates, label.format(small)), (
                label
            )
        for kernel in ("attention_bwd_dkdv_kernel", "attention_bwd_dq_kernel"):
            backward = (_configs(candidates, f"backward D{d}", kernel) for d in (large, small))
            assert next(backward) <= next(backward), kernel


@pytest.mark.parametrize("head_dim", HEAD_DIMS)
def test_backward_tries_several_configs(candidates, head_dim):
    for kernel in ("attention_bwd_dkdv_kernel", "attention_bwd_dq_kernel"):
        tried = _configs(candidates, f"backward D{head_dim}", kernel)
        assert len(tried) >= (4 if head_dim <= 128 else 1), kernel
