"""The summary vLLM prints for each serving latency: mean, median, standard deviation, percentiles.

``calculate_metrics`` in ``vllm/benchmarks/serve.py`` (formerly ``benchmarks/benchmark_serving.py``)
computes ``np.mean``, ``np.median``, ``np.std`` (population, ``ddof=0``) and ``np.percentile``
(linear interpolation) of each list; we call the same numpy functions, in seconds rather than
milliseconds. vLLM writes 0 for a list that is empty (``np.mean(ttfts or 0)``); we return ``None``
instead, so that no row claims a latency that was never measured.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

DEFAULT_PERCENTILES = (50.0, 90.0, 99.0)


@dataclasses.dataclass(frozen=True)
class LatencyStats:
    """Summary of one latency list, in seconds.

    ``p20``/``p80`` are always computed: they are the spread that ``genzoo.measurement.Measurement``
    rows carry around a median.
    """

    count: int
    mean: float
    median: float
    std: float
    p20: float
    p80: float
    percentiles: tuple[tuple[float, float], ...]  # (percentile in [0, 100], value)


def check_percentiles(percentiles: Sequence[float]) -> tuple[float, ...]:
    checked = tuple(float(p) for p in percentiles)
    for p in checked:
        if not math.isfinite(p) or not 0.0 <= p <= 100.0:
            raise ValueError(f"percentiles must lie in [0, 100], got {p!r}")
    return checked


def summarize(
    values: Sequence[float], percentiles: Sequence[float] = DEFAULT_PERCENTILES
) -> LatencyStats | None:
    """The stats of ``values``; ``None`` where there are none."""
    if len(values) == 0:
        return None
    array = np.asarray(values, dtype=np.float64)
    chosen = check_percentiles(percentiles)
    return LatencyStats(
        count=int(array.size),
        mean=float(np.mean(array)),
        median=float(np.median(array)),
        std=float(np.std(array)),
        p20=float(np.percentile(array, 20)),
        p80=float(np.percentile(array, 80)),
        percentiles=tuple((p, float(np.percentile(array, p))) for p in chosen),
    )


def percentile_label(p: float) -> str:
    """``50`` for 50.0 and ``99.9`` for 99.9, as vLLM names its ``p{p_word}_ttft_ms`` keys."""
    return str(int(p)) if int(p) == p else str(p)
