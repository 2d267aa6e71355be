"""Quality of a causal LM of text: bits per byte on held-out text, with an interval over held-out
modules, and whether two backends pick the same greedy tokens.

A *logits function* maps tokens [B, T] int64 to next-token logits [B, T, V]: position t scores
token t + 1 given tokens 0..t (causal). A token is a byte (V = 256) or a byte-pair token.

Bits per byte (the cross-entropy of the text under the model, in bits, per byte of text):

    bpb = -(1 / (bytes * ln 2)) sum_{t=1}^{N-1} ln p(x_t | x_<t)

over the N tokens of the text (token 0 is given: the first byte, or a start-of-text token), where
``bytes`` is the length of what tokens 1..N-1 spell (N - 1 for a byte model). ``sequence_nats``
scores every token after the first exactly once, in windows of ``context_length`` tokens that
advance by ``stride``: each window scores only the targets the previous one did not (the last
``stride``), the first window all of its own, so that a token is predicted from
``context_length - stride + 1`` to ``context_length`` tokens (only the first window, and texts
shorter than a window, see less). ``stride == context_length``: plain windows, cheapest, with 1 to
C tokens of context.

``held_out_bits_per_byte`` scores each held-out module on its own (each from its start) and gives
the pooled figure, total nats / (ln 2 x total bytes), with a percentile interval from a cluster
bootstrap over modules (Davison & Hinkley 1997, Sec. 3.8): a replicate draws modules with
replacement and recomputes the ratio of sums, because bytes within a module are far from
independent (one module's style and vocabulary moves all of its bytes together). With few modules
(the code corpus holds out 12) the percentile interval is coarse and a little narrow, by about
sqrt((M - 1) / M): the bootstrap variance of a mean of M is (M - 1) / M of the usual estimate.

Two reference points frame a byte model's number: uniform guessing scores exactly 8 bits per
byte, and a unigram model of the training bytes (``unigram_logits_fn``, add-one smoothed) scores what byte
frequencies alone are worth; a trained LM must come in well under the latter.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from genzoo import stats
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


def _window_ends(length: int, context_length: int, stride: int) -> list[int]:
    """The last target of each window over a text of ``length`` tokens (targets 1..length - 1)."""
    ends = [min(context_length, length - 1)]
    while ends[-1] < length - 1:
        ends.append(min(ends[-1] + stride, length - 1))
    return ends


@torch.no_grad()
def sequence_nats(
    logits_fn: LogitsFn,
    tokens: torch.Tensor,
    *,
    context_length: int,
    stride: int | None = None,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
) -> float:
    """Total nats of predicting ``tokens[1:]`` [N] from what precedes each, in windows of
    ``context_length`` tokens advancing by ``stride`` (default: ``context_length``; see the module)."""
    tokens = _check_tokens("tokens", tokens, ndim=1, min_length=2).to(device)
    context_length = check_positive_int("context_length", context_length)
    stride = context_length if stride is None else check_positive_int("stride", stride)
    if stride > context_length:
        raise QualityInputError(
            f"stride {stride} exceeds context_length {context_length}: tokens would go unscored"
        )
    batch_size = check_positive_int("batch_size", batch_size)
    ends = _window_ends(tokens.shape[0], context_length, stride)
    window = min(context_length, tokens.shape[0] - 1)  # every window is this long: it ends, full, at its end
    scored = torch.tensor([ends[0], *np.diff(ends)], device=device)  # new targets of each window
    nats = 0.0
    for first in range(0, len(ends), batch_size):
        batch_ends = torch.tensor(ends[first : first + batch_size], device=device)
        positions = batch_ends[:, None] - window + torch.arange(window + 1, device=device)  # [B, window + 1]
        windows = tokens[positions]
        logits = _logits(logits_fn, windows[:, :-1]).double()  # [B, window, V]; float64 for the sum
        losses = F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")  # [B, window]
        new = torch.arange(window, device=device) >= window - scored[first : first + batch_size, None]
        nats += losses[new].sum().item()
    return nats


def bits_per_byte(
    logits_fn: LogitsFn,
    tokens: torch.Tensor,
    *,
    context_length: int,
    stride: int | None = None,
    byte_count: int | None = None,
    batch_size: int = 8,
    max_bytes: int | None = None,
    device: torch.device | str = "cpu",
) -> float:
    """bpb of ``tokens`` [N] under ``logits_fn``. ``byte_count``: the bytes that ``tokens[1:]``
    spell (default N - 1: byte tokens). ``max_bytes``: score only the first that many byte tokens."""
    tokens = _check_tokens("tokens", tokens, ndim=1, min_length=2)
    if max_bytes is not None:
        tokens = tokens[: check_positive_int("max_bytes", max_bytes, minimum=2)]
    byte_count = tokens.shape[0] - 1 if byte_count is None else check_positive_int("byte_count", byte_count)
    nats = sequence_nats(
        logits_fn, tokens, context_length=context_length, stride=stride, batch_size=batch_size, device=device
    )
    return nats / byte_count / math.log(2)


@dataclasses.dataclass(frozen=True)
class HeldOutBitsPerByte:
    """Pooled bits per byte of held-out modules, with its cluster-bootstrap interval over modules."""

    interval: stats.Interval  # estimate: total nats / (ln 2 x total bytes)
    module_nats: tuple[float, ...]
    module_bytes: tuple[int, ...]
    tokens: int  # tokens scored, over all modules

    @property
    def bits_per_byte(self) -> float:
        return self.interval.estimate

    @property
    def bytes_per_token(self) -> float:
        return sum(self.module_bytes) / self.tokens


def pooled_bits_per_byte(rows: np.ndarray) -> np.ndarray:
    """Ratio of sums of (nats, bytes) rows, in bits per byte: rows [..., M, 2] -> [...]."""
    return rows[..., 0].sum(-1) / rows[..., 1].sum(-1) / math.log(2)


def module_interval(
    module_nats: Sequence[float], module_bytes: Sequence[int], *, resamples: int = 2000, seed: int = 0
) -> stats.Interval:
    """Pooled bits per byte of modules with their nats and bytes, and its 95% percentile interval
    from resampling modules with replacement (a cluster bootstrap: see the module)."""
    if len(module_nats) != len(module_bytes):
        raise QualityInputError(f"{len(module_nats)} module_nats for {len(module_bytes)} module_bytes")
    if len(module_bytes) < 2 or min(module_bytes) < 1:
        raise QualityInputError(
            f"module_bytes must hold at least 2 positive counts, got {list(module_bytes)}"
        )
    rows = np.column_stack([np.asarray(module_nats, float), np.asarray(module_bytes, float)])
    return stats.bootstrap(pooled_bits_per_byte, rows, resamples=resamples, seed=seed, vectorized=True)


def held_out_bits_per_byte(
    logits_fn: LogitsFn,
    modules: Sequence[torch.Tensor],
    module_bytes: Sequence[int],
    *,
    context_length: int,
    stride: int | None = None,
    batch_size: int = 8,
    device: torch.device | str = "cpu",
    resamples: int = 2000,
    seed: int = 0,
) -> HeldOutBitsPerByte:
    """Every token after the first of each module [N_m] scored (``sequence_nats``), each module on
    its own; ``module_bytes[m]``: the bytes module m's scored tokens spell."""
    if len(modules) != len(module_bytes):
        raise QualityInputError(f"{len(modules)} modules for {len(module_bytes)} module_bytes")
    nats = tuple(
        sequence_nats(
            logits_fn,
            tokens,
            context_length=context_length,
            stride=stride,
            batch_size=batch_size,
            device=device,
        )
        for tokens in modules
    )
    return HeldOutBitsPerByte(
        interval=module_interval(nats, module_bytes, resamples=resamples, seed=seed),
        module_nats=nats,
        module_bytes=tuple(module_bytes),
        tokens=sum(len(tokens) - 1 for tokens in modules),
    )


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
