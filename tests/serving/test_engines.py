"""Both serving engines on a tiny GPT-2: every request served, one stamp per token, failures counted.

The checks are of structure (counts, order, the run's window), never of speed.
"""

from __future__ import annotations

import math
import time

import pytest
import torch

from genzoo.serving import Workload, send_offsets, serve_continuous, serve_static, serving_metrics

ENGINES = {"continuous": serve_continuous, "static": serve_static}
# prompts of several lengths, outputs from one token up
WORKLOAD = Workload(
    prompts=[[1, 2, 3], [4, 5, 6, 7, 8, 9, 10], [11] * 12, [12, 13], [14, 15, 16, 17]],
    output_lengths=[1, 5, 8, 3, 6],
)


def _check_complete(run, workload):
    assert len(run.traces) == len(workload)
    for trace, prompt, asked in zip(run.traces, workload.prompts, workload.output_lengths):
        assert trace.ok, trace.error
        assert trace.prompt_tokens == len(prompt)
        assert trace.output_tokens == asked == len(trace.token_times_s)
        assert run.start_s <= trace.sent_s <= trace.token_times_s[0]
        assert list(trace.token_times_s) == sorted(trace.token_times_s)
        assert trace.token_times_s[-1] <= run.end_s
    metrics = serving_metrics(run.traces, run.start_s, run.end_s)
    assert metrics.completed == len(workload) and metrics.failed == 0
    assert metrics.total_output == sum(workload.output_lengths)
    assert metrics.ttft.percentiles[-1][1] <= metrics.e2el.percentiles[-1][1]  # p99
    for trace in run.traces:  # TTFT <= E2EL request by request
        assert trace.token_times_s[0] - trace.sent_s <= trace.token_times_s[-1] - trace.sent_s


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("rate", [40.0, math.inf])
def test_every_request_completes_with_one_stamp_per_token(tiny_gpt2, engine, rate):
    offsets = send_offsets(WORKLOAD, rate, seed=1)
    run = ENGINES[engine](tiny_gpt2, WORKLOAD, offsets, backend="sdpa", timeout_s=60)
    _check_complete(run, WORKLOAD)
    assert run.attn_implementation == "sdpa"
    assert tiny_gpt2.config._attn_implementation == "sdpa"  # restored after the run
    for trace, offset in zip(run.traces, offsets):  # no request is sent before its time
        assert trace.sent_s >= run.start_s + offset


def test_engines_generate_what_plain_generate_does(tiny_gpt2):
    # greedy, one request at a time, no padding: the reference both engines must reproduce
    reference = [
        tiny_gpt2.generate(
            torch.tensor([prompt]), max_new_tokens=n, min_new_tokens=n, do_sample=False, pad_token_id=0
        )[0, len(prompt) :].tolist()
        for prompt, n in zip(WORKLOAD.prompts, WORKLOAD.output_lengths)
    ]
    offsets = send_offsets(WORKLOAD, math.inf, seed=0)
    for serve in ENGINES.values():
        assert [list(ids) for ids in serve(tiny_gpt2, WORKLOAD, offsets).output_ids] == reference


@pytest.mark.parametrize(
    "engine, backend, ran_as", [("continuous", "eager", "paged|eager"), ("static", "eager", "eager")]
)
def test_eager_backend_serves(tiny_gpt2, engine, backend, ran_as):
    run = ENGINES[engine](tiny_gpt2, WORKLOAD, send_offsets(WORKLOAD, math.inf, seed=0), backend=backend)
    _check_complete(run, WORKLOAD)
    assert run.attn_implementation == ran_as
    assert tiny_gpt2.config._attn_implementation == "sdpa"


def test_static_serves_with_genzoo_attention(tiny_gpt2):
    run = serve_static(tiny_gpt2, WORKLOAD, send_offsets(WORKLOAD, math.inf, seed=0), backend="genzoo")
    _check_complete(run, WORKLOAD)
    assert run.attn_implementation == "genzoo"


def test_continuous_refuses_genzoo_attention_naming_it(tiny_gpt2):
    with pytest.raises(ValueError, match="'genzoo' cannot serve through transformers' continuous batching"):
        serve_continuous(tiny_gpt2, WORKLOAD, [0.0] * len(WORKLOAD), backend="genzoo")


def test_static_batches_requests_that_arrive_together(tiny_gpt2):
    # two bursts far apart: the second waits for nothing, the first three share one batch
    offsets = [0.0, 0.0, 0.0, 0.3, 0.3]
    run = serve_static(tiny_gpt2, WORKLOAD, offsets)
    _check_complete(run, WORKLOAD)
    first_tokens = [trace.token_times_s[0] for trace in run.traces]
    assert first_tokens[0] == first_tokens[1] == first_tokens[2] < first_tokens[3] == first_tokens[4]
    assert first_tokens[3] >= run.start_s + 0.3


@pytest.mark.parametrize("engine", ENGINES)
def test_a_failing_request_is_counted_failed_not_hung(tiny_gpt2, engine):
    # a token id past the vocabulary makes the embedding lookup raise inside the engine
    past_vocab = tiny_gpt2.config.vocab_size + 5
    bad = Workload(prompts=[[1, 2], [3, past_vocab, 4], [5, 6]], output_lengths=[3, 3, 3])
    began = time.perf_counter()
    run = ENGINES[engine](tiny_gpt2, bad, [0.0, 0.2, 0.4], timeout_s=30)
    assert time.perf_counter() - began < 20
    assert run.traces[0].ok  # served before the bad request came
    assert not run.traces[1].ok and "index out of range" in run.traces[1].error
    metrics = serving_metrics(run.traces, run.start_s, run.end_s)
    assert 1 <= metrics.failed and 1 in metrics.failed_indices
    assert metrics.completed + metrics.failed == 3


@pytest.mark.parametrize("engine", ENGINES)
def test_requests_past_the_timeout_fail_and_the_run_returns(tiny_gpt2, engine):
    slow = Workload(prompts=[[1, 2, 3]] * 3, output_lengths=[60, 60, 60])  # 63 of 64 positions
    began = time.perf_counter()
    run = ENGINES[engine](tiny_gpt2, slow, [0.0, 0.0, 5.0], timeout_s=0.005)
    assert time.perf_counter() - began < 15  # the warm-up and stopping included, not the 5 s send
    assert not any(trace.ok for trace in run.traces)
    assert all("timed out" in trace.error for trace in run.traces)
    assert all(trace.output_tokens < 60 for trace in run.traces)
    metrics = serving_metrics(run.traces, run.start_s, run.end_s)
    assert metrics.failed == 3 and metrics.ttft is None


@pytest.mark.parametrize("engine", ENGINES)
def test_bad_arguments_raise_naming_them(tiny_gpt2, engine):
    serve = ENGINES[engine]
    with pytest.raises(ValueError, match="unknown attention backend 'flash'|backend 'flash' cannot serve"):
        serve(tiny_gpt2, WORKLOAD, [0.0] * len(WORKLOAD), backend="flash")
    with pytest.raises(ValueError, match="offsets has 2 send times for a workload of 5"):
        serve(tiny_gpt2, WORKLOAD, [0.0, 0.0])
    with pytest.raises(ValueError, match="timeout_s must be a positive"):
        serve(tiny_gpt2, WORKLOAD, [0.0] * len(WORKLOAD), timeout_s=0)
