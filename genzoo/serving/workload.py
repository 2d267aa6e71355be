"""The requests of a serving benchmark: prompts, how many tokens each asks for, and when each is sent.

A ``Workload`` is the list of requests; ``send_offsets`` turns a request rate into seeded Poisson send
times (``arrivals.arrival_offsets``, as vLLM's ``get_request``), ``math.inf`` sending all at once.
``Workload.from_token_stream`` draws one from a token sequence (the held-out code) the way vLLM's
``RandomDataset`` draws lengths: uniform in ``[n * (1 - range_ratio), n * (1 + range_ratio)]``, here
with prompts cut from the sequence at random offsets instead of random token ids. Every request
generates exactly its ``output_length`` tokens, as ``vllm bench serve --ignore-eos`` asks, so that the
engines compared emit the same tokens and no latency depends on when an untrained model says EOS.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from genzoo.serving.arrivals import arrival_offsets


def _is_count(value: object, least: int) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= least


@dataclasses.dataclass(frozen=True)
class Workload:
    """``prompts[i]``: the prompt token ids of request ``i``; ``output_lengths[i]``: tokens it generates."""

    prompts: tuple[tuple[int, ...], ...]
    output_lengths: tuple[int, ...]

    def __post_init__(self) -> None:
        # lists from the caller become tuples: a workload is immutable and can be shared across runs
        object.__setattr__(self, "prompts", tuple(tuple(int(t) for t in p) for p in self.prompts))
        object.__setattr__(self, "output_lengths", tuple(self.output_lengths))
        if not self.prompts:
            raise ValueError("Workload.prompts is empty: a serving benchmark needs at least one request")
        if len(self.prompts) != len(self.output_lengths):
            raise ValueError(
                f"Workload has {len(self.prompts)} prompts but {len(self.output_lengths)} output_lengths"
            )
        for i, (prompt, length) in enumerate(zip(self.prompts, self.output_lengths)):
            if not prompt:
                raise ValueError(f"Workload.prompts[{i}] is empty: a request needs at least one prompt token")
            if min(prompt) < 0:
                raise ValueError(f"Workload.prompts[{i}] holds a negative token id {min(prompt)}")
            if not _is_count(length, 1):
                raise ValueError(f"Workload.output_lengths[{i}] must be an int >= 1, got {length!r}")

    def __len__(self) -> int:
        return len(self.prompts)

    @classmethod
    def from_token_stream(
        cls,
        tokens: Sequence[int],
        requests: int,
        prompt_tokens: int,
        output_tokens: int,
        *,
        seed: int,
        range_ratio: float = 0.0,
    ) -> Workload:
        """``requests`` prompts cut from ``tokens`` at seeded random offsets; lengths as vLLM's random
        dataset draws them (``range_ratio=0``: every prompt ``prompt_tokens`` long, every output
        ``output_tokens``)."""
        if not _is_count(requests, 1):
            raise ValueError(f"requests must be an int >= 1, got {requests!r}")
        if not _is_count(prompt_tokens, 1) or not _is_count(output_tokens, 1):
            raise ValueError(
                f"prompt_tokens and output_tokens must be ints >= 1, got {prompt_tokens!r}, {output_tokens!r}"
            )
        if not 0.0 <= range_ratio < 1.0:
            raise ValueError(f"range_ratio must lie in [0, 1), got {range_ratio!r}")
        rng = np.random.default_rng(seed)

        def lengths(mean: int) -> np.ndarray:
            low = max(1, math.floor(mean * (1 - range_ratio)))
            return rng.integers(low, math.ceil(mean * (1 + range_ratio)) + 1, size=requests)

        prompt_lengths, output_lengths = lengths(prompt_tokens), lengths(output_tokens)
        stream = np.asarray(tokens)
        if stream.ndim != 1 or stream.size < prompt_lengths.max():
            raise ValueError(
                f"tokens must be a flat sequence of at least {prompt_lengths.max()} ids, got shape {stream.shape}"
            )
        starts = rng.integers(0, stream.size - prompt_lengths + 1)
        prompts = [tuple(stream[s : s + n].tolist()) for s, n in zip(starts, prompt_lengths)]
        return cls(prompts=tuple(prompts), output_lengths=tuple(int(n) for n in output_lengths))


def send_offsets(
    workload: Workload, request_rate: float, *, seed: int, burstiness: float = 1.0
) -> np.ndarray:
    """When each request is sent, in seconds from the run's start: Poisson at ``request_rate`` req/s
    (``burstiness=1``), or all at 0 for ``request_rate=math.inf``."""
    return arrival_offsets(len(workload), request_rate, seed=seed, burstiness=burstiness)
