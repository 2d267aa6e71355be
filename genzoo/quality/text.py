"""Quality of a byte-level causal LM: bits per byte on held-out text, and whether two backends pick
the same greedy tokens.

A *logits function* maps tokens [B, T] int64 to next-token logits [B, T, V]: position t scores
token t + 1 given tokens 0..t (causal). The code corpus of ``load_code_corpus()`` is bytes, so a
token is a byte and V = 256.

Bits per byte (the cross-entropy of the text under the model, in bits, per byte predicted):

    bpb = -(1 / (N - 1)) sum_{t=1}^{N-1} log2 p(x_t | x_<t)

The text is cut into consecutive windows of ``context_length`` inputs that overlap by one token,
window w reading x[wC : wC + C] and predicting x[wC + 1 : wC + C + 1], so every byte after the
first is predicted exactly once, with 0 to C - 1 bytes of context (less at a window's start than a
sliding window would give; cheaper by a factor of C).

Two reference points frame an LM's number: uniform guessing scores exactly 8 bits per byte, and a
unigram model of the training bytes (``unigram_logits_fn``, add-one smoothed) scores what byte
frequencies alone are worth; a trained LM must come in well under the latter.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from genzoo.quality.inputs import QualityInputError, check_positive_int

LogitsFn = Callable[[torch.Tensor], torch.Tensor]  # tokens [B, T] int64 -> logits [B, T, V]


def _check_tokens(name: str, tokens: object, ndim: int, min_length: int) -> torch.Tensor:
    if not isinstance(tokens, torch.Tensor):
        raise QualityInputError(f"{name} must be a torch.Tensor, got {type(tokens).__name__}")
    if tokens.is_floating_point() or tokens.is_complex() or tokens.dtype == torch.bool:
        raise QualityInputError(f"{name} must hold integer token ids, got dtype {tokens.dtype}")
    if tokens.ndim != ndim:
        raise QualityInputError(f"{name} must have {ndim} dimension(s), got shape {tuple(tokens.shape)}")
    if tokens.shape[-1] < min_length:
        raise QualityInputError(f"{name} has {tokens.shape[-1]} tokens; at least {min_length} are needed")
    return tokens.long()


def _logits(logits_fn: LogitsFn, inputs: torch.Tensor) -> torch.Tensor:
    logits = logits_fn(inputs)
    if not isinstance(logits, torch.Tensor) or logits.shape[:2] != inputs.shape or logits.ndim != 3:
        shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
        raise QualityInputError(
            f"logits_fn must map tokens {tuple(inputs.shape)} to logits [B, T, V], got {shape}"
        )
    return logits


def unigram_logits_fn(train_tokens: torch.Tensor, vocab_size: int = 256) -> LogitsFn:
    """The context-free reference model: log p(b) = log((count(b) + 1) / (N + V)) at every position."""
    tokens = _check_tokens("train_tokens", train_tokens, ndim=1, min_length=1)
    counts = torch.bincount(tokens.cpu(), minlength=vocab_size).double()
    if counts.shape[0] != vocab_size:
        raise QualityInputError(
            f"train_tokens has ids up to {counts.shape[0] - 1}, beyond vocab_size {vocab_size}"
        )
    log_probs = ((counts + 1) / (counts.sum() + vocab_size)).log()

    def logits_fn(inputs: torch.Tensor) -> torch.Tensor:
        return log_probs.to(inputs.device).expand(*inputs.shape, vocab_size)

    return logits_fn


@torch.no_grad()
def bits_per_byte(
    logits_fn: LogitsFn,
    tokens: torch.Tensor,
    *,
    context_length: int,
    batch_size: int = 8,
    max_bytes: int | None = None,
    device: torch.device | str = "cpu",
) -> float:
    """bpb of ``tokens`` [N] (bytes) under ``logits_fn``; only the first ``max_bytes`` if given."""
    tokens = _check_tokens("tokens", tokens, ndim=1, min_length=2)
    context_length = check_positive_int("context_length", context_length)
    batch_size = check_positive_int("batch_size", batch_size)
    if max_bytes is not None:
        tokens = tokens[: check_positive_int("max_bytes", max_bytes, minimum=2)]
    tokens = tokens.to(device)
    starts = list(range(0, tokens.shape[0] - 1, context_length))
    full = [s for s in starts if s + context_length + 1 <= tokens.shape[0]]
    nats, predicted = 0.0, 0
    batches = [full[i : i + batch_size] for i in range(0, len(full), batch_size)]
    batches += [[s] for s in starts[len(full) :]]  # the one short window at the end, if any
    for batch in batches:
        length = min(context_length, tokens.shape[0] - 1 - batch[0])
        windows = torch.stack([tokens[s : s + length + 1] for s in batch])  # [B, length + 1]
        logits = _logits(logits_fn, windows[:, :-1]).double()  # [B, length, V]; float64: V = 256 is small
        nats += F.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten(), reduction="sum").item()
        predicted += windows[:, 1:].numel()
    return nats / predicted / math.log(2)


def greedy_agreement(logits_a: torch.Tensor, logits_b: torch.Tensor) -> float:
    """Share of positions where two backends' logits [..., V] (same inputs) have the same argmax."""
    for name, logits in (("logits_a", logits_a), ("logits_b", logits_b)):
        if not isinstance(logits, torch.Tensor) or logits.ndim < 2 or logits.numel() == 0:
            raise QualityInputError(f"{name} must be a non-empty tensor [..., V]")
    if logits_a.shape != logits_b.shape:
        raise QualityInputError(
            f"logits_a has shape {tuple(logits_a.shape)} but logits_b {tuple(logits_b.shape)}"
        )
    return (logits_a.argmax(-1) == logits_b.argmax(-1).to(logits_a.device)).double().mean().item()


@torch.no_grad()
def greedy_decode(logits_fn: LogitsFn, prompt: torch.Tensor, steps: int, context_length: int) -> torch.Tensor:
    """prompt [B, P] -> [B, P + steps], appending argmax tokens; the model sees the last
    ``context_length`` tokens. No KV cache: one full forward per step, for any logits function."""
    tokens = _check_tokens("prompt", prompt, ndim=2, min_length=1)
    context_length = check_positive_int("context_length", context_length)
    for _ in range(check_positive_int("steps", steps)):
        logits = _logits(logits_fn, tokens[:, -context_length:])
        tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True).to(tokens.device)], dim=1)
    return tokens


@dataclasses.dataclass(frozen=True)
class ContinuationAgreement:
    token_agreement: float  # share of generated positions with the same token, over all rows
    first_divergence: float  # mean over rows of the number of tokens generated before the first mismatch
    steps: int


def greedy_continuation_agreement(
    logits_fn_a: LogitsFn, logits_fn_b: LogitsFn, prompt: torch.Tensor, steps: int, context_length: int
) -> ContinuationAgreement:
    """Greedy-decode ``steps`` tokens from the same ``prompt`` [B, P] with two backends and compare.

    Once the two continuations differ they condition on different text, so ``first_divergence``
    (``steps`` for rows that never differ) is the number to read; ``token_agreement`` counts on.
    """
    prompt_length = _check_tokens("prompt", prompt, ndim=2, min_length=1).shape[1]
    generated_a = greedy_decode(logits_fn_a, prompt, steps, context_length)[:, prompt_length:]
    generated_b = greedy_decode(logits_fn_b, prompt, steps, context_length)[:, prompt_length:]
    same = generated_a == generated_b.to(generated_a.device)  # [B, steps]
    # index of the first False per row; a row of all True gives steps
    first = torch.where(same.all(dim=1), steps, (~same).int().argmax(dim=1))
    return ContinuationAgreement(
        token_agreement=same.double().mean().item(),
        first_divergence=first.double().mean().item(),
        steps=steps,
    )
