"""A serving benchmark: each engine x attention backend x request rate, measured as ``vllm bench serve``.

For every request rate (``math.inf``: all at once) the workload's send times are drawn from the
same seed (``workload.send_offsets``), each engine serves it with each attention backend it can
serve with, and ``metrics.serving_metrics`` turns the traces into TTFT, TPOT, ITL, E2EL, throughput
and goodput; ``serving_rows`` makes ``Measurement`` rows of them (``metrics.to_rows``), the engine,
rate, burstiness and request count as knobs.

    rows = serving_rows(model.gpt2, workload, ServingBenchmark(rates=(2.0, 8.0, math.inf)))
"""

from __future__ import annotations

import dataclasses
import math

from transformers import PreTrainedModel

from genzoo.measurement import Measurement
from genzoo.serving import continuous, static
from genzoo.serving.metrics import ServingMetrics, serving_metrics, to_rows
from genzoo.serving.served import BACKENDS, ServedRun
from genzoo.serving.slo import ServiceLevels
from genzoo.serving.workload import Workload, send_offsets

ENGINES = ("continuous", "static")
# the attention backends each engine can serve with; continuous.py says why genzoo cannot there
SERVABLE_BACKENDS = {"continuous": continuous.SERVABLE_BACKENDS, "static": BACKENDS}


@dataclasses.dataclass(frozen=True)
class ServingBenchmark:
    rates: tuple[float, ...] = (2.0, 8.0, math.inf)  # requests/s; inf sends every request at once
    engines: tuple[str, ...] = ENGINES
    backends: tuple[str, ...] = ("sdpa",)
    service_levels: ServiceLevels | None = None  # goodput limits; None: no goodput row
    seed: int = 0  # of the send times, the same for every rate, engine and backend
    burstiness: float = 1.0  # 1: Poisson arrivals (vLLM's --burstiness)
    timeout_s: float = 600.0  # per run: requests not over by then count as failed
    continuous: continuous.ContinuousBatchingSettings = continuous.ContinuousBatchingSettings()
    static: static.StaticBatchingSettings = static.StaticBatchingSettings()

    def __post_init__(self) -> None:
        if not self.rates:
            raise ValueError("ServingBenchmark.rates is empty: give at least one request rate")
        for rate in self.rates:
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0:
                raise ValueError(f"ServingBenchmark.rates: a request rate must be > 0 (or inf), got {rate!r}")
        if not self.engines or not self.backends:
            raise ValueError("ServingBenchmark.engines and .backends must each name at least one")
        for engine in self.engines:
            if engine not in ENGINES:
                raise ValueError(
                    f"ServingBenchmark.engines: unknown engine {engine!r}; choose from {ENGINES}"
                )
        for backend in self.backends:
            if backend not in BACKENDS:
                raise ValueError(
                    f"ServingBenchmark.backends: unknown backend {backend!r}; choose from {BACKENDS}"
                )
            for engine in self.engines:
                if backend not in SERVABLE_BACKENDS[engine]:
                    raise ValueError(
                        f"backend {backend!r} cannot serve through the {engine!r} engine, which serves with "
                        f"{SERVABLE_BACKENDS[engine]}; see genzoo.serving.{engine}"
                    )
        if not self.timeout_s > 0:
            raise ValueError(f"ServingBenchmark.timeout_s must be > 0, got {self.timeout_s!r}")


@dataclasses.dataclass(frozen=True)
class ServingResult:
    engine: str
    backend: str
    request_rate: float
    run: ServedRun
    metrics: ServingMetrics

    def case(self) -> str:
        """``continuous rate=2/s`` or ``static all-at-once``: the row's label for people."""
        rate = "all-at-once" if math.isinf(self.request_rate) else f"rate={self.request_rate:g}/s"
        return f"{self.engine} {rate}"


def _serve(model, workload, offsets, engine: str, backend: str, benchmark: ServingBenchmark) -> ServedRun:
    if engine == "continuous":
        settings = benchmark.continuous
        serve = continuous.serve_continuous
    else:
        settings = benchmark.static
        serve = static.serve_static
    return serve(model, workload, offsets, backend=backend, settings=settings, timeout_s=benchmark.timeout_s)


def run_serving(
    model: PreTrainedModel, workload: Workload, benchmark: ServingBenchmark = ServingBenchmark()
) -> list[ServingResult]:
    """Every (rate, engine, backend) run of ``benchmark`` on ``model``, with its metrics."""
    results = []
    for rate in benchmark.rates:
        offsets = send_offsets(workload, rate, seed=benchmark.seed, burstiness=benchmark.burstiness)
        for engine in benchmark.engines:
            for backend in benchmark.backends:
                run = _serve(model, workload, offsets, engine, backend, benchmark)
                metrics = serving_metrics(
                    run.traces, run.start_s, run.end_s, service_levels=benchmark.service_levels
                )
                results.append(ServingResult(engine, backend, float(rate), run, metrics))
    return results


def serving_rows(
    model: PreTrainedModel,
    workload: Workload,
    benchmark: ServingBenchmark = ServingBenchmark(),
    *,
    subject: str = "llm",
) -> list[Measurement]:
    """``run_serving``'s results as ``Measurement`` rows (``metrics.to_rows``): the attention backend in
    ``backend``, the engine and rate in ``case`` and as knobs."""
    dtype = str(model.dtype).removeprefix("torch.")
    rows: list[Measurement] = []
    for result in run_serving(model, workload, benchmark):
        knobs = (
            ("engine", result.engine),
            ("request_rate", result.request_rate),
            ("burstiness", benchmark.burstiness),
            ("requests", len(workload)),
        )
        rows += to_rows(
            result.metrics,
            subject=subject,
            backend=result.backend,
            dtype=dtype,
            case=result.case(),
            knobs=knobs,
            measured_on=model.device.type,
            seeds=str(benchmark.seed),
        )
    return rows
