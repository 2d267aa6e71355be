"""genzoo must not shadow Hugging Face's ``kernels`` package: transformers and diffusers probe for
it and run ``from kernels import get_kernel``; a top-level ``kernels`` of ours on the path broke
``from transformers import AttentionInterface`` with a circular import."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

SCRIPT = """
import genzoo.kernels
from transformers import AttentionInterface, GPT2Config, GPT2LMHeadModel
from diffusers import UNet2DModel, DDIMScheduler
import torch
model = GPT2LMHeadModel(GPT2Config(n_layer=1, n_head=2, n_embd=16, vocab_size=32, n_positions=16))
print(model(torch.randint(0, 32, (1, 5))).logits.shape)
unet = UNet2DModel(sample_size=8, in_channels=1, out_channels=1, block_out_channels=(8, 8),
                   down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"),
                   norm_num_groups=4, layers_per_block=1)
print(unet(torch.randn(1, 1, 8, 8), 3).sample.shape)
"""


def test_transformers_and_diffusers_work_with_the_repository_root_on_the_path():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["torch.Size([1,", "5,", "32])", "torch.Size([1,", "1,", "8,", "8])"]
    assert not (REPO / "kernels").exists(), "a top-level kernels/ package shadows Hugging Face's"
