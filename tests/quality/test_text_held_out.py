"""Sliding-window scoring and the held-out bits per byte over modules, on models whose answer is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genzoo.models import llm
from genzoo.quality.inputs import QualityInputError
from genzoo.quality.text import held_out_bits_per_byte, module_interval, sequence_nats


def uniform(vocab_size: int):
    return lambda tokens: torch.zeros(*tokens.shape, vocab_size)


def sure_after(context_needed: int, vocab_size: int = 16, margin: float = 60.0):
    """Knows that token b is followed by b + 1, but only once it has ``context_needed`` tokens
    before the one it predicts from; before that, uniform. Its nats count the short-context targets."""

    def logits_fn(tokens: torch.Tensor) -> torch.Tensor:
        logits = margin * torch.nn.functional.one_hot((tokens + 1) % vocab_size, vocab_size).float()
        logits[:, :context_needed] = 0.0
        return logits

    return logits_fn


@pytest.mark.parametrize("context_length, stride, batch_size", [(8, 8, 3), (8, 3, 2), (8, 1, 64), (50, 7, 4)])
def test_every_token_after_the_first_is_scored_once_whatever_the_stride(context_length, stride, batch_size):
    g = torch.Generator().manual_seed(stride)
    log_probs = torch.log_softmax(2 * torch.randn(16, generator=g, dtype=torch.float64), 0)
    tokens = torch.multinomial(log_probs.exp(), 41, replacement=True, generator=g)
    expected = -log_probs[tokens[1:]].double().sum().item()  # a unigram model: any windows give this
    model = lambda t: log_probs.expand(*t.shape, -1)  # noqa: E731
    got = sequence_nats(model, tokens, context_length=context_length, stride=stride, batch_size=batch_size)
    assert got == pytest.approx(expected, rel=1e-9)


def test_sliding_windows_give_every_later_token_its_context():
    tokens = torch.arange(200) % 16
    context, needed = 16, 4
    model = sure_after(needed)
    # plain windows: each of the 12 full windows of the 199 targets starts with 4 blind targets; the
    # 13th is anchored to the text's end and scores only its last 7 positions, all with context
    plain = sequence_nats(model, tokens, context_length=context, stride=context)
    assert plain == pytest.approx((199 // context) * needed * math.log(16), rel=1e-6)
    # stride 8: after the first window each target has >= 8 tokens of context; only 4 are blind
    sliding = sequence_nats(model, tokens, context_length=context, stride=8)
    assert sliding == pytest.approx(needed * math.log(16), rel=1e-6)


def test_a_uniform_model_scores_log2_vocab_per_token_over_all_held_out_bytes():
    data = llm.load_data()
    vocab = data.tokenizer.vocab_size
    result = held_out_bits_per_byte(
        uniform(vocab), data.validation_modules, data.validation_bytes, context_length=256, batch_size=16
    )
    tokens = sum(len(m) - 1 for m in data.validation_modules)
    assert result.tokens == tokens
    assert result.bits_per_byte == pytest.approx(
        math.log2(vocab) * tokens / sum(data.validation_bytes), rel=1e-9
    )
    # modules differ in bytes per token, so resampling them moves a uniform model's figure
    assert result.interval.low < result.bits_per_byte < result.interval.high
    assert result.interval.n == len(data.validation_modules)


def test_module_interval_resamples_whole_modules():
    # modules with the same bits per byte: every resample of whole modules gives that figure
    same = module_interval([2.0 * math.log(2) * 100, 2.0 * math.log(2) * 300], [100, 300])
    assert (same.low, same.estimate, same.high) == pytest.approx((2.0, 2.0, 2.0))
    # pooled, not averaged: the large module weighs three times the small one
    mixed = module_interval([1.0 * math.log(2) * 100, 3.0 * math.log(2) * 300], [100, 300], resamples=400)
    assert mixed.estimate == pytest.approx((100 * 1.0 + 300 * 3.0) / 400)
    assert 1.0 <= mixed.low < mixed.estimate < mixed.high <= 3.0


def test_interval_is_wider_than_pretending_bytes_were_independent():
    """Ten modules of 1,000 bytes each, alike within and different between: resampling modules
    sees the between-module spread that a bootstrap over single bytes would average away."""
    g = np.random.default_rng(0)
    levels = g.uniform(1.0, 3.0, 10)
    interval = module_interval(levels * 1000 * math.log(2), [1000] * 10)
    per_module_error = levels.std(ddof=1) / math.sqrt(10)
    per_byte_error = np.repeat(levels, 1000).std(ddof=1) / math.sqrt(10_000)  # bytes as if independent
    assert interval.width > 2 * 1.5 * per_module_error > 20 * 2 * 1.96 * per_byte_error


def test_bad_module_input_is_refused_by_name():
    with pytest.raises(QualityInputError, match="2 modules for 3 module_bytes"):
        held_out_bits_per_byte(uniform(4), [torch.zeros(5)] * 2, [1, 2, 3], context_length=4)
    with pytest.raises(QualityInputError, match="module_bytes must hold at least 2 positive counts"):
        module_interval([1.0, 2.0], [10, 0])
    with pytest.raises(QualityInputError, match="stride 9 exceeds context_length 8"):
        sequence_nats(uniform(4), torch.zeros(20, dtype=torch.long), context_length=8, stride=9)
