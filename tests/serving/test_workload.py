"""Workloads: checked on construction, drawn reproducibly from a token stream, sent on a seeded schedule."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genzoo.serving import Workload, send_offsets

STREAM = list(range(200))


def test_same_seed_same_workload_other_seed_other_prompts():
    first = Workload.from_token_stream(STREAM, 8, 10, 5, seed=3, range_ratio=0.5)
    assert first == Workload.from_token_stream(STREAM, 8, 10, 5, seed=3, range_ratio=0.5)
    assert first.prompts != Workload.from_token_stream(STREAM, 8, 10, 5, seed=4, range_ratio=0.5).prompts


def test_lengths_as_vllm_random_dataset_draws_them():
    exact = Workload.from_token_stream(STREAM, 6, 10, 5, seed=0)
    assert [len(p) for p in exact.prompts] == [10] * 6 and exact.output_lengths == (5,) * 6
    spread = Workload.from_token_stream(STREAM, 400, 10, 8, seed=0, range_ratio=0.5)
    assert {len(p) for p in spread.prompts} == set(range(5, 16))
    assert set(spread.output_lengths) == set(range(4, 13))
    # prompts are windows of the stream: consecutive ids here
    assert all(np.array_equal(np.diff(p), np.ones(len(p) - 1)) for p in spread.prompts)


def test_poisson_send_times_reproducible_from_the_seed():
    workload = Workload.from_token_stream(STREAM, 50, 4, 2, seed=0)
    first = send_offsets(workload, 4.0, seed=9)
    assert np.array_equal(first, send_offsets(workload, 4.0, seed=9))
    assert not np.array_equal(first, send_offsets(workload, 4.0, seed=10))
    assert first.shape == (50,) and first[0] == 0.0 and np.all(np.diff(first) >= 0)
    assert np.array_equal(send_offsets(workload, math.inf, seed=9), np.zeros(50))


@pytest.mark.parametrize(
    "prompts, lengths, message",
    [
        ([], [], "empty"),
        ([[1, 2]], [3, 4], "1 prompts but 2 output_lengths"),
        ([[1], []], [1, 1], r"prompts\[1\] is empty"),
        ([[1, -2]], [1], r"prompts\[0\] holds a negative token id"),
        ([[1]], [0], r"output_lengths\[0\] must be an int >= 1"),
    ],
)
def test_bad_workload_raises_naming_it(prompts, lengths, message):
    with pytest.raises(ValueError, match=message):
        Workload(prompts=prompts, output_lengths=lengths)


@pytest.mark.parametrize("rate", [0.0, -1.0, math.nan])
def test_rate_must_be_positive(rate):
    workload = Workload(prompts=[[1]], output_lengths=[1])
    with pytest.raises(ValueError, match="request_rate"):
        send_offsets(workload, rate, seed=0)


def test_token_stream_shorter_than_a_prompt_raises():
    with pytest.raises(ValueError, match="at least 10 ids"):
        Workload.from_token_stream([1, 2, 3], 2, 10, 5, seed=0)
