"""Serving benchmarks of the LLM family: request arrivals and vLLM's latency metrics.

``arrivals.arrival_offsets`` draws seeded Poisson (or gamma) send times as vLLM's serving benchmark
does; ``metrics.serving_metrics`` turns per-request ``trace.RequestTrace`` records into TTFT, TPOT,
ITL, E2EL, throughput and goodput (``slo.ServiceLevels``) as ``vllm bench serve`` defines them, and
``metrics.to_rows`` into ``genzoo.measurement.Measurement`` rows.
"""

from genzoo.serving.arrivals import arrival_offsets
from genzoo.serving.metrics import ServingMetrics, serving_metrics, to_rows
from genzoo.serving.slo import ServiceLevels
from genzoo.serving.stats import LatencyStats
from genzoo.serving.trace import RequestTrace

__all__ = [
    "LatencyStats",
    "RequestTrace",
    "ServiceLevels",
    "ServingMetrics",
    "arrival_offsets",
    "serving_metrics",
    "to_rows",
]
