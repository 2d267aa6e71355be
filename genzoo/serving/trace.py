"""What the client saw of one request of a serving benchmark, and the checks it must pass.

A trace is the client-side record that vLLM's benchmark keeps per request (``RequestFuncOutput`` in
``vllm/benchmarks/lib/endpoint_request_func.py``, formerly ``benchmarks/backend_request_func.py``):
when the request was sent, when each streamed chunk arrived, how many tokens went in and came out,
and whether it succeeded. Every time is an absolute reading of one monotonic clock
(``time.perf_counter()``), the same clock as the benchmark's start and end, so that a mixed-up
clock (offsets relative to the send time, say) shows up as an error rather than as a latency.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence


@dataclasses.dataclass(frozen=True)
class RequestTrace:
    """One request as the client saw it.

    ``token_times_s`` holds the arrival time of every streamed chunk that carried output (vLLM counts
    a chunk with ``choices`` as a token; a chunk may bundle several tokens, which is why
    ``output_tokens``, the server's ``usage.completion_tokens``, is given separately). A failed
    request (``ok=False``) keeps what it received, possibly nothing, and its ``error``.
    """

    sent_s: float
    token_times_s: tuple[float, ...]
    prompt_tokens: int
    output_tokens: int
    ok: bool = True
    error: str = ""

    def __post_init__(self) -> None:
        # a list passed by the caller becomes a tuple, so that a trace stays immutable and hashable
        object.__setattr__(self, "token_times_s", tuple(self.token_times_s))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_window(start_s: float, end_s: float) -> float:
    """The benchmark's duration, after checking that its start and end are finite and in order."""
    for name, value in (("start_s", start_s), ("end_s", end_s)):
        if not _is_number(value) or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number of seconds, got {value!r}")
    if end_s <= start_s:
        raise ValueError(f"end_s = {end_s!r} must be after start_s = {start_s!r}")
    return end_s - start_s


def check_trace(index: int, trace: RequestTrace, start_s: float, end_s: float) -> None:
    """Raise ValueError naming ``traces[index]`` and the field when the trace cannot be true."""
    where = f"traces[{index}]"
    if not isinstance(trace, RequestTrace):
        raise ValueError(f"{where} must be a RequestTrace, got {type(trace).__name__}")
    if not _is_number(trace.sent_s) or not math.isfinite(trace.sent_s):
        raise ValueError(f"{where}.sent_s must be a finite number of seconds, got {trace.sent_s!r}")
    if trace.sent_s < start_s:
        raise ValueError(f"{where}.sent_s = {trace.sent_s!r} is before the benchmark's start_s = {start_s!r}")
    if not isinstance(trace.ok, bool):
        raise ValueError(f"{where}.ok must be a bool, got {trace.ok!r}")
    for name in ("prompt_tokens", "output_tokens"):
        if not _is_count(getattr(trace, name)):
            raise ValueError(f"{where}.{name} must be a non-negative int, got {getattr(trace, name)!r}")
    _check_token_times(where, trace.token_times_s, trace.sent_s, end_s)
    if trace.ok and not trace.token_times_s:
        # vLLM marks such a request failed ("Never received a valid chunk to calculate TTFT")
        raise ValueError(f"{where}.token_times_s is empty for a request marked ok: it has no TTFT")
    if trace.ok and trace.output_tokens < 1:
        raise ValueError(f"{where}.output_tokens = {trace.output_tokens} for a request marked ok")


def _check_token_times(where: str, times: Sequence[float], sent_s: float, end_s: float) -> None:
    previous = sent_s
    for j, time in enumerate(times):
        field = f"{where}.token_times_s[{j}]"
        if not _is_number(time) or not math.isfinite(time):
            raise ValueError(f"{field} must be a finite number of seconds, got {time!r}")
        if j == 0 and time < sent_s:
            raise ValueError(f"{field} = {time!r} is before the request's sent_s = {sent_s!r}")
        if time < previous:
            raise ValueError(f"{field} = {time!r} is before token_times_s[{j - 1}] = {previous!r}")
        previous = time
    if times and times[-1] > end_s:
        last = f"{where}.token_times_s[{len(times) - 1}] = {times[-1]!r}"
        raise ValueError(f"{last} is after the benchmark's end_s = {end_s!r}")
