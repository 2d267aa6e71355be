"""The cost of one generated sample: FLOPs, weight and KV-cache bytes, peak memory, on the tiny
presets (untrained: costs do not depend on the weights' values)."""

from __future__ import annotations

import pytest
import torch

from genzoo.harness import cost
from genzoo.models import diffusion, gan, llm, protocol

DDIM = dict(sampler="ddim", guidance_scale=2.0)


@pytest.fixture(scope="module")
def models() -> dict[str, torch.nn.Module]:
    return {name: protocol.get(name).build(protocol.get(name).config("tiny")) for name in protocol.names()}


def _cost(models, name: str, **knobs) -> cost.GenerationCost:
    return cost.generation_cost(protocol.get(name), models[name], knobs, "cpu")


def _parameter_bytes(module: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


def test_gan_flops_and_weight_bytes_match_the_generator_layer_by_layer(models):
    config = gan.PRESETS["tiny"]
    z, w = config.latent_dim + gan.NUM_CLASSES, config.width
    # 2 FLOPs a multiply-add; a transposed conv does C_in x C_out x k^2 of them per input pixel
    project = 2 * z * (2 * w * 7 * 7)
    upsample_14 = 2 * (7 * 7) * (2 * w) * w * 4 * 4
    upsample_28 = 2 * (14 * 14) * w * 1 * 4 * 4
    result = _cost(models, "gan", n=4)
    assert result.flops_per_sample == project + upsample_14 + upsample_28
    # one generator call for the whole batch reads its weights once; the discriminator not at all
    assert result.weight_bytes_per_sample == _parameter_bytes(models["gan"].generator) / 4
    assert result.per_sample == "image" and result.kv_cache_bytes_per_token is None


def test_diffusion_costs_follow_unet_calls_and_guidance_doubles_their_batch(models):
    guided_10, guided_20 = (
        _cost(models, "diffusion", n=2, steps=10, **DDIM),
        _cost(models, "diffusion", n=2, steps=20, **DDIM),
    )
    assert guided_20.flops_per_sample == pytest.approx(2 * guided_10.flops_per_sample, rel=0.01)
    assert guided_20.weight_bytes_per_sample == pytest.approx(2 * guided_10.weight_bytes_per_sample, rel=0.01)
    unguided = _cost(models, "diffusion", n=2, steps=10, sampler="ddim", guidance_scale=1.0)
    # w != 1 evaluates the UNet on [x, x] (conditional and null labels): twice the rows, one call
    assert unguided.flops_per_sample == pytest.approx(guided_10.flops_per_sample / 2, rel=0.01)
    # every EMA weight once a call, but of the class embedding only the rows of labels 0, 1
    ema_unet = models["diffusion"].ema_unet
    unused_rows = (diffusion.NUM_CLASSES + 1 - 2) * ema_unet.class_embedding.embedding_dim * 4
    assert unguided.weight_bytes_per_sample == 10 * (_parameter_bytes(ema_unet) - unused_rows) / 2


@pytest.mark.parametrize("dtype, element_bytes", [(torch.float32, 4), (torch.bfloat16, 2)])
def test_llm_kv_cache_bytes_per_token_and_per_completion(models, dtype, element_bytes):
    config = models["llm"].config
    result = _cost(models, "llm", n=2, new_tokens=8, dtype=dtype)
    assert result.kv_cache_bytes_per_token == 2 * config.layers * config.width * element_bytes
    # pass i (0: the prompt's prefill) attends to P + i cached tokens
    prompt, new = len(llm.prompt_tokens(models["llm"], llm.DEFAULT_PROMPT)), 8
    assert result.kv_cache_bytes_per_sample == result.kv_cache_bytes_per_token * sum(
        prompt + i for i in range(new)
    )
    assert result.per_sample == "completion of 8 tokens" and result.dtype == str(dtype).removeprefix("torch.")


def test_llm_flops_grow_with_new_tokens_and_without_the_cache(models):
    short, long = _cost(models, "llm", n=2, new_tokens=4), _cost(models, "llm", n=2, new_tokens=16)
    assert long.flops_per_sample > 3 * short.flops_per_sample
    uncached = _cost(models, "llm", n=2, new_tokens=16, use_cache=False)
    assert uncached.flops_per_sample > long.flops_per_sample and uncached.kv_cache_bytes_per_token is None


def test_live_tensor_bytes_peak_counts_new_storages_not_views():
    with cost._LiveTensorBytes() as live:
        a = torch.zeros(1000)  # 4,000 B
        b = a + 1  # 4,000 B more: the peak, 8,000 B
        a.view(10, 100).add_(1)  # a view and an in-place op allocate nothing
        del a
        c = torch.zeros(500)  # 2,000 B in the 4,000 freed: no new peak
    assert live.peak_bytes == 8000 and b.numel() + c.numel() == 1500


IMAGE_METRICS = {"flops_per_sample", "weight_bytes_per_sample", "peak_memory_bytes_per_sample"}
LLM_METRICS = IMAGE_METRICS | {"kv_cache_bytes_per_token", "kv_cache_bytes_per_sample"}


@pytest.mark.parametrize("name", protocol.names())
def test_every_family_gets_cost_rows(models, name):
    family = protocol.get(name)
    knobs = dict(family.sweep_plan("tiny").reference)
    if name == "diffusion":
        knobs["steps"] = 2  # the reference's 50 steps cost the same per step
    rows = cost.cost_rows(name, models[name], knobs, "cpu", case="reference")
    assert {row.metric for row in rows} == (LLM_METRICS if name == "llm" else IMAGE_METRICS)
    assert all(row.kind == "cost" and row.better == "lower" and row.value > 0 for row in rows)
    per = "per image" if family.unit == "images" else f"per completion of {knobs['new_tokens']} tokens"
    assert all(row.note.startswith(per) for row in rows if row.metric != "kv_cache_bytes_per_token")
    assert dict(rows[0].knobs)["n"] == rows[0].samples


def test_bad_input_is_refused_by_name(models):
    with pytest.raises(KeyError, match="no model family 'transformer'"):
        cost.cost_rows("transformer", models["gan"], {}, "cpu", case="x")
    with pytest.raises(ValueError, match="n must be a positive integer, got 0"):
        _cost(models, "gan", n=0)
    with pytest.raises(ValueError, match="samples=4 and knobs n=2 disagree"):
        cost.generation_cost(protocol.get("gan"), models["gan"], {"n": 2}, "cpu", samples=4)
