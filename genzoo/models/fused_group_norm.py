"""SiLU(GroupNorm(x)) through the registry's fused ``group_norm_silu``, as modules, and the swap
that puts it into a ``diffusers`` UNet without touching diffusers' code.

``ResnetBlock2D.forward`` (diffusers 0.30 to 0.42) applies ``self.nonlinearity`` three times:

    h = nonlinearity(norm1(x))  ...  temb = time_emb_proj(nonlinearity(temb))  ...  h = nonlinearity(norm2(h))

The swap makes ``norm1``/``norm2`` fused ``GroupNormSiLU`` modules, ``nonlinearity`` the identity,
and moves the SiLU of the time embedding into ``time_emb_proj`` (``SiLULinear``) with
``skip_time_act`` set, so that diffusers' own forward runs the fused op. Every replacement
subclasses the module it replaces and keeps its parameters: the state dict, and so checkpoints,
are those of the plain UNet. ``tests/models/test_fused_group_norm.py`` checks that the output is
unchanged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from genzoo import kernels


class GroupNormSiLU(nn.GroupNorm):
    """``nn.GroupNorm`` followed by SiLU, one registry op; the parameters of ``nn.GroupNorm``."""

    @classmethod
    def replacing(cls, norm: nn.GroupNorm) -> GroupNormSiLU:
        fused = cls(norm.num_groups, norm.num_channels, eps=norm.eps, affine=norm.affine)
        fused.weight, fused.bias = norm.weight, norm.bias  # the same Parameter objects
        return fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled() and (
            x.requires_grad or (self.weight is not None and self.weight.requires_grad)
        ):
            # the fused kernels are forward-only (no backward): training differentiates eager code
            return kernels.get("group_norm_silu").eager(x, self.num_groups, self.weight, self.bias, self.eps)
        return kernels.ops.group_norm_silu(x, self.num_groups, self.weight, self.bias, self.eps)


class SiLULinear(nn.Linear):
    """``Linear(SiLU(x))``: the time-embedding activation that ResnetBlock2D applies before its
    projection, moved inside the projection so that the block's ``nonlinearity`` can be dropped."""

    @classmethod
    def replacing(cls, linear: nn.Linear) -> SiLULinear:
        fused = cls(linear.in_features, linear.out_features, bias=linear.bias is not None)
        fused.weight, fused.bias = linear.weight, linear.bias
        return fused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.silu(x))


def fuse_group_norm_silu(unet: nn.Module) -> int:
    """Route every GroupNorm+SiLU pair of a diffusers ``UNet2DModel`` through the fused op, in
    place; returns the number of pairs fused. Blocks of another shape are left alone."""
    from diffusers.models.resnet import ResnetBlock2D

    fused = 0
    for block in unet.modules():
        if not (
            isinstance(block, ResnetBlock2D)
            and type(block.nonlinearity) is nn.SiLU
            and block.time_embedding_norm == "default"
            and type(block.norm1) is nn.GroupNorm
            and type(block.norm2) is nn.GroupNorm
        ):
            continue
        block.norm1 = GroupNormSiLU.replacing(block.norm1)
        block.norm2 = GroupNormSiLU.replacing(block.norm2)
        if block.time_emb_proj is not None and not block.skip_time_act:
            block.time_emb_proj = SiLULinear.replacing(block.time_emb_proj)
            block.skip_time_act = True
        block.nonlinearity = nn.Identity()
        fused += 2
    # the output head: conv_out(conv_act(conv_norm_out(h)))
    if (
        type(getattr(unet, "conv_norm_out", None)) is nn.GroupNorm
        and type(getattr(unet, "conv_act", None)) is nn.SiLU
    ):
        unet.conv_norm_out = GroupNormSiLU.replacing(unet.conv_norm_out)
        unet.conv_act = nn.Identity()
        fused += 1
    return fused
