"""The serving benchmark's entry point: its config refuses what cannot run, and its rows are tidy."""

from __future__ import annotations

import math

import pytest

from genzoo.measurement import to_frame
from genzoo.serving import ServiceLevels, ServingBenchmark, Workload, serving_rows

WORKLOAD = Workload(prompts=[[1, 2, 3], [4, 5], [6, 7, 8, 9]], output_lengths=[2, 4, 3])


@pytest.mark.parametrize(
    "fields, message",
    [
        (dict(rates=()), "rates is empty"),
        (dict(rates=(2.0, 0.0)), "request rate must be > 0"),
        (dict(rates=(-1.0,)), "request rate must be > 0"),
        (dict(rates=(math.nan,)), "request rate must be > 0"),
        (dict(engines=("vllm",)), "unknown engine 'vllm'"),
        (dict(backends=("flash_attention_2",)), "unknown backend 'flash_attention_2'"),
        (dict(backends=("genzoo",)), "'genzoo' cannot serve through the 'continuous' engine"),
        (dict(timeout_s=0.0), "timeout_s must be > 0"),
    ],
)
def test_bad_benchmark_config_raises_naming_it(fields, message):
    with pytest.raises(ValueError, match=message):
        ServingBenchmark(**fields)


def test_genzoo_is_accepted_for_the_static_engine_alone():
    assert ServingBenchmark(engines=("static",), backends=("sdpa", "genzoo")).backends == ("sdpa", "genzoo")


def test_rows_of_every_engine_and_rate(tiny_gpt2):
    benchmark = ServingBenchmark(
        rates=(50.0, math.inf), service_levels=ServiceLevels(ttft_ms=10_000), timeout_s=60
    )
    frame = to_frame(serving_rows(tiny_gpt2, WORKLOAD, benchmark))
    assert set(frame["case"]) == {
        "continuous rate=50/s",
        "continuous all-at-once",
        "static rate=50/s",
        "static all-at-once",
    }
    assert set(frame["kind"]) == {"model"} and set(frame["backend"]) == {"sdpa"}
    assert set(frame["dtype"]) == {"float32"} and set(frame["measured_on"]) == {"cpu"}
    assert set(frame["knob_request_rate"]) == {50.0, math.inf}
    assert set(frame["knob_engine"]) == {"continuous", "static"}
    assert not frame.duplicated(["kind", "subject", "backend", "dtype", "case", "metric"]).any()
    for case, rows in frame.groupby("case"):
        values = dict(zip(rows["metric"], rows["value"]))
        for name in ("ttft", "tpot", "itl", "e2el"):
            assert {f"{name}_p50", f"{name}_p90", f"{name}_p99"} <= values.keys(), case
        assert values["failed_requests"] == 0
        assert values["ttft_p99"] <= values["e2el_p99"]
        # every request met the generous TTFT limit: goodput is the request throughput
        assert values["request_goodput"] == values["request_throughput"] > 0
        assert values["output_throughput"] == pytest.approx(9 * values["request_throughput"] / 3)
