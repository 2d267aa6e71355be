"""GPT-2 over byte-pair tokens: the KV cache changes speed, not the tokens; generation starts a
module; the held-out figure covers every byte; the preview is decoded text."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.models import checkpoint, code_tokenizer, llm


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_kv_cache_on_and_off_generate_the_same_tokens(tiny, temperature):
    family, model, _ = tiny("llm")
    knobs = {"new_tokens": 12, "temperature": temperature, "prompt": b"import "}
    with_cache = family.sample(model, 3, seed=2, use_cache=True, **knobs)
    without = family.sample(model, 3, seed=2, use_cache=False, **knobs)
    assert with_cache.shape == (3, 12) and with_cache.dtype == torch.int64
    assert torch.equal(with_cache, without)


def test_greedy_generation_continues_with_the_most_likely_token(tiny):
    _, model, _ = tiny("llm")
    prompt = b"def f(x):"
    generated = llm.sample(model, 1, seed=0, new_tokens=4, temperature=0.0, prompt=prompt)
    sequence = torch.tensor([llm.prompt_tokens(model, prompt)])
    assert sequence[0, 0].item() == model.tokenizer.end_of_text_id  # a prompt starts a module
    for token in generated[0]:
        with torch.no_grad():
            assert model(sequence)[0, -1].argmax().item() == token.item()
        sequence = torch.cat([sequence, token.view(1, 1)], dim=1)


def test_generation_must_fit_the_context(tiny):
    _, model, _ = tiny("llm")
    room = model.config.context - len(llm.prompt_tokens(model, b"def "))
    assert llm.sample(model, 1, seed=0, new_tokens=room, prompt=b"def ").shape == (1, room)  # exactly fits
    with pytest.raises(ValueError, match="must fit the context"):
        llm.sample(model, 1, seed=0, new_tokens=room + 1, prompt=b"def ")


def test_held_out_figure_is_in_bits_per_byte_with_its_interval(tiny):
    family, model, data = tiny("llm")
    metrics = family.evaluate(model, data)
    bytes_per_token = sum(data.validation_bytes) / sum(len(m) - 1 for m in data.validation_modules)
    assert metrics["val_bytes_per_token"] == pytest.approx(bytes_per_token)
    assert metrics["val_bits_per_byte"] == pytest.approx(metrics["val_loss"] / math.log(2) / bytes_per_token)
    assert metrics["val_bits_per_byte_low"] < metrics["val_bits_per_byte"] < metrics["val_bits_per_byte_high"]
    # a barely trained model is near uniform guessing over its vocabulary, never far above it
    uniform = math.log2(model.tokenizer.vocab_size) / bytes_per_token
    assert 0.5 * uniform < metrics["val_bits_per_byte"] < 1.5 * uniform
    assert family.evaluate(model, data) == metrics  # deterministic


def test_model_is_gpt2_over_the_tokenizer_with_the_registry_attention(tiny):
    _, model, data = tiny("llm")
    config = model.gpt2.config
    assert config.vocab_size == data.tokenizer.vocab_size == llm.TOKENIZER.vocab_size
    assert config.n_positions == model.config.context
    assert config._attn_implementation == "genzoo"


def test_checkpoint_of_another_tokenizer_is_not_loaded(tiny, tmp_path, monkeypatch):
    family, model, data = tiny("llm")
    path = checkpoint.save(
        tmp_path / "llm.pt", "llm", "tiny", model, data.sha256, {}, family.train(model, data, 0)
    )
    stored = torch.load(path, weights_only=True)
    assert checkpoint.mismatch(stored, "llm", model.config, data.sha256) is None
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path))
    other = code_tokenizer.load_tokenized_corpus(code_tokenizer.TokenizerConfig(vocab_size=400))
    assert "data hash" in checkpoint.mismatch(stored, "llm", model.config, other.sha256)


def test_training_refuses_data_of_another_tokenizer(tiny, tmp_path, monkeypatch):
    family, model, _ = tiny("llm")
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path))
    other = code_tokenizer.load_tokenized_corpus(code_tokenizer.TokenizerConfig(vocab_size=400))
    with pytest.raises(ValueError, match="another tokenizer"):
        family.make_training_step(model, other, torch.Generator())


def test_preview_is_decoded_text(tiny, tmp_path):
    _, model, _ = tiny("llm")
    (path,) = llm.write_preview(model, tmp_path)
    text = path.read_text()
    samples = text.split("# ---- sample ")[1:]
    assert len(samples) == 2 * len(llm.PREVIEW_PROMPTS)
    assert samples[0].startswith(
        f"0 (prompt {llm.PREVIEW_PROMPTS[0]!r}) ----\n{llm.PREVIEW_PROMPTS[0].decode()}"
    )


def test_tiny_preset_trains_in_seconds():
    family = llm.FAMILY
    data = family.load_data()
    model = family.build(family.config("tiny"))
    log = family.train(model, data, progress=False)
    assert log.steps == family.config("tiny").steps and log.seconds < 10.0  # 4 steps took 0.04 s here


def test_compressor_rows_anchor_bits_per_byte_with_an_interval_over_modules():
    import os

    from genzoo.models.llm import compressor_rows

    modules = tuple(os.urandom(int(n)) for n in torch.randint(3_000, 9_000, (4,)))
    rows = {(row.subject, row.case): row for row in compressor_rows(modules)}
    assert set(rows) == {(f"anchor_{c}", case) for c in ("gzip", "xz") for case in ("joined", "per module")}
    for (_, case), row in rows.items():
        assert row.metric == "bits_per_byte" and 7.9 < row.value < 8.2  # random bytes do not compress
        if case == "per module":
            assert row.ci_low <= row.value <= row.ci_high and row.samples == 4
        else:
            assert row.ci_low is None
