"""Seeded arrivals as vLLM's serving benchmark draws them: reproducible, and of the right rate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genzoo.serving import arrival_offsets


def test_same_seed_same_offsets_other_seed_other_offsets():
    first = arrival_offsets(100, 5.0, seed=7)
    assert np.array_equal(first, arrival_offsets(100, 5.0, seed=7))
    assert not np.array_equal(first, arrival_offsets(100, 5.0, seed=8))


def test_shape_order_and_first_request_at_once():
    offsets = arrival_offsets(50, 2.0, seed=0)
    assert offsets.shape == (50,) and offsets.dtype == np.float64
    assert offsets[0] == 0.0 and np.all(np.diff(offsets) >= 0)


@pytest.mark.parametrize("burstiness", [1.0, 0.5, 4.0])
def test_mean_gap_is_one_over_rate(burstiness):
    rate = 4.0
    gaps = np.diff(arrival_offsets(20001, rate, seed=1234, burstiness=burstiness))
    assert gaps.size == 20000
    assert gaps.mean() == pytest.approx(1 / rate, rel=0.03)
    # gamma with shape k has coefficient of variation 1/sqrt(k): 1 for Poisson arrivals
    assert gaps.std() / gaps.mean() == pytest.approx(1 / math.sqrt(burstiness), rel=0.05)


def test_infinite_rate_sends_everything_at_once():
    assert np.array_equal(arrival_offsets(10, math.inf, seed=0), np.zeros(10))
    assert np.array_equal(arrival_offsets(10, math.inf, seed=0, rescale=True), np.zeros(10))


def test_infinite_burstiness_is_a_constant_interval():
    assert np.allclose(arrival_offsets(5, 4.0, seed=0, burstiness=math.inf), [0, 0.25, 0.5, 0.75, 1.0])


def test_rescale_ends_at_n_over_rate_like_vllm_bench_serve():
    offsets = arrival_offsets(1000, 8.0, seed=3, rescale=True)
    assert offsets[-1] == pytest.approx(1000 / 8.0)
    assert offsets[0] > 0 and np.all(np.diff(offsets) >= 0)
    assert np.array_equal(offsets, arrival_offsets(1000, 8.0, seed=3, rescale=True))


def test_edge_and_bad_arguments():
    assert arrival_offsets(0, 1.0, seed=0).shape == (0,)
    assert np.array_equal(arrival_offsets(1, 1.0, seed=0), [0.0])
    for kwargs in (dict(n=-1), dict(request_rate=0.0), dict(request_rate=math.nan), dict(burstiness=-1.0)):
        arguments = dict(n=3, request_rate=1.0, burstiness=1.0) | kwargs
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            arrival_offsets(
                arguments["n"], arguments["request_rate"], seed=0, burstiness=arguments["burstiness"]
            )
    with pytest.raises(ValueError, match="seed"):
        arrival_offsets(3, 1.0, seed=1.5)
