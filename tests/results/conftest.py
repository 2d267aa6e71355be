from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def benchmark_document() -> dict:
    """A small pytest-benchmark JSON document as genzoo's suite writes it: the measurement in
    ``extra_info``, the raw per-round times in ``stats["data"]``."""
    rng = np.random.default_rng(0)
    benchmarks = []
    for backend, median in (("eager", 2e-4), ("triton", 1e-4)):
        data = median * rng.lognormal(0, 0.04, 30)
        q1, q3 = np.quantile(data, [0.25, 0.75])
        benchmarks.append({
            "group": "ddim_step n=2^20 float32", "name": f"test_op[ddim_step-{backend}-float32-n=2^20]",
            "fullname": f"bench/test_ops.py::test_op[ddim_step-{backend}-float32-n=2^20]", "params": {},
            "extra_info": {
                "kind": "op", "subject": "ddim_step", "backend": backend, "dtype": "float32", "case": "n=2^20",
                "metric": "latency", "value": float(np.median(data)), "unit": "s", "p20": q1, "p80": q3,
                "throughput": 16.8e6 / median / 1e9, "throughput_unit": "GB/s", "fraction_of_ceiling": 0.5,
                "speedup_vs_eager": None if backend == "eager" else 2.0, "error": 1e-6, "error_limit": 1e-5,
                "within_tolerance": True, "interpreted": False,
                "fingerprint": {"hostname": "gpu-box", "device": "cuda", "device_name": "GPU A", "git_commit": "abc"},
            },
            "stats": {"min": data.min(), "max": data.max(), "mean": data.mean(), "median": float(np.median(data)),
                      "q1": q1, "q3": q3, "iqr": q3 - q1, "stddev": data.std(), "rounds": 30, "data": data.tolist()},
        })
    return {"machine_info": {"node": "gpu-box", "cpu": {"brand_raw": "EPYC"}}, "commit_info": {"id": "abc"},
            "benchmarks": benchmarks, "version": "5.2.3"}
