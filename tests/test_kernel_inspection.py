"""The machine code the kernels compile to for Hopper (sm_90), read without a GPU: the speed goals'
launches must use the instructions their speed depends on, and none may spill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

INSPECT = """
import dataclasses, json
from genzoo import kernel_inspection
reports = {goal: [dataclasses.asdict(r) | {"spills": r.spills} for r in kernel_inspection.inspect(launcher)]
           for goal, launcher in kernel_inspection.goal_launchers().items()}
print(json.dumps(reports))
"""


@pytest.fixture(scope="module")
def reports():
    pytest.importorskip("triton.backends.nvidia")
    result = subprocess.run(
        [sys.executable, "-c", INSPECT], check=False, env={**os.environ, "TRITON_INTERPRET": "0", "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True, text=True, timeout=1200, cwd=Path(__file__).resolve().parents[1],
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_attention_forward_uses_warpgroup_tensor_cores_and_async_copies_without_spills(reports):
    for goal in (
        "attention forward bf16 B2 H16 N8192 D128",
        "attention forward bf16 B2 H16 N8192 D128 causal",
    ):
        configs = reports[goal]
        assert len(configs) >= 8, "the autotuner keeps several configs to choose from"
        tma = [c for c in configs if "TMA" in c["config"]]
        assert tma and all(c["instructions"]["UTMALDG"] > 0 for c in tma), "K/V through the copy engine"
        for config in configs:
            assert config["instructions"]["HGMMA"] > 0 and config["instructions"]["HMMA"] == 0, config
            copies = config["instructions"]["LDGSTS"] + config["instructions"]["UTMALDG"]
            assert copies > 0, f"K/V not pipelined through shared memory: {config}"
            # a 255-register kernel may park a word or two (Triton 3.9 does at BLOCK_N 128), no more
            assert config["stack_bytes"] <= 16 and config["shared_bytes"] <= 227 * 1024, config


@pytest.mark.slow
def test_decode_and_denoising_step_move_16_bytes_per_access_without_spills(reports):
    (step,) = reports["ddim_step fp32 (CFG)"]
    assert step["instructions"]["LDG.E.128"] >= 3 and step["instructions"]["STG.E.128"] >= 1, step
    assert step["registers"] <= 64 and not step["spills"]
    decode = reports["attention decode bf16 B8 H32/8 KV32768 D128"]
    split = [r for r in decode if r["kernel"] == "flash_decoding_split_kernel"]
    assert split and all(r["instructions"]["LDGSTS"] > 0 and not r["spills"] for r in split)


@pytest.mark.slow
def test_backward_configs_the_autotuner_keeps_use_tensor_cores_without_large_spills(reports):
    configs = reports["attention backward bf16 B2 H16 N8192 D128"]
    for kernel in ("attention_bwd_dkdv_kernel", "attention_bwd_dq_kernel"):
        mine = [c for c in configs if c["kernel"] == kernel]
        assert len(mine) >= 4, kernel
        for config in mine:
            assert config["instructions"]["HGMMA"] + config["instructions"]["HMMA"] > 0, config
            assert config["stack_bytes"] <= 64, config  # the pruned ones spill 160 to 2500 bytes
