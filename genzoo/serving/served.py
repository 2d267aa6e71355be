"""What both serving engines share: the record of a run, per-request logs, the attention backend.

An engine serves a ``Workload`` on a ``transformers`` model, sending request ``i`` at
``start_s + offsets[i]``, and returns a ``ServedRun``: one ``trace.RequestTrace`` per request (in the
workload's order), the run's window, which ``metrics.serving_metrics`` reads as vLLM's
``benchmark_duration``, and the tokens generated, so that a speed figure can stand beside proof that
the engine computed what plain ``generate`` does. Every time is a ``time.perf_counter()`` reading.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator, Sequence

from transformers import PreTrainedModel

from genzoo.serving.trace import RequestTrace
from genzoo.serving.workload import Workload

BACKENDS = ("eager", "sdpa", "genzoo")  # transformers' attn_implementation names a serving run may ask for


@dataclasses.dataclass(frozen=True)
class ServedRun:
    traces: tuple[RequestTrace, ...]
    start_s: float
    end_s: float
    attn_implementation: str  # what the model ran with: continuous batching serves "eager" as "paged|eager"
    output_ids: tuple[tuple[int, ...], ...]  # the tokens each request got: engines must agree on them


@dataclasses.dataclass
class RequestLog:
    """A request while it is served: filled in by the engine, frozen into a ``RequestTrace`` at the end."""

    prompt_tokens: int
    sent_s: float | None = None  # None until sent
    token_times_s: list[float] = dataclasses.field(default_factory=list)
    output_tokens: int = 0
    output_ids: list[int] = dataclasses.field(default_factory=list)
    finished: bool = False
    error: str = ""

    def fail(self, error: str) -> None:
        if not self.error:  # the first cause is the one worth reporting
            self.error = error

    def trace(self, start_s: float) -> RequestTrace:
        # a request never sent (its send time lay past a timeout) counts as sent at the start: it failed
        sent_s = start_s if self.sent_s is None else self.sent_s
        ok = self.finished and not self.error and self.output_tokens >= 1
        return RequestTrace(
            sent_s=sent_s,
            token_times_s=tuple(self.token_times_s),
            prompt_tokens=self.prompt_tokens,
            output_tokens=self.output_tokens,
            ok=ok,
            error=self.error,
        )


def request_logs(workload: Workload) -> list[RequestLog]:
    return [RequestLog(prompt_tokens=len(prompt)) for prompt in workload.prompts]


def finish_run(logs: Sequence[RequestLog], start_s: float, attn_implementation: str) -> ServedRun:
    end_s = time.perf_counter()
    return ServedRun(
        traces=tuple(log.trace(start_s) for log in logs),
        start_s=start_s,
        end_s=end_s,
        attn_implementation=attn_implementation,
        output_ids=tuple(tuple(log.output_ids) for log in logs),
    )


def check_offsets(workload: Workload, offsets: Sequence[float]) -> None:
    if len(offsets) != len(workload):
        raise ValueError(f"offsets has {len(offsets)} send times for a workload of {len(workload)} requests")
    if any(later < earlier for earlier, later in zip(offsets, offsets[1:])) or min(offsets) < 0:
        raise ValueError("offsets must be non-negative and non-decreasing (send times from the start)")


def check_timeout(timeout_s: float) -> None:
    if not isinstance(timeout_s, (int, float)) or isinstance(timeout_s, bool) or not timeout_s > 0:
        raise ValueError(f"timeout_s must be a positive number of seconds, got {timeout_s!r}")


@contextlib.contextmanager
def attention_backend(model: PreTrainedModel, backend: str) -> Iterator[None]:
    """Run the block with ``attn_implementation=backend``, restoring the model's own afterwards."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown attention backend {backend!r}; choose from {BACKENDS}")
    if backend == "genzoo":
        # registers attn_implementation="genzoo"; imported here because it loads genzoo's kernels
        import genzoo.integrations.transformers_attention  # noqa: F401
    original = model.config._attn_implementation
    model.set_attn_implementation(backend)
    try:
        yield
    finally:
        model.set_attn_implementation(original)
