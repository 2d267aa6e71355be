from __future__ import annotations

import random
import time

import pytest
import torch

from genzoo.harness.ceilings import copy_bandwidth, matmul_throughput
from genzoo.harness.timing import Timing, TimingPlan, benchmark_threads, measure, untimed_threads


def test_quantiles_of_known_samples():
    samples = [float(v) for v in random.Random(7).sample(range(1, 102), 101)]  # 1..101, shuffled
    timing = Timing.from_samples(samples)
    assert (timing.min_s, timing.median_s, timing.max_s) == (1.0, 51.0, 101.0)
    assert timing.p20_s == pytest.approx(21.0) and timing.p80_s == pytest.approx(81.0)
    assert timing.rounds == 101


def test_measure_times_a_known_sleep():
    timing = measure(lambda: time.sleep(2e-3), "cpu", TimingPlan(warmup=1, min_rounds=5, budget_s=0.05))
    assert 2e-3 <= timing.median_s < 20e-3
    assert timing.p20_s <= timing.median_s <= timing.p80_s
    assert timing.rounds >= 5


def test_empty_samples_are_refused():
    with pytest.raises(ValueError, match="no timing samples"):
        Timing.from_samples([])


def test_ceilings_are_measured_and_plausible():
    plan = TimingPlan(warmup=1, min_rounds=3, budget_s=0.05)
    assert 0.1 < copy_bandwidth("cpu", 8 * 2**20, plan) < 10_000  # GB/s
    assert 1e-4 < matmul_throughput("cpu", 128, __import__("torch").float32, plan) < 1_000  # TFLOP/s


def test_the_default_device_is_cuda_when_present_else_the_cpu_and_a_missing_cuda_is_refused(monkeypatch):
    from genzoo.harness.timing import DeviceUnavailableError, default_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert default_device() == "cuda" and default_device("cuda:1") == "cuda:1"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert default_device(None) == "cpu" and default_device("cpu") == "cpu"
    with pytest.raises(DeviceUnavailableError, match="'cuda'.*no CUDA device"):
        default_device("cuda")


def test_measure_within_stops_at_the_budget_or_the_round_cap():
    from genzoo.harness.timing import measure_within

    calls = []
    timing = measure_within(lambda: calls.append(time.sleep(0.01)), "cpu", budget_s=0.035, max_rounds=100)
    # each call sleeps >= 10 ms, so the 35 ms budget is spent after 4 calls at most
    assert timing.rounds == len(calls) and 1 <= len(calls) <= 4 and timing.median_s >= 0.01
    assert measure_within(lambda: time.sleep(0.002), "cpu", budget_s=10.0, max_rounds=3).rounds == 3
    assert measure_within(lambda: time.sleep(0.02), "cpu", budget_s=0.0, max_rounds=3).rounds == 1


def test_measure_within_counts_the_seconds_measured_already():
    from genzoo.harness.timing import measure_within

    calls = []
    timing = measure_within(
        lambda: calls.append(time.sleep(0.001)), "cpu", budget_s=10.0, max_rounds=4, measured=[0.5, 0.7]
    )
    assert len(calls) == 2 and timing.rounds == 4 and timing.max_s == 0.7
    # a budget already spent adds no call: a sampling loop of minutes is not repeated
    assert (
        measure_within(lambda: calls.append(None), "cpu", budget_s=1.0, max_rounds=10, measured=[1.5]).rounds
        == 1
    )
    assert len(calls) == 2


def test_untimed_work_inside_the_benchmark_threads_gets_every_core_back(monkeypatch):
    monkeypatch.setattr("genzoo.harness.timing.cpu_benchmark_threads", lambda: 1)
    monkeypatch.setattr("genzoo.harness.timing.os.cpu_count", lambda: 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with benchmark_threads("cpu"):
            assert torch.get_num_threads() == 1
            with untimed_threads("cpu"):
                assert torch.get_num_threads() == 2
            assert torch.get_num_threads() == 1  # the next timed call is on the benchmark threads
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
