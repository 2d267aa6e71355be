"""One way to time things: warm up, synchronize, repeat, keep the median and the spread.

On CUDA each repetition is bracketed by CUDA events (device time, no host overhead between
launches); on the CPU by ``time.perf_counter``. ``synchronized_perf_counter`` is the timer handed
to pytest-benchmark (``--benchmark-timer``) so its wall-clock rounds wait for the GPU.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import time
from collections.abc import Callable, Iterator, Sequence

import torch


class DeviceUnavailableError(RuntimeError):
    """The device asked for is not on this machine."""


def default_device(device: str | None = None) -> str:
    """``device`` as given, else CUDA when present, else the CPU: every command's default. A CUDA
    device on a machine without one raises ``DeviceUnavailableError`` before anything runs."""
    if device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise DeviceUnavailableError(f"device {device!r}: this machine has no CUDA device (torch sees none)")
    return device


def cpu_benchmark_threads() -> int:
    """Intra-op threads for timing on the CPU: one core is left to everything else. On a 2-core
    VM, two OpenMP threads stall for a whole scheduler slice (~8 ms) per parallel region whenever
    anything else runs: a 64K-element elementwise op took 72 ms with 2 threads, 0.09 ms with 1."""
    return max(1, (os.cpu_count() or 2) - 1)


@contextlib.contextmanager
def benchmark_threads(device: torch.device | str) -> Iterator[None]:
    """Inside, torch's intra-op threads are ``cpu_benchmark_threads()`` when timing on the CPU;
    afterwards they are as before. Training, which nothing times against a baseline, keeps every
    core."""
    with _threads(device, cpu_benchmark_threads()):
        yield


@contextlib.contextmanager
def untimed_threads(device: torch.device | str) -> Iterator[None]:
    """Inside ``benchmark_threads``: work that nothing times (scoring a quality set, a claim's
    evidence) on every core, then back to the benchmark threads."""
    with _threads(device, os.cpu_count() or torch.get_num_threads()):
        yield


@contextlib.contextmanager
def _threads(device: torch.device | str, count: int) -> Iterator[None]:
    if torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def synchronize(device: torch.device | str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def synchronized_perf_counter() -> float:
    """``time.perf_counter`` after waiting for every queued CUDA kernel (a no-op without CUDA)."""
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()
    return time.perf_counter()


@dataclasses.dataclass(frozen=True)
class Timing:
    """Seconds per call over ``rounds`` repetitions."""

    median_s: float
    p20_s: float
    p80_s: float
    min_s: float
    max_s: float
    rounds: int

    @classmethod
    def from_samples(cls, samples: list[float]) -> Timing:
        if not samples:
            raise ValueError("no timing samples")
        ordered = sorted(samples)
        return cls(
            median_s=statistics.median(ordered),
            p20_s=_quantile(ordered, 0.2),
            p80_s=_quantile(ordered, 0.8),
            min_s=ordered[0],
            max_s=ordered[-1],
            rounds=len(ordered),
        )


def _quantile(ordered: list[float], q: float) -> float:
    """Linear-interpolated quantile of already sorted samples."""
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclasses.dataclass(frozen=True)
class TimingPlan:
    """How long to measure: at least ``min_rounds`` repetitions and about ``budget_s`` seconds,
    after ``warmup`` calls (the first of which may compile)."""

    warmup: int = 3
    min_rounds: int = 10
    max_rounds: int = 1000
    budget_s: float = 0.5


def measure(fn: Callable[[], object], device: torch.device | str, plan: TimingPlan = TimingPlan()) -> Timing:
    """Time ``fn()`` on ``device``; the result is per call."""
    for _ in range(plan.warmup):
        fn()
    synchronize(device)
    rounds = _rounds_for_budget(fn, device, plan)
    if torch.device(device).type == "cuda":
        return Timing.from_samples(_cuda_event_samples(fn, rounds))
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return Timing.from_samples(samples)


def measure_within(
    fn: Callable[[], object],
    device: torch.device | str,
    budget_s: float,
    max_rounds: int,
    measured: Sequence[float] = (),
) -> Timing:
    """Time ``fn()`` (already warm) until ``budget_s`` is spent or ``max_rounds`` calls were made,
    one call at least: for calls of seconds (a whole sampling loop), where ``measure``'s untimed
    estimating call would double the cost. ``measured``: seconds of the same call timed already,
    which count towards the budget and the rounds."""
    seconds = list(measured)
    while not seconds or (sum(seconds) < budget_s and len(seconds) < max_rounds):
        seconds.append(timed_call(fn, device)[0])
    return Timing.from_samples(seconds)


def timed_call(fn: Callable[[], object], device: torch.device | str) -> tuple[float, object]:
    """Seconds of one call of ``fn`` with the device synchronized on both sides, and its result."""
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


def _rounds_for_budget(fn: Callable[[], object], device: torch.device | str, plan: TimingPlan) -> int:
    start = time.perf_counter()
    fn()
    synchronize(device)
    once = max(time.perf_counter() - start, 1e-7)
    return int(min(plan.max_rounds, max(plan.min_rounds, plan.budget_s / once)))


def _cuda_event_samples(fn: Callable[[], object], rounds: int) -> list[float]:
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(rounds)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(rounds)]
    for start, end in zip(starts, ends):
        start.record()
        fn()
        end.record()
    torch.cuda.synchronize()
    return [start.elapsed_time(end) / 1e3 for start, end in zip(starts, ends)]
