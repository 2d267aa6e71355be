"""The benchmark suites' fixtures: thin pytest-benchmark adapters over ``genzoo.harness``.

Options: ``--genzoo-quick`` runs the smaller grid; ``--genzoo-device`` picks the device (default:
CUDA when present). The machine's ceilings are measured once per session, before any op, and
written with the environment fingerprint into the benchmark JSON under the key ``genzoo``.
Every point goes through ``genzoo.harness.pipeline.measure`` with ``pedantic_timer`` as its
timer, and its row lands in the result's ``extra_info``.
"""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from genzoo import fingerprint
from genzoo.harness.ceilings import Ceilings, measure_ceilings
from genzoo.harness.pipeline import Baselines
from genzoo.harness.timing import Timing, cpu_benchmark_threads, default_device, synchronized_perf_counter
from genzoo.results import schema


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("genzoo")
    group.addoption("--genzoo-quick", action="store_true", help="run the smaller benchmark grid")
    group.addoption("--genzoo-goals", action="store_true", help="only the points of the speed goals")
    group.addoption(
        "--genzoo-device", default=None, help="device to benchmark on (default: cuda when available)"
    )
    group.addoption("--genzoo-backends", default=None, help="comma-separated backends (eager always runs)")
    group.addoption(
        "--genzoo-threads",
        type=int,
        default=None,
        help="torch intra-op threads on the CPU (default: one core fewer than the machine has)",
    )


def pytest_configure(config: pytest.Config) -> None:
    if option_device(config) == "cpu":
        torch.set_num_threads(config.getoption("--genzoo-threads") or cpu_benchmark_threads())


def option_device(config: pytest.Config) -> str:
    return default_device(config.getoption("--genzoo-device"))


def option_backends(config: pytest.Config) -> list[str] | None:
    value = config.getoption("--genzoo-backends")
    return None if value is None else [b.strip() for b in value.split(",") if b.strip()]


@pytest.fixture(scope="session")
def device(pytestconfig: pytest.Config) -> str:
    return option_device(pytestconfig)


_CEILINGS: dict[str, Ceilings] = {}


@pytest.fixture(scope="session")
def ceilings(device: str) -> Ceilings:
    if device not in _CEILINGS:
        _CEILINGS[device] = measure_ceilings(device)
    return _CEILINGS[device]


@pytest.fixture(scope="session")
def baselines() -> Baselines:
    """The baselines' medians and outputs, as measured by their own benchmarks in this session."""
    return Baselines()


def rounds_and_iterations(seconds_per_call: float) -> tuple[int, int]:
    """About 1 ms per round (timer resolution and sync overhead vanish), ~0.3 s per point."""
    iterations = max(1, math.ceil(1e-3 / max(seconds_per_call, 1e-9)))
    rounds = int(min(200, max(5, 0.3 / (seconds_per_call * iterations))))
    return rounds, iterations


def pedantic_timer(benchmark, rounds_for=rounds_and_iterations, *, interpreted: bool = False):
    """A ``pipeline.Timer`` that times with pytest-benchmark (so its JSON holds every round), with
    a timer that waits for the GPU before reading the clock. The call is already warm; one more
    call sizes the rounds: ``rounds_for(seconds per call) -> (rounds, iterations)``. Under Triton's
    interpreter the warm call (checked against the reference) is the whole point, and one round
    is timed: its time says nothing about speed, so more rounds would only spend minutes."""
    benchmark._timer = synchronized_perf_counter  # the fixture's timer is read per pedantic() call

    def timer(run) -> Timing:
        if interpreted:
            benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
            return Timing.from_samples(list(benchmark.stats.stats.data))
        start = synchronized_perf_counter()
        run()
        rounds, iterations = rounds_for(synchronized_perf_counter() - start)
        benchmark.pedantic(run, rounds=rounds, iterations=iterations, warmup_rounds=0)
        return Timing.from_samples(list(benchmark.stats.stats.data))

    return timer


def record(benchmark, row) -> None:
    benchmark.extra_info.update(dataclasses.asdict(row))


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    device = option_device(config)
    output_json["genzoo"] = {
        "schema_version": schema.VERSION,
        "fingerprint": fingerprint.collect(device).as_flat_dict(),
        "ceilings": dataclasses.asdict(_CEILINGS[device]) if device in _CEILINGS else None,
    }
