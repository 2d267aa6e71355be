"""The GroupNorm+SiLU swap leaves a diffusers UNet's output, gradients and state dict unchanged."""

from __future__ import annotations

import copy

import pytest
import torch
from diffusers import UNet2DModel
from torch import nn

from genzoo import kernels
from genzoo.kernels import triton_mode
from genzoo.models.fused_group_norm import GroupNormSiLU, SiLULinear, fuse_group_norm_silu
from genzoo.tolerance import relative_error


def small_unet() -> UNet2DModel:
    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=12,
        in_channels=2,
        out_channels=2,
        block_out_channels=(8, 16),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D"),
        norm_num_groups=4,
        attention_head_dim=4,
        num_class_embeds=3,
    )
    # random affine parameters: freshly initialised GroupNorms (weight 1, bias 0) would hide a mix-up
    with torch.no_grad():
        for module in unet.modules():
            if isinstance(module, nn.GroupNorm):
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return unet


def inputs():
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(3, 2, 12, 12, generator=generator)
    return x, torch.tensor([3, 500, 999]), torch.tensor([0, 2, 1])


def test_swap_fuses_every_resnet_pair_and_the_output_head():
    plain = small_unet()
    fused = copy.deepcopy(plain)
    count = fuse_group_norm_silu(fused)
    resnets = sum(type(m).__name__ == "ResnetBlock2D" for m in plain.modules())
    assert count == 2 * resnets + 1
    assert sum(isinstance(m, GroupNormSiLU) for m in fused.modules()) == count
    assert sum(isinstance(m, SiLULinear) for m in fused.modules()) == resnets
    assert list(fused.state_dict()) == list(plain.state_dict()), "checkpoints stay those of the plain UNet"


def test_fused_unet_computes_what_the_plain_one_does():
    plain = small_unet()
    fused = copy.deepcopy(plain)
    fuse_group_norm_silu(fused)
    x, t, y = inputs()
    with torch.no_grad():
        expected = plain(x, t, class_labels=y).sample
        assert relative_error(fused(x, t, class_labels=y).sample, expected) < 1e-6


def test_fused_unet_trains_like_the_plain_one():
    """With autograd on, the swap differentiates the eager op: the same gradients."""
    plain = small_unet()
    fused = copy.deepcopy(plain)
    fuse_group_norm_silu(fused)
    x, t, y = inputs()
    for unet in (plain, fused):
        unet(x, t, class_labels=y).sample.square().mean().backward()
    # all gradients as one vector: biases before a GroupNorm have gradient 0 up to roundoff
    flat = [torch.cat([p.grad.flatten() for p in unet.parameters()]) for unet in (plain, fused)]
    assert flat[0].abs().max() > 0
    assert relative_error(flat[1], flat[0]) < 1e-5


@pytest.mark.skipif(not triton_mode.triton_available(), reason="triton is not installed")
def test_fused_unet_under_triton_matches_eager():
    fused = small_unet()
    fuse_group_norm_silu(fused)
    x, t, y = inputs()
    with torch.no_grad():
        expected = fused(x, t, class_labels=y).sample
        with kernels.use("triton", ops=["group_norm_silu"]):
            assert relative_error(fused(x, t, class_labels=y).sample, expected) < 1e-5


@pytest.mark.parametrize("backend", ["eager", "triton"])
def test_fused_unet_runs_in_channels_last_memory(backend):
    """diffusers recommends channels-last UNets on GPUs; the fused op takes that layout as it is."""
    if backend == "triton" and not triton_mode.triton_available():
        pytest.skip("triton is not installed")
    plain = small_unet()
    fused = copy.deepcopy(plain)
    fuse_group_norm_silu(fused)
    fused.to(memory_format=torch.channels_last)
    layouts = []  # of each fused op's output: channels-last unless its input was copied to NCHW
    for module in fused.modules():
        if isinstance(module, GroupNormSiLU):
            module.register_forward_hook(
                lambda module, args, out: layouts.append(out.is_contiguous(memory_format=torch.channels_last))
            )
    x, t, y = inputs()
    with torch.no_grad():
        expected = plain(x, t, class_labels=y).sample
        with kernels.use(backend, ops=["group_norm_silu"]):
            result = fused(x.to(memory_format=torch.channels_last), t, class_labels=y).sample
    assert len(layouts) == fuse_group_norm_silu(copy.deepcopy(plain)) and all(layouts)
    assert relative_error(result, expected) < 1e-5
