"""When each request of a serving benchmark is sent: seeded Poisson (or gamma) arrivals.

``get_request`` in vLLM's ``benchmarks/benchmark_serving.py`` sends the first request at once and
then sleeps an interval drawn from a gamma distribution with ``shape=burstiness`` and
``scale=1 / (request_rate * burstiness)`` before each next one: mean ``1 / request_rate``, and with
``burstiness=1`` an exponential, so that arrivals are a Poisson process. ``request_rate=inf`` sends
everything at once. The newer ``vllm/benchmarks/serve.py`` also takes ``burstiness=inf`` as a
constant interval of ``1 / request_rate``, and rescales the cumulative delays so that the last one
is exactly ``n / request_rate`` (the 1-2% spread of a seeded sum otherwise moves the throughput);
``rescale=True`` does that, the first request then waiting its own drawn interval as there.

Deviation: vLLM draws from numpy's legacy global generator (``np.random.seed(args.seed)``); here a
``numpy.random.Generator`` made from ``seed`` does, so offsets are reproducible from the seed and
have vLLM's distribution, but are not the numbers vLLM would draw for the same seed.
"""

from __future__ import annotations

import math

import numpy as np


def _check(n: int, request_rate: float, burstiness: float, seed: int) -> None:
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be a non-negative int, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed must be an int, got {seed!r}")
    for name, value in (("request_rate", request_rate), ("burstiness", burstiness)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value <= 0:
            raise ValueError(f"{name} must be a positive number (inf allowed), got {value!r}")


def arrival_offsets(
    n: int, request_rate: float, *, seed: int, burstiness: float = 1.0, rescale: bool = False
) -> np.ndarray:
    """Send offsets in seconds from the benchmark's start, non-decreasing, float64, shape ``(n,)``.

    ``rescale=False`` (``benchmark_serving.py``): the first request at 0, then ``n - 1`` drawn gaps.
    ``rescale=True`` (``vllm bench serve``): ``n`` drawn delays, cumulated, scaled to end at
    ``n / request_rate``.
    """
    _check(n, request_rate, burstiness, seed)
    if n == 0 or math.isinf(request_rate):
        return np.zeros(n, dtype=np.float64)
    draws = n if rescale else n - 1
    if math.isinf(burstiness):
        gaps = np.full(draws, 1.0 / request_rate)
    else:
        rng = np.random.default_rng(seed)
        gaps = rng.gamma(shape=burstiness, scale=1.0 / (request_rate * burstiness), size=draws)
    if not rescale:
        return np.concatenate(([0.0], np.cumsum(gaps)))
    delays = np.cumsum(gaps)
    if delays[-1] == 0:
        return delays
    return delays * ((n / request_rate) / delays[-1])
