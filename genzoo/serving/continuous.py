"""Serving through ``transformers``' continuous batching, in process, streamed token by token.

``model.init_continuous_batching`` builds a ``ContinuousBatchingManager``: a background thread that
schedules every step afresh over a paged KV cache (requests join and leave between steps, long
prefills are split into chunks of ``max_batch_tokens``). This thread of ours is the client: it sends
each request with ``add_request(..., streaming=True)`` at its send time and, between sends, reads the
manager's output queue with ``get_result``, stamping each streamed output (one new token per
request per step) with ``time.perf_counter()`` as it arrives, as vLLM's client stamps each chunk.
The API used (``init_continuous_batching``, ``ContinuousBatchingConfig(num_blocks=...,
max_batch_tokens=...)``, ``start``, ``add_request``, ``get_result``, ``cancel_request``,
``is_running``, ``stop``) is the one ``generate_batch`` itself is built on; it reads the same in
transformers 5.24 and in the earlier 5.x source checked (``page_size``, which sizes the cache here,
replaced ``block_size`` in 5.17).

Attention: the manager accepts only ``sdpa``, ``eager`` (run as ``paged|eager``) and the flash
implementations (``switch_to_cb_friendly_attn``); ``genzoo`` is refused, and would be wrong anyway:
the manager packs every request of a step into one sequence and keeps them apart with an additive
float block-diagonal mask (``build_attention_mask``) that only ``paged|eager`` and ``sdpa`` are
given. Any other implementation gets no mask, and genzoo's attention, seeing none, attends causally
across the packed requests (with the name check bypassed it generates different tokens from
``generate``). The same packing makes sdpa and eager attend densely over every key of the step, so
a decode step of B requests does about B times the attention work of a static batch: flash
attention's variable-length kernels are what continuous batching is built for. ``auto_switch_to_flash``
is turned off so that a machine with flash-attn installed still runs the backend a row names.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence

import torch
from transformers import PreTrainedModel
from transformers.generation import ContinuousBatchingConfig, GenerationConfig

from genzoo.serving.served import (
    RequestLog,
    ServedRun,
    attention_backend,
    check_offsets,
    check_timeout,
    finish_run,
    request_logs,
)
from genzoo.serving.workload import Workload

NO_EOS = -1  # transformers' RequestState keeps only non-negative EOS ids: -1 disables EOS (--ignore-eos)
POLL_S = 0.05  # longest wait on the output queue before checking the manager's thread is alive
SERVABLE_BACKENDS = ("eager", "sdpa")
WARM_UP_ID = "warm-up"


@dataclasses.dataclass(frozen=True)
class ContinuousBatchingSettings:
    max_batch_tokens: int = 256  # tokens per forward pass: vLLM's max_num_batched_tokens (chunked prefill)
    cache_blocks: int | None = None  # KV cache pages; None: enough to hold every request at once
    stop_timeout_s: float = 10.0  # how long stopping waits for the generation thread

    def __post_init__(self) -> None:
        if self.max_batch_tokens < 1:
            raise ValueError(f"max_batch_tokens must be >= 1, got {self.max_batch_tokens}")
        if self.cache_blocks is not None and self.cache_blocks < 1:
            raise ValueError(f"cache_blocks must be >= 1 or None, got {self.cache_blocks}")


def _batching_config(workload: Workload, settings: ContinuousBatchingSettings) -> ContinuousBatchingConfig:
    blocks = settings.cache_blocks
    if blocks is None:
        # sized from the workload, not from free memory: on CPU transformers would reserve most of RAM
        page = ContinuousBatchingConfig().page_size  # tokens one block holds per layer
        lengths = [len(p) + n for p, n in zip(workload.prompts, workload.output_lengths)]
        blocks = sum(math.ceil(length / page) for length in lengths) + 1  # + 1: the warm-up request
    config = ContinuousBatchingConfig(num_blocks=blocks, max_batch_tokens=settings.max_batch_tokens)
    if hasattr(config, "auto_switch_to_flash"):  # where transformers may switch sdpa to flash on its own
        config.auto_switch_to_flash = False
    return config


def _warm_up(manager, workload: Workload, timeout_s: float) -> None:
    """One short request before the clock starts: the first forward passes allocate and are slow."""
    # token 0 exists in every vocabulary: a workload's own bad request must fail in the run, not here
    prompt = [0] * len(workload.prompts[0])
    manager.add_request(prompt, request_id=WARM_UP_ID, max_new_tokens=2, eos_token_id=NO_EOS)
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        result = manager.get_result(timeout=POLL_S)
        if result is not None and result.is_finished():
            if result.error is not None:
                raise RuntimeError(f"the continuous batching warm-up request failed: {result.error}")
            return
        if result is None and not manager.is_running():
            raise RuntimeError("the continuous batching generation thread stopped during the warm-up")
    raise RuntimeError(f"the continuous batching warm-up request did not finish in {timeout_s} s")


def _record(log: RequestLog, result, arrived_s: float) -> bool:
    """Log one streamed output of the request; whether the request is over (finished or failed)."""
    new_tokens = len(result.generated_tokens) - log.output_tokens
    if new_tokens > 0:  # a chunk that carries output, as vLLM counts chunks
        log.token_times_s.append(arrived_s)
        log.output_tokens += new_tokens
    log.output_ids = list(result.generated_tokens)  # each streamed output holds every token so far
    if result.error is not None:
        log.fail(result.error)
    log.finished = result.is_finished()
    return log.finished


class _Client:
    """Sends the workload's requests at their send times and logs what streams back."""

    def __init__(self, manager, workload: Workload, offsets: Sequence[float], timeout_s: float):
        self.manager, self.workload, self.offsets, self.timeout_s = manager, workload, offsets, timeout_s
        self.logs = request_logs(workload)
        self.index = {f"request-{i}": i for i in range(len(workload))}
        self.open: set[int] = set()  # sent, not over
        self.next_request = 0  # the first request not sent yet

    def send_due(self, start_s: float) -> None:
        workload, i = self.workload, self.next_request
        while i < len(workload) and start_s + self.offsets[i] <= time.perf_counter():
            self.logs[i].sent_s = time.perf_counter()
            accepted = self.manager.add_request(
                list(workload.prompts[i]),
                request_id=f"request-{i}",
                max_new_tokens=workload.output_lengths[i],
                streaming=True,
                eos_token_id=NO_EOS,
            )
            if accepted is None:  # transformers drops requests once its generation thread has died
                self.logs[i].fail("refused: the continuous batching generation thread had stopped")
            else:
                self.open.add(i)
            i += 1
        self.next_request = i

    def receive(self, timeout_s: float) -> bool:
        """Read one output, waiting at most ``timeout_s``; False when the generation thread is gone."""
        result = self.manager.get_result(timeout=timeout_s)
        if result is None:
            return self.manager.is_running()
        index = self.index.get(result.request_id)  # None for the warm-up request
        if index is not None and _record(self.logs[index], result, time.perf_counter()):
            self.open.discard(index)
        return True

    def fail_the_rest(self, open_error: str, unsent_error: str) -> None:
        for i in self.open:
            self.logs[i].fail(open_error)
            self.manager.cancel_request(f"request-{i}")
        self.open.clear()
        for i in range(self.next_request, len(self.workload)):
            self.logs[i].fail(unsent_error)
        self.next_request = len(self.workload)

    def run(self) -> ServedRun:
        start_s = time.perf_counter()
        deadline = start_s + self.timeout_s
        while self.next_request < len(self.workload) or self.open:
            if time.perf_counter() >= deadline:
                after = f"{self.timeout_s} s after the run's start"
                self.fail_the_rest(f"timed out: not finished {after}", f"timed out: not sent {after}")
                break
            self.send_due(start_s)
            unsent = self.next_request < len(self.workload)
            next_send = start_s + self.offsets[self.next_request] if unsent else deadline
            wait = min(next_send, deadline) - time.perf_counter()
            if not self.receive(min(max(wait, 0.0), POLL_S)):
                stopped = "the continuous batching generation thread stopped"
                self.fail_the_rest(stopped, f"refused: {stopped}")
        return finish_run(self.logs, start_s, self.manager.model.config._attn_implementation)


def serve_continuous(
    model: PreTrainedModel,
    workload: Workload,
    offsets: Sequence[float],
    *,
    backend: str = "sdpa",
    settings: ContinuousBatchingSettings = ContinuousBatchingSettings(),
    timeout_s: float = 600.0,
) -> ServedRun:
    """Serve ``workload`` with continuous batching, request ``i`` sent ``offsets[i]`` s after the start.

    Greedy decoding, EOS ignored. A request the manager fails (its error) or that is not over
    ``timeout_s`` after the start is a failed trace; the run itself never waits past ``timeout_s``
    (plus the warm-up and ``settings.stop_timeout_s``).
    """
    check_offsets(workload, offsets)
    check_timeout(timeout_s)
    if backend not in SERVABLE_BACKENDS:
        raise ValueError(
            f"backend {backend!r} cannot serve through transformers' continuous batching, which accepts "
            f"{SERVABLE_BACKENDS} (and flash attention) only; see genzoo.serving.continuous"
        )
    generation = GenerationConfig(
        do_sample=False, max_new_tokens=max(workload.output_lengths), eos_token_id=NO_EOS, pad_token_id=0
    )
    with attention_backend(model, backend), torch.inference_mode():
        manager = model.init_continuous_batching(
            generation_config=generation, continuous_batching_config=_batching_config(workload, settings)
        )
        running = model.config._attn_implementation
        if running not in (backend, f"paged|{backend}"):  # a row labelled sdpa must have run sdpa
            raise RuntimeError(f"continuous batching switched attention from {backend!r} to {running!r}")
        manager.start()
        try:
            _warm_up(manager, workload, timeout_s)
            return _Client(manager, workload, offsets, timeout_s).run()
        finally:
            manager.stop(block=True, timeout=settings.stop_timeout_s)
