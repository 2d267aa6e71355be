"""An op registered outside genzoo is tested and benchmarked by the generated suites."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pytest(*arguments: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    env = {k: v for k, v in env.items() if not k.startswith("PYTEST_XDIST")}
    command = [sys.executable, "-m", "pytest", "-p", "toy_op", "-p", "no:cacheprovider", "-q", *arguments]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_a_toy_op_is_tested_by_the_registry_suite():
    result = _pytest("tests/kernels/test_registered_ops.py", "-k", "toy_scaled_tanh", "-m", "")
    assert result.returncode == 0, result.stdout[-3000:]
    assert "passed" in result.stdout and " 0 passed" not in result.stdout


def test_a_toy_op_is_benchmarked_by_the_op_suite(tmp_path):
    json_path = tmp_path / "toy.json"
    result = _pytest(
        "bench/test_ops.py",
        "--benchmark-only",
        "--genzoo-quick",
        "-k",
        "toy_scaled_tanh",
        "--benchmark-json",
        str(json_path),
    )
    assert result.returncode == 0, result.stdout[-3000:]
    rows = [b["extra_info"] for b in json.loads(json_path.read_text())["benchmarks"]]
    assert {row["backend"] for row in rows} == {"eager", "compile"}
    assert all(row["subject"] == "toy_scaled_tanh" and row["within_tolerance"] for row in rows)
    assert all(row["throughput"] > 0 and row["error"] < 1e-5 for row in rows)
