"""The LLM's kernel swaps are judged on the path that is timed: the greedy tokens of the KV-cache
decode, and teacher-forced next-token agreement and logit KL on held-out windows, against eager
float32; under Triton's interpreter on a short path and one window, so that it costs seconds."""

from __future__ import annotations

import pytest

from genzoo import sweeps
from genzoo.measurement import to_frame
from genzoo.models import protocol
from genzoo.sweeps import plan, runner


@pytest.fixture(scope="module")
def llm_rows():
    return to_frame(sweeps.run_family("llm", "tiny", backends=("eager", "sdpa", "triton"), progress=False))


def _swap(rows, backend, metric):
    (row,) = rows[(rows["backend"] == backend) & (rows["metric"] == metric)].itertuples()
    return row


def test_a_vendor_backend_is_judged_on_greedy_tokens_and_teacher_forced_logits(llm_rows):
    greedy = _swap(llm_rows, "sdpa", "greedy_token_agreement")
    reference = plan.points(protocol.get("llm"), "tiny", ("eager",))[0].knob_dict
    assert greedy.samples == reference["n"]  # the timed batch, whole
    assert greedy.value == 1.0  # the same logits up to rounding: the same greedy tokens
    forced = _swap(llm_rows, "sdpa", "teacher_forced_agreement")
    assert forced.samples == runner.SWAP_WINDOWS and forced.value == 1.0
    kl = _swap(llm_rows, "sdpa", "logit_kl")
    assert 0 <= kl.value < 1e-6 and not kl.interpreted


def test_interpreted_triton_is_checked_on_one_window_and_a_short_decode(llm_rows):
    forced = _swap(llm_rows, "triton", "teacher_forced_agreement")
    assert forced.interpreted and forced.samples == runner.INTERPRETED_SWAP_WINDOWS
    assert "interpreted-swap" in forced.case
    greedy = _swap(llm_rows, "triton", "greedy_token_agreement")
    assert greedy.samples == plan.SETTINGS["tiny"].interpreted_swap_samples
    assert _swap(llm_rows, "triton", "logit_kl").value < 1e-6
    # and it gets no speed row: its timings are numpy's
    assert llm_rows[(llm_rows["backend"] == "triton") & (llm_rows["kind"] == "sweep")].empty
