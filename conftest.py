"""The repository root's pytest setup: ``pytest`` runs the tests (``tests/``) and ``pytest
--benchmark-only`` runs the benchmark suites (``bench/``), each without collecting the other, so
the benchmarks need none of the test-only packages (hypothesis) that README's main command does
not install."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).parent


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    benchmarks = bool(config.getoption("benchmark_only", False))
    for folder, wanted in ((ROOT / "bench", benchmarks), (ROOT / "tests", not benchmarks)):
        if collection_path == folder or folder in collection_path.parents:
            return None if wanted else True
    return None
