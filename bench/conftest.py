"""Shared fixtures of the benchmark suites (``pytest bench --benchmark-only``).

Options: ``--genzoo-quick`` runs the smaller grid; ``--genzoo-device`` picks the device (default:
CUDA when present). The machine's ceilings are measured once per session, before any op, and
written with the environment fingerprint into the benchmark JSON under the key ``genzoo``.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genzoo import fingerprint
from genzoo.ceilings import Ceilings, measure_ceilings
from genzoo.timing import cpu_benchmark_threads, default_device, synchronized_perf_counter


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("genzoo")
    group.addoption("--genzoo-quick", action="store_true", help="run the smaller benchmark grid")
    group.addoption("--genzoo-goals", action="store_true", help="only the points of the speed goals (genzoo.goals)")
    group.addoption(
        "--genzoo-device",
        default=default_device(),
        help="device to benchmark on (default: cuda when available, else cpu)",
    )
    group.addoption("--genzoo-backends", default=None, help="comma-separated backends (eager always runs)")
    group.addoption(
        "--genzoo-threads", type=int, default=None,
        help="torch intra-op threads on the CPU (default: one core fewer than the machine has)",
    )  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    if option_device(config) == "cpu":
        torch.set_num_threads(config.getoption("--genzoo-threads") or cpu_benchmark_threads())


def option_device(config: pytest.Config) -> str:
    return config.getoption("--genzoo-device")


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
def medians() -> dict[tuple, float]:
    """The baselines' medians (eager's; the vendor backend's for ops), as measured by their own
    benchmarks in this session, keyed by each suite's point key."""
    return {}


@pytest.fixture
def synchronized_benchmark(benchmark):
    """pytest-benchmark's fixture with a timer that waits for the GPU before reading the clock."""
    benchmark._timer = synchronized_perf_counter  # the fixture's timer is read per pedantic() call
    return benchmark


def pytest_benchmark_update_json(config: pytest.Config, benchmarks, output_json: dict) -> None:
    device = option_device(config)
    output_json["genzoo"] = {
        "fingerprint": fingerprint.collect(device).as_flat_dict(),
        "ceilings": dataclasses.asdict(_CEILINGS[device]) if device in _CEILINGS else None,
    }
