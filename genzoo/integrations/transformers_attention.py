"""genzoo attention for ``transformers`` models: ``attn_implementation="genzoo"``.

    import genzoo.integrations.transformers_attention          # registers "genzoo"
    model = AutoModelForCausalLM.from_config(config, attn_implementation="genzoo")
    with kernels.use("triton"):
        tokens = model.generate(ids, max_new_tokens=32)          # prefill: FA-2, decode: split-KV

Every attention layer calls ``genzoo_attention_forward`` as it calls
``transformers.integrations.sdpa_attention.sdpa_attention_forward``, and the call goes through
``kernels.call("attention", ...)``: the backend is whatever ``kernels.use`` selects (eager
outside any ``use`` block). Conventions followed, as transformers 5.x hands them over:

- query [B, H, Nq, D]; key, value [B, Hkv, Nk, D] (grouped-query heads are not repeated: the
  kernels read kv head h // (H / Hkv), the order of transformers' ``repeat_kv``);
- the mask comes from transformers' ``sdpa_mask``, registered under our name as well: boolean
  [B, 1, Nq, Nk], True where a query attends, or None when the pattern is plain causal
  (Nq = Nk, or a single query: no mask at all) or, at a static cache's prefill, causal from
  position 0, where sdpa's top-left causal alignment is right and the keys past Nq are dropped;
- returns [B, Nq, H, D] contiguous, and no attention weights.
Refused, with an error naming them: float masks, dropout > 0, softcap, attention sinks
(``s_aux``) and position biases, none of which the kernels implement.
"""

from __future__ import annotations

import torch
from transformers import AttentionInterface
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

from genzoo.kernels import registry  # importing genzoo.kernels registers the "attention" op
from genzoo.kernels.validation import KernelInputError

ATTN_IMPLEMENTATION = "genzoo"


def genzoo_attention_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs,
) -> tuple[torch.Tensor, None]:
    for name in ("softcap", "s_aux", "position_bias"):
        if kwargs.get(name) is not None:
            raise KernelInputError(
                f"{name} is not supported by the genzoo attention; use attn_implementation='eager'"
            )
    if dropout:
        raise KernelInputError(
            f"dropout={dropout}: the genzoo attention has no dropout; set the model's attention dropout to 0"
        )
    q_length, kv_length = query.shape[2], key.shape[2]
    if attention_mask is not None:
        if attention_mask.dtype != torch.bool:
            raise KernelInputError(
                f"attention_mask has dtype {attention_mask.dtype}; the genzoo attention takes the "
                f"boolean masks transformers builds for it (True: attend), not additive float masks"
            )
        attention_mask = attention_mask[:, :, :, :kv_length]
    # as sdpa_attention_forward: causal only without a mask and with more than one query
    is_causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    is_causal = bool(q_length > 1 and attention_mask is None and is_causal)
    if is_causal and kv_length > q_length:  # static cache prefill: causal from position 0
        key, value = key[:, :, :q_length], value[:, :, :q_length]
    out = registry.call(
        "attention", query, key, value, causal=is_causal, scale=scaling, attn_mask=attention_mask
    )
    return out.transpose(1, 2).contiguous(), None


def register(name: str = ATTN_IMPLEMENTATION) -> None:
    """Make ``attn_implementation=name`` select genzoo attention, with sdpa's boolean masks."""
    AttentionInterface.register(name, genzoo_attention_forward)
    AttentionMaskInterface.register(name, sdpa_mask)


register()
