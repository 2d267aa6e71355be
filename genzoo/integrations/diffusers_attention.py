"""genzoo attention for ``diffusers`` models: an attention processor.

    from genzoo.integrations.diffusers_attention import GenzooAttnProcessor, use_genzoo_attention
    use_genzoo_attention(unet)      # or unet.set_attn_processor(GenzooAttnProcessor()) where it exists
    with kernels.use("triton"):
        sample = unet(x, t).sample

``GenzooAttnProcessor`` is diffusers' ``AttnProcessor2_0`` step for step (group norm, q/k/v
projections, optional q/k norms, output projection, residual, rescale) with
``F.scaled_dot_product_attention`` replaced by ``kernels.call("attention", ...)``, so the
backend is whatever ``kernels.use`` selects (eager outside any ``use`` block). The scale is the
module's own ``attn.scale`` (head_dim^-0.5 unless the module says otherwise; AttnProcessor2_0
always uses head_dim^-0.5). ``use_genzoo_attention`` sets the processor on every attention
module of a model, also where the model has no ``set_attn_processor`` of its own (``UNet2DModel``
of diffusers 0.42). Masks must be boolean (True: attend); diffusers' additive float masks are
refused with an error, since the kernels take no additive bias.
"""

from __future__ import annotations

import torch

from genzoo.kernels import registry  # importing genzoo.kernels registers the "attention" op
from genzoo.kernels.validation import KernelInputError


class GenzooAttnProcessor:
    """Processor for ``diffusers.models.attention_processor.Attention`` using the genzoo registry."""

    def __call__(
        self,
        attn,
        hidden_states: torch.Tensor,
        encoder_hidden_states: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        temb: torch.Tensor | None = None,
        *args,
        **kwargs,
    ) -> torch.Tensor:
        residual = hidden_states
        if attn.spatial_norm is not None:
            hidden_states = attn.spatial_norm(hidden_states, temb)
        # 1. image features [B, C, H, W] -> tokens [B, H*W, C]
        input_ndim = hidden_states.ndim
        if input_ndim == 4:
            batch_size, channel, height, width = hidden_states.shape
            hidden_states = hidden_states.view(batch_size, channel, height * width).transpose(1, 2)
        batch_size, sequence_length, _ = (
            hidden_states.shape if encoder_hidden_states is None else encoder_hidden_states.shape
        )
        if attention_mask is not None:
            if attention_mask.dtype != torch.bool:
                raise KernelInputError(
                    f"attention_mask has dtype {attention_mask.dtype}; GenzooAttnProcessor takes a "
                    f"boolean mask (True: attend), not an additive float mask"
                )
            attention_mask = attn.prepare_attention_mask(attention_mask, sequence_length, batch_size)
            attention_mask = attention_mask.view(batch_size, attn.heads, -1, attention_mask.shape[-1])
        if attn.group_norm is not None:
            hidden_states = attn.group_norm(hidden_states.transpose(1, 2)).transpose(1, 2)
        # 2. projections, split into heads: [B, N, heads * D] -> [B, heads, N, D]
        query = attn.to_q(hidden_states)
        if encoder_hidden_states is None:
            encoder_hidden_states = hidden_states
        elif attn.norm_cross:
            encoder_hidden_states = attn.norm_encoder_hidden_states(encoder_hidden_states)
        key = attn.to_k(encoder_hidden_states)
        value = attn.to_v(encoder_hidden_states)
        head_dim = key.shape[-1] // attn.heads
        query = query.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        key = key.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        value = value.view(batch_size, -1, attn.heads, head_dim).transpose(1, 2)
        if attn.norm_q is not None:
            query = attn.norm_q(query)
        if attn.norm_k is not None:
            key = attn.norm_k(key)
        # 3. attention, through the registry: [B, heads, N, D]
        hidden_states = registry.call(
            "attention", query, key, value, causal=False, scale=attn.scale, attn_mask=attention_mask
        )
        hidden_states = (
            hidden_states.transpose(1, 2).reshape(batch_size, -1, attn.heads * head_dim).to(query.dtype)
        )
        # 4. output projection and dropout, back to [B, C, H, W], residual, rescale
        hidden_states = attn.to_out[0](hidden_states)
        hidden_states = attn.to_out[1](hidden_states)
        if input_ndim == 4:
            hidden_states = hidden_states.transpose(-1, -2).reshape(batch_size, channel, height, width)
        if attn.residual_connection:
            hidden_states = hidden_states + residual
        return hidden_states / attn.rescale_output_factor


def use_genzoo_attention(model: torch.nn.Module, processor: GenzooAttnProcessor | None = None) -> int:
    """Give every diffusers ``Attention`` module of ``model`` the genzoo processor (through
    ``set_attn_processor`` where the model has it); return how many modules now use it."""
    processor = GenzooAttnProcessor() if processor is None else processor
    if hasattr(model, "set_attn_processor"):
        model.set_attn_processor(processor)
    else:
        for module in model.modules():
            if hasattr(module, "set_processor") and hasattr(module, "get_processor"):
                module.set_processor(processor)
    return sum(getattr(m, "processor", None) is processor for m in model.modules())
