"""Byte-level GPT-2 generation: the KV cache changes speed, not the bytes."""

from __future__ import annotations

import pytest
import torch

from genzoo.models import llm


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_kv_cache_on_and_off_generate_the_same_bytes(tiny, temperature):
    family, model, _ = tiny("llm")
    knobs = {"new_tokens": 12, "temperature": temperature, "prompt": b"import "}
    with_cache = family.sample(model, 3, seed=2, use_cache=True, **knobs)
    without = family.sample(model, 3, seed=2, use_cache=False, **knobs)
    assert torch.equal(with_cache, without)


def test_greedy_generation_continues_with_the_most_likely_byte(tiny):
    _, model, _ = tiny("llm")
    prompt = b"def f(x):"
    generated = llm.sample(model, 1, seed=0, new_tokens=4, temperature=0.0, prompt=prompt)
    sequence = torch.tensor([list(prompt)])
    for byte in generated[0]:
        with torch.no_grad():
            assert model(sequence)[0, -1].argmax().item() == byte.item()
        sequence = torch.cat([sequence, byte.view(1, 1)], dim=1)


def test_generation_must_fit_the_context(tiny):
    _, model, _ = tiny("llm")
    context = model.config.context
    llm.sample(model, 1, seed=0, new_tokens=context - 4, prompt=b"def ")  # exactly fits
    with pytest.raises(ValueError, match="must fit the context"):
        llm.sample(model, 1, seed=0, new_tokens=context - 3, prompt=b"def ")
    with pytest.raises(ValueError, match="prompt must not be empty"):
        llm.sample(model, 1, seed=0, new_tokens=2, prompt=b"")


def test_validation_loss_is_in_nats_and_bits_per_byte(tiny):
    family, model, data = tiny("llm")
    metrics = family.evaluate(model, data)
    # a barely trained byte model is near the uniform 8 bits per byte, and never above ~9
    assert 4.0 < metrics["val_bits_per_byte"] < 9.0
    assert metrics["val_bits_per_byte"] == pytest.approx(
        metrics["val_loss"] / torch.log(torch.tensor(2.0)).item()
    )


def test_model_is_gpt2_over_bytes_with_the_registry_attention(tiny):
    _, model, _ = tiny("llm")
    config = model.gpt2.config
    assert config.vocab_size == 256 and config.n_positions == model.config.context
    assert config._attn_implementation == "genzoo"
