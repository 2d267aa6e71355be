"""Serving latency and throughput of a benchmark run, defined exactly as vLLM's serving benchmark.

The definitions follow ``calculate_metrics`` in ``vllm/benchmarks/serve.py`` (``vllm bench serve``;
formerly ``benchmarks/benchmark_serving.py``) and the streaming request functions of
``vllm/benchmarks/lib/endpoint_request_func.py``, so that our numbers can be set beside vLLM's:

- TTFT: first chunk's arrival minus the send time.
- E2EL: last chunk's arrival minus the send time (vLLM's ``latency = most_recent_timestamp - st``).
- TPOT: ``(E2EL - TTFT) / (output_tokens - 1)``, only for requests with more than one output token.
- ITL: every gap between consecutive chunks of a request, pooled over all requests.
- request throughput: completed requests / benchmark duration; output token throughput: output
  tokens of completed requests / duration; total token throughput adds their prompt tokens.
- request goodput (``--goodput``): completed requests that meet every stated limit, divided by the
  duration; a request with one output token counts TPOT as 0 there, as in vLLM.

Failed requests are counted and left out of every latency and token count, as vLLM leaves them.
Deviations: times are seconds, not milliseconds; a latency with no values (all requests failed, or
none had two tokens for TPOT) is ``None`` and gets no row, where vLLM prints 0; vLLM's per-second
peak figures (``max_output_tokens_per_s``, ``max_concurrent_requests``) are not computed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from genzoo.measurement import Measurement
from genzoo.serving.slo import ServiceLevels
from genzoo.serving.stats import (
    DEFAULT_PERCENTILES,
    LatencyStats,
    check_percentiles,
    percentile_label,
    summarize,
)
from genzoo.serving.trace import RequestTrace, check_trace, check_window

LATENCIES = ("ttft", "tpot", "itl", "e2el")


@dataclasses.dataclass(frozen=True)
class ServingMetrics:
    requests: int  # every trace given, failed ones included
    completed: int
    failed: int
    failed_indices: tuple[int, ...]
    duration_s: float  # end_s - start_s, vLLM's ``benchmark_duration``
    total_input: int  # prompt tokens of completed requests
    total_output: int  # output tokens of completed requests
    request_throughput: float  # requests/s
    output_throughput: float  # tokens/s
    total_token_throughput: float  # tokens/s, prompt and output
    ttft: LatencyStats | None
    tpot: LatencyStats | None
    itl: LatencyStats | None
    e2el: LatencyStats | None
    service_levels: ServiceLevels | None = None
    good_requests: int | None = None  # completed requests within every limit; None without limits
    request_goodput: float | None = None  # good_requests / duration_s, requests/s


@dataclasses.dataclass(frozen=True)
class _Latencies:
    ttft: float
    e2el: float
    tpot: float | None  # None for a single output token
    itl: tuple[float, ...]


def _latencies(trace: RequestTrace) -> _Latencies:
    times = trace.token_times_s
    ttft = times[0] - trace.sent_s
    e2el = times[-1] - trace.sent_s
    tpot = (e2el - ttft) / (trace.output_tokens - 1) if trace.output_tokens > 1 else None
    itl = tuple(later - earlier for earlier, later in zip(times, times[1:]))
    return _Latencies(ttft=ttft, e2el=e2el, tpot=tpot, itl=itl)


def _is_good(latency: _Latencies, limits_s: dict[str, float]) -> bool:
    values = {"ttft": latency.ttft, "tpot": latency.tpot or 0.0, "e2el": latency.e2el}
    return all(limit >= values[name] for name, limit in limits_s.items())


def serving_metrics(
    traces: Sequence[RequestTrace],
    start_s: float,
    end_s: float,
    *,
    service_levels: ServiceLevels | None = None,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
) -> ServingMetrics:
    """The metrics of one run: ``traces`` of every request sent between ``start_s`` and ``end_s``.

    Raises ValueError, naming the request index and field, for a trace that cannot be true: a time
    that is NaN or infinite, a chunk before its send time or before the previous chunk, a send
    before ``start_s`` or a chunk after ``end_s``, an ok request without chunks or output tokens.
    """
    if len(traces) == 0:
        raise ValueError("traces is empty: a serving benchmark needs at least one request")
    duration = check_window(start_s, end_s)
    chosen = check_percentiles(percentiles)
    for index, trace in enumerate(traces):
        check_trace(index, trace, start_s, end_s)
    completed = [(index, trace) for index, trace in enumerate(traces) if trace.ok]
    failed = tuple(index for index, trace in enumerate(traces) if not trace.ok)
    latencies = [_latencies(trace) for _, trace in completed]
    total_input = sum(trace.prompt_tokens for _, trace in completed)
    total_output = sum(trace.output_tokens for _, trace in completed)
    good = None
    if service_levels is not None:
        limits_s = service_levels.limits_s()
        good = sum(_is_good(latency, limits_s) for latency in latencies)
    return ServingMetrics(
        requests=len(traces),
        completed=len(completed),
        failed=len(failed),
        failed_indices=failed,
        duration_s=duration,
        total_input=total_input,
        total_output=total_output,
        request_throughput=len(completed) / duration,
        output_throughput=total_output / duration,
        total_token_throughput=(total_input + total_output) / duration,
        ttft=summarize([latency.ttft for latency in latencies], chosen),
        tpot=summarize([latency.tpot for latency in latencies if latency.tpot is not None], chosen),
        itl=summarize([gap for latency in latencies for gap in latency.itl], chosen),
        e2el=summarize([latency.e2el for latency in latencies], chosen),
        service_levels=service_levels,
        good_requests=good,
        request_goodput=None if good is None else good / duration,
    )


def to_rows(
    metrics: ServingMetrics,
    *,
    subject: str,
    backend: str = "-",
    dtype: str = "-",
    case: str = "",
    knobs: tuple[tuple[str, object], ...] = (),
    measured_on: str = "",
    seeds: str = "",
) -> list[Measurement]:
    """``kind="model"`` rows: ``{ttft,tpot,itl,e2el}_{mean,median,std,p50,p90,p99}`` in s (lower is
    better; the median row carries p20/p80), ``request_throughput``, ``request_goodput`` (only with
    service levels) in requests/s and ``output_throughput``, ``total_token_throughput`` in tokens/s
    (higher is better), ``failed_requests``. ``samples`` is the number of requests sent; the note of a
    latency row says how many values it summarizes (ITL pools gaps, TPOT skips single tokens).
    """
    common = dict(
        kind="model",
        subject=subject,
        backend=backend,
        dtype=dtype,
        case=case,
        knobs=tuple(knobs),
        measured_on=measured_on,
        seeds=seeds,
        samples=metrics.requests,
    )
    rows: list[Measurement] = []
    for name in LATENCIES:
        stats: LatencyStats | None = getattr(metrics, name)
        if stats is None:
            continue
        latency = dict(unit="s", better="lower", note=f"{stats.count} values", **common)
        rows.append(Measurement(metric=f"{name}_mean", value=stats.mean, **latency))
        rows.append(
            Measurement(metric=f"{name}_median", value=stats.median, p20=stats.p20, p80=stats.p80, **latency)
        )
        rows.append(Measurement(metric=f"{name}_std", value=stats.std, **latency))
        for p, value in stats.percentiles:
            rows.append(Measurement(metric=f"{name}_p{percentile_label(p)}", value=value, **latency))
    levels = metrics.service_levels.describe() if metrics.service_levels else ""
    totals = [
        ("request_throughput", metrics.request_throughput, "requests/s", "higher", ""),
        ("request_goodput", metrics.request_goodput, "requests/s", "higher", levels),
        ("output_throughput", metrics.output_throughput, "tokens/s", "higher", ""),
        ("total_token_throughput", metrics.total_token_throughput, "tokens/s", "higher", ""),
        ("failed_requests", float(metrics.failed), "requests", "lower", ""),
    ]
    for metric, value, unit, better, note in totals:
        if value is not None:  # goodput only where service levels were given
            rows.append(
                Measurement(metric=metric, value=value, unit=unit, better=better, note=note, **common)
            )
    return rows
