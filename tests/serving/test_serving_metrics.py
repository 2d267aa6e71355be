"""vLLM's serving metrics on scripted streams whose every latency is known by hand.

The times are sums of powers of two, so TTFT, ITL and E2EL come out exact in floating point and the
tests compare with ``==``; TPOT divides by ``output_tokens - 1`` the same way the code does.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from genzoo.measurement import to_frame
from genzoo.serving import RequestTrace, ServiceLevels, serving_metrics, to_rows

# start 0 s, end 10 s; ttft, tpot, itl, e2el of each request in the comments
SCRIPT = (
    # ttft 0.5, e2el 1.5, tpot (1.5 - 0.5) / 3, itl 0.25 0.25 0.5
    RequestTrace(sent_s=1.0, token_times_s=(1.5, 1.75, 2.0, 2.5), prompt_tokens=10, output_tokens=4),
    # two chunks bundling three tokens: ttft 1.0, e2el 1.5, tpot 0.5 / 2, itl 0.5
    RequestTrace(sent_s=2.0, token_times_s=(3.0, 3.5), prompt_tokens=20, output_tokens=3),
    # a single token: ttft 0.25 = e2el, no tpot, no itl
    RequestTrace(sent_s=4.0, token_times_s=(4.25,), prompt_tokens=5, output_tokens=1),
    # failed: counted, in no latency and no token count
    RequestTrace(sent_s=5.0, token_times_s=(), prompt_tokens=7, output_tokens=0, ok=False, error="timeout"),
)


def test_one_request_by_hand():
    metrics = serving_metrics(SCRIPT[:1], 0.0, 10.0)
    assert metrics.ttft.mean == 0.5 and metrics.ttft.count == 1
    assert metrics.e2el.mean == 1.5
    assert metrics.tpot.mean == 1.0 / 3
    assert metrics.itl.count == 3
    assert metrics.itl.median == 0.25
    assert metrics.itl.mean == 1.0 / 3
    assert metrics.itl.std == float(np.std([0.25, 0.25, 0.5]))


def test_script_by_hand():
    metrics = serving_metrics(SCRIPT, 0.0, 10.0)
    assert (metrics.requests, metrics.completed, metrics.failed) == (4, 3, 1)
    assert metrics.failed_indices == (3,)
    assert metrics.duration_s == 10.0
    assert (metrics.total_input, metrics.total_output) == (35, 8)
    assert metrics.request_throughput == 3 / 10
    assert metrics.output_throughput == 8 / 10
    assert metrics.total_token_throughput == 43 / 10
    # ttft 0.5 1.0 0.25; e2el 1.5 1.5 0.25
    assert metrics.ttft.count == 3 and metrics.ttft.median == 0.5
    assert metrics.ttft.mean == float(np.mean([0.5, 1.0, 0.25]))
    assert metrics.e2el.median == 1.5 and metrics.e2el.count == 3
    # tpot only for the two requests with more than one token
    assert metrics.tpot.count == 2
    assert metrics.tpot.mean == float(np.mean([1.0 / 3, 0.25]))
    # itl pools every gap of every request: 0.25 0.25 0.5 0.5
    assert metrics.itl.count == 4
    assert (metrics.itl.mean, metrics.itl.median, metrics.itl.std) == (0.375, 0.375, 0.125)
    assert metrics.service_levels is None and metrics.request_goodput is None


def test_percentiles_are_numpy_linear_percentiles():
    values = [3.0, 1.0, 7.0, 2.0, 10.0, 5.0, 4.0, 9.0, 6.0, 8.0]
    traces = [RequestTrace(0.0, (v,), prompt_tokens=1, output_tokens=1) for v in values]
    stats = serving_metrics(traces, 0.0, 10.0, percentiles=(50, 90, 99, 99.9)).ttft
    expected = [(p, float(np.percentile(values, p))) for p in (50, 90, 99, 99.9)]
    assert list(stats.percentiles) == expected
    assert [value for _, value in stats.percentiles[:3]] == pytest.approx([5.5, 9.1, 9.91])
    assert (stats.p20, stats.p80) == (float(np.percentile(values, 20)), float(np.percentile(values, 80)))
    assert stats.std == float(np.std(values))  # population std, as np.std in vLLM


@pytest.mark.parametrize(
    ("levels", "good"),
    [
        (ServiceLevels(ttft_ms=600), 2),  # 0.5 and 0.25 within, 1.0 not
        (ServiceLevels(ttft_ms=600, tpot_ms=300), 1),  # request 0's tpot 1/3 s too slow; single token: 0
        (ServiceLevels(e2el_ms=1500), 3),  # 1.5 s at the limit is within it; the failed one never counts
        (ServiceLevels(tpot_ms=0), 1),  # only the single-token request, whose tpot counts as 0
    ],
)
def test_goodput_counts_requests_within_every_limit(levels, good):
    metrics = serving_metrics(SCRIPT, 0.0, 10.0, service_levels=levels)
    assert metrics.good_requests == good
    assert metrics.request_goodput == good / 10


def test_service_levels_from_vllm_goodput_pairs():
    assert ServiceLevels.from_pairs(["ttft:600", "tpot:300"]) == ServiceLevels(ttft_ms=600, tpot_ms=300)
    assert ServiceLevels(ttft_ms=600, e2el_ms=1500).limits_s() == {"ttft": 0.6, "e2el": 1.5}
    for pairs in (["itl:5"], ["ttft=5"], ["ttft:fast"], ["ttft:-1"], []):
        with pytest.raises(ValueError):
            ServiceLevels.from_pairs(pairs)
    with pytest.raises(ValueError, match="ttft_ms"):
        ServiceLevels(ttft_ms=math.nan)


def test_single_token_request_has_no_tpot_and_no_itl():
    metrics = serving_metrics(SCRIPT[2:3], 0.0, 10.0)
    assert metrics.tpot is None and metrics.itl is None
    assert metrics.ttft.mean == 0.25 == metrics.e2el.mean
    metrics_names = {row.metric for row in to_rows(metrics, subject="llm")}
    assert "ttft_p99" in metrics_names and not any(name.startswith(("tpot", "itl")) for name in metrics_names)


def test_failed_requests_are_counted_and_left_out():
    with_failure = serving_metrics(SCRIPT, 0.0, 10.0)
    without = serving_metrics(SCRIPT[:3], 0.0, 10.0)
    assert with_failure.ttft == without.ttft and with_failure.e2el == without.e2el
    assert with_failure.total_input == without.total_input
    all_failed = serving_metrics(SCRIPT[3:], 0.0, 10.0, service_levels=ServiceLevels(ttft_ms=1))
    assert (all_failed.completed, all_failed.failed, all_failed.request_throughput) == (0, 1, 0.0)
    assert all_failed.ttft is None and all_failed.e2el is None and all_failed.good_requests == 0


def _trace(**changes):
    fields = dict(sent_s=1.0, token_times_s=(1.5, 2.0), prompt_tokens=3, output_tokens=2)
    return RequestTrace(**(fields | changes))


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (_trace(token_times_s=(0.5, 2.0)), "traces[1].token_times_s[0]"),  # before its send time
        (_trace(token_times_s=(1.5, 1.25)), "traces[1].token_times_s[1]"),  # not monotonic
        (_trace(token_times_s=(1.5, math.nan)), "traces[1].token_times_s[1]"),
        (_trace(sent_s=math.nan), "traces[1].sent_s"),
        (_trace(sent_s=-1.0, token_times_s=(0.5,)), "traces[1].sent_s"),  # before the benchmark's start
        (_trace(token_times_s=(1.5, 11.0)), "traces[1].token_times_s[1]"),  # after the benchmark's end
        (_trace(token_times_s=()), "traces[1].token_times_s"),  # ok without a first token
        (_trace(output_tokens=0), "traces[1].output_tokens"),
        (_trace(prompt_tokens=-1), "traces[1].prompt_tokens"),
        (_trace(output_tokens=2.0), "traces[1].output_tokens"),
    ],
)
def test_bad_trace_names_the_request_and_field(bad, field):
    with pytest.raises(ValueError, match=re.escape(field)):
        serving_metrics([_trace(), bad], 0.0, 10.0)


def test_bad_run_arguments():
    with pytest.raises(ValueError, match="traces is empty"):
        serving_metrics([], 0.0, 10.0)
    with pytest.raises(ValueError, match="end_s"):
        serving_metrics([_trace()], 10.0, 10.0)
    with pytest.raises(ValueError, match="start_s"):
        serving_metrics([_trace()], math.nan, 10.0)
    with pytest.raises(ValueError, match="percentiles"):
        serving_metrics([_trace()], 0.0, 10.0, percentiles=(101,))


def test_token_times_become_a_tuple():
    trace = RequestTrace(sent_s=0.0, token_times_s=[0.5, 1.0], prompt_tokens=1, output_tokens=2)
    assert trace.token_times_s == (0.5, 1.0)
    hash(trace)


def test_rows():
    metrics = serving_metrics(SCRIPT, 0.0, 10.0, service_levels=ServiceLevels(ttft_ms=600))
    knobs = (("request_rate", 4.0), ("backend", "vllm"))
    rows = to_rows(metrics, subject="llm", backend="vllm", dtype="bfloat16", case="rate=4", knobs=knobs)
    by_metric = {row.metric: row for row in rows}
    stats = ("mean", "median", "std", "p50", "p90", "p99")
    latencies = {f"{name}_{stat}" for name in ("ttft", "tpot", "itl", "e2el") for stat in stats}
    totals = {"request_throughput", "request_goodput", "output_throughput", "total_token_throughput"}
    assert set(by_metric) == latencies | totals | {"failed_requests"}
    assert len(rows) == len(by_metric)
    for row in rows:
        assert (row.kind, row.subject, row.backend, row.dtype, row.case) == (
            "model",
            "llm",
            "vllm",
            "bfloat16",
            "rate=4",
        )
        assert row.samples == 4 and row.knobs == knobs
    for name in latencies:
        assert (by_metric[name].unit, by_metric[name].better) == ("s", "lower")
    for name in totals:
        assert by_metric[name].better == "higher"
    assert by_metric["ttft_p50"].value == 0.5 and by_metric["ttft_p50"].note == "3 values"
    assert by_metric["itl_median"].value == 0.375 and by_metric["itl_median"].note == "4 values"
    assert (by_metric["e2el_median"].p20, by_metric["e2el_median"].p80) == (
        metrics.e2el.p20,
        metrics.e2el.p80,
    )
    assert by_metric["request_goodput"].value == 0.2 and by_metric["request_goodput"].note == "ttft<=600ms"
    assert (by_metric["request_throughput"].value, by_metric["request_throughput"].unit) == (
        0.3,
        "requests/s",
    )
    assert by_metric["output_throughput"].unit == "tokens/s"
    assert (by_metric["failed_requests"].value, by_metric["failed_requests"].better) == (1.0, "lower")
    frame = to_frame(rows)
    assert set(frame["knob_request_rate"]) == {4.0}


def test_no_goodput_row_without_service_levels():
    metrics = {row.metric for row in to_rows(serving_metrics(SCRIPT, 0.0, 10.0), subject="llm")}
    assert "request_goodput" not in metrics and "request_throughput" in metrics
