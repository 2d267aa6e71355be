"""Bits per byte and greedy agreement with toy language models whose answer is known."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.models.data import load_code_corpus
from genzoo.quality.inputs import QualityInputError
from genzoo.quality.text import (
    bits_per_byte,
    greedy_agreement,
    greedy_continuation_agreement,
    unigram_logits_fn,
)


def unigram(log_probs: torch.Tensor):
    """A model that ignores context: the same distribution at every position."""
    return lambda tokens: log_probs.expand(*tokens.shape, -1).clone()


def successor(overrides: dict[int, int] | None = None, margin: float = 40.0):
    """A bigram model sure that byte b is followed by b + 1 (mod 256), or by overrides[b]."""
    table = (torch.arange(256) + 1) % 256
    for source, target in (overrides or {}).items():
        table[source] = target
    return lambda tokens: margin * torch.nn.functional.one_hot(table[tokens], 256).float()


def test_uniform_guessing_is_eight_bits_per_byte():
    tokens = torch.randint(0, 256, (333,))
    assert bits_per_byte(unigram(torch.zeros(256)), tokens, context_length=16) == pytest.approx(8.0, abs=1e-9)


@pytest.mark.parametrize("context_length, batch_size", [(7, 1), (7, 3), (10, 4), (500, 2)])
def test_every_byte_after_the_first_is_scored_exactly_once(context_length, batch_size):
    # under a unigram model bpb is -mean log2 p(x_t) over t = 1..N-1 whatever the windows are,
    # so a window that skipped or repeated a byte would change it (the bytes are not uniform)
    g = torch.Generator().manual_seed(context_length)
    log_probs = torch.log_softmax(3 * torch.randn(256, generator=g), 0)
    tokens = torch.multinomial(log_probs.exp(), 103, replacement=True, generator=g)
    expected = -log_probs[tokens[1:]].double().mean().item() / math.log(2)
    got = bits_per_byte(unigram(log_probs), tokens, context_length=context_length, batch_size=batch_size)
    assert got == pytest.approx(expected, rel=1e-6)


def test_a_model_that_knows_the_rule_needs_almost_no_bits():
    start = torch.randint(0, 256, ()).item()
    tokens = (torch.arange(600) + start) % 256
    assert bits_per_byte(successor(), tokens, context_length=32) < 1e-6
    # the same text shifted by one against the model's rule: maximally wrong, ~40/ln 2 bits
    assert bits_per_byte(successor(), tokens.flip(0), context_length=32) > 50


def test_unigram_reference_on_the_held_out_code():
    corpus = load_code_corpus()
    counts = torch.bincount(corpus.train.long(), minlength=256).double()
    log2_p = ((counts + 1) / (counts.sum() + 256)).log2()
    start = int(torch.randint(0, corpus.validation.shape[0] - 20_000, ()).item())
    held_out = corpus.validation[start : start + 20_000]
    expected = -log2_p[held_out[1:].long()].mean().item()
    got = bits_per_byte(unigram_logits_fn(corpus.train), held_out, context_length=256, batch_size=16)
    assert got == pytest.approx(expected, rel=1e-9)
    assert 3.5 < got < 6.5  # source code: letters, spaces and punctuation, far from 8 bits


def test_max_bytes_scores_a_prefix():
    g = torch.Generator().manual_seed(1)
    log_probs = torch.log_softmax(torch.randn(256, generator=g), 0)
    tokens = torch.randint(0, 256, (400,), generator=g)
    model = unigram(log_probs)
    assert bits_per_byte(model, tokens, context_length=9, max_bytes=150) == pytest.approx(
        bits_per_byte(model, tokens[:150], context_length=9), rel=1e-12
    )


def test_uint8_corpus_tokens_are_accepted():
    tokens = torch.randint(0, 256, (50,), dtype=torch.uint8)
    assert bits_per_byte(unigram(torch.zeros(256)), tokens, context_length=8) == pytest.approx(8.0)


@pytest.mark.parametrize(
    "logits_fn, tokens, kwargs, needle",
    [
        (unigram(torch.zeros(256)), torch.rand(10), {}, "tokens must hold integer token ids"),
        (unigram(torch.zeros(256)), torch.tensor([3]), {}, "tokens has 1 tokens"),
        (unigram(torch.zeros(256)), torch.randint(0, 9, (2, 5)), {}, "tokens must have 1 dimension"),
        (
            unigram(torch.zeros(256)),
            torch.randint(0, 9, (20,)),
            {"context_length": 0},
            "context_length must be",
        ),
        (lambda t: torch.zeros(t.shape[0], 256), torch.randint(0, 9, (20,)), {}, "logits_fn must map tokens"),
    ],
)
def test_bad_input_is_refused_by_name(logits_fn, tokens, kwargs, needle):
    with pytest.raises(QualityInputError, match=needle):
        bits_per_byte(logits_fn, tokens, **{"context_length": 4, **kwargs})


def test_greedy_agreement_counts_argmax_matches():
    logits = torch.randn(3, 40, 256)
    assert greedy_agreement(logits, logits.clone()) == 1.0
    changed = logits.clone()
    flat = changed.view(-1, 256)
    flip = torch.randperm(flat.shape[0])[:30]  # make another token the argmax at 30 of 120 positions
    flat[flip, (flat[flip].argmax(-1) + 1) % 256] = flat[flip].max(-1).values + 1
    assert greedy_agreement(logits, changed) == pytest.approx(90 / 120)
    with pytest.raises(QualityInputError, match="logits_a has shape"):
        greedy_agreement(logits, logits[:, :-1])


def test_continuations_diverge_where_the_backends_first_disagree():
    prompt = torch.tensor([[0], [100]])
    # row 0 walks 1, 2, 3, 4, 5 then backend b jumps 5 -> 9; row 100 walks 101.. and never disagrees
    result = greedy_continuation_agreement(successor(), successor({5: 9}), prompt, steps=10, context_length=4)
    assert result.first_divergence == pytest.approx((5 + 10) / 2)
    assert result.token_agreement == pytest.approx((5 + 10) / 20)
    same = greedy_continuation_agreement(successor(), successor(), prompt, steps=6, context_length=2)
    assert (same.first_divergence, same.token_agreement) == (6, 1.0)
