"""Serving benchmarks of the LLM family: request arrivals and vLLM's latency metrics.

``arrivals.arrival_offsets`` draws seeded Poisson (or gamma) send times as vLLM's serving benchmark
does; ``metrics.serving_metrics`` turns per-request ``trace.RequestTrace`` records into TTFT, TPOT,
ITL, E2EL, throughput and goodput (``slo.ServiceLevels``) as ``vllm bench serve`` defines them, and
``metrics.to_rows`` into ``genzoo.measurement.Measurement`` rows.

``benchmark.serving_rows`` measures a ``transformers`` model end to end: a ``workload.Workload`` sent
at seeded Poisson rates to ``continuous.serve_continuous`` (transformers' continuous batching) and to
``static.serve_static`` (static ``generate`` batches, the baseline), each returning a
``served.ServedRun`` of traces.
"""

from genzoo.serving.arrivals import arrival_offsets
from genzoo.serving.benchmark import ServingBenchmark, ServingResult, run_serving, serving_rows
from genzoo.serving.continuous import ContinuousBatchingSettings, serve_continuous
from genzoo.serving.metrics import ServingMetrics, serving_metrics, to_rows
from genzoo.serving.served import ServedRun
from genzoo.serving.slo import ServiceLevels
from genzoo.serving.static import StaticBatchingSettings, serve_static
from genzoo.serving.stats import LatencyStats
from genzoo.serving.trace import RequestTrace
from genzoo.serving.workload import Workload, send_offsets

__all__ = [
    "ContinuousBatchingSettings",
    "LatencyStats",
    "RequestTrace",
    "ServedRun",
    "ServiceLevels",
    "ServingBenchmark",
    "ServingMetrics",
    "ServingResult",
    "StaticBatchingSettings",
    "Workload",
    "arrival_offsets",
    "run_serving",
    "send_offsets",
    "serve_continuous",
    "serve_static",
    "serving_metrics",
    "serving_rows",
    "to_rows",
]
