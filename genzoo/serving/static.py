"""The baseline: serving with static batches of ``model.generate``, as before continuous batching.

The server loop takes every request that has arrived by its send time (at most ``max_batch_size``),
left-pads their prompts into one batch and runs ``generate`` on it to the longest output asked for;
requests that arrive meanwhile wait for the next batch. That is the batch-at-a-time serving that
continuous batching (Orca, Yu et al. OSDI 2022) was made to beat: a request waits for the batch in
flight, and a short request's slot idles until the longest one is done.

Token times come from a ``transformers`` ``BaseStreamer``: ``generate`` calls ``put`` once with the
prompt ids, then once per step with that step's token of every row, so each step's call is stamped
with ``time.perf_counter()`` and request ``i`` of the batch has its ``j``-th token at step ``j`` (it is
done after ``output_lengths[i]`` steps, though the batch runs on). Since this thread runs the
server, no client can send while ``generate`` runs: a request's send time is its scheduled time,
and the time it waited for the server counts in its TTFT, as vLLM's would.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

import torch
from transformers import GenerationConfig, PreTrainedModel, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

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

PAD_TOKEN = 0  # any id: padded positions are masked out


@dataclasses.dataclass(frozen=True)
class StaticBatchingSettings:
    max_batch_size: int = 32  # requests per generate call

    def __post_init__(self) -> None:
        if self.max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {self.max_batch_size}")


class _StepClock(BaseStreamer):
    """Stamps every decoding step of one ``generate`` call."""

    def __init__(self) -> None:
        self.prompt_seen = False
        self.step_times_s: list[float] = []

    def put(self, value: torch.Tensor) -> None:
        now = time.perf_counter()
        if not self.prompt_seen:  # the first call hands over the prompt ids, not a new token
            self.prompt_seen = True
            return
        self.step_times_s.append(now)

    def end(self) -> None:
        pass


class _Deadline(StoppingCriteria):
    """Ends ``generate`` at the run's timeout; the requests left short count as failed."""

    def __init__(self, deadline_s: float):
        self.deadline_s = deadline_s

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs) -> torch.Tensor:
        past = time.perf_counter() >= self.deadline_s
        return torch.full((input_ids.shape[0],), past, dtype=torch.bool, device=input_ids.device)


def _left_padded(prompts: Sequence[Sequence[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """input_ids and attention_mask [B, longest prompt], prompts flush right as decoder-only models need."""
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), PAD_TOKEN, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        ids[row, width - len(prompt) :] = torch.tensor(prompt)
        mask[row, width - len(prompt) :] = 1
    return ids.to(device), mask.to(device)


def _generate_batch(
    model: PreTrainedModel, prompts, new_tokens: int, deadline_s: float
) -> tuple[torch.Tensor, _StepClock]:
    """Runs one static batch: the new tokens [B, steps run] and the clock holding the step times.
    Raises what ``generate`` raises."""
    ids, mask = _left_padded(prompts, model.device)
    clock = _StepClock()
    config = GenerationConfig(
        do_sample=False,
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,  # suppresses EOS: every request gets the length it asked for
        pad_token_id=PAD_TOKEN,
    )
    stopping = StoppingCriteriaList([_Deadline(deadline_s)])
    sequences = model.generate(
        ids, attention_mask=mask, generation_config=config, streamer=clock, stopping_criteria=stopping
    )
    return sequences[:, ids.shape[1] :].cpu(), clock


def _serve_batch(model, workload: Workload, batch: list[int], logs: list[RequestLog], deadline_s: float):
    lengths = [workload.output_lengths[i] for i in batch]
    try:
        new_ids, clock = _generate_batch(
            model, [workload.prompts[i] for i in batch], max(lengths), deadline_s
        )
    except Exception as error:  # the whole batch fails together, as it would on a static server
        for i in batch:
            logs[i].fail(f"{type(error).__name__}: {error}")
        return
    for row, (i, length) in enumerate(zip(batch, lengths)):
        log = logs[i]
        log.token_times_s = clock.step_times_s[:length]
        log.output_tokens = len(log.token_times_s)
        log.output_ids = new_ids[row, : log.output_tokens].tolist()
        log.finished = log.output_tokens == length
        if not log.finished:
            log.fail(f"timed out: {log.output_tokens} of {length} tokens when generate was stopped")


def serve_static(
    model: PreTrainedModel,
    workload: Workload,
    offsets: Sequence[float],
    *,
    backend: str = "sdpa",
    settings: StaticBatchingSettings = StaticBatchingSettings(),
    timeout_s: float = 600.0,
) -> ServedRun:
    """Serve ``workload`` in static batches, request ``i`` arriving ``offsets[i]`` s after the start.

    Greedy decoding, EOS suppressed. A batch whose ``generate`` raises fails every request in it; a
    request not done ``timeout_s`` after the start (``generate`` is stopped there) is a failed trace.
    """
    check_offsets(workload, offsets)
    check_timeout(timeout_s)
    with attention_backend(model, backend), torch.inference_mode():
        # warm-up before the clock starts: the first forward passes allocate and are slow
        _generate_batch(model, [[PAD_TOKEN] * len(workload.prompts[0])], 2, time.perf_counter() + timeout_s)
        logs = request_logs(workload)
        start_s = time.perf_counter()
        deadline_s = start_s + timeout_s
        next_request = 0
        while next_request < len(workload) and time.perf_counter() < deadline_s:
            until_arrival = start_s + offsets[next_request] - time.perf_counter()
            if until_arrival > 0:  # idle until the next request arrives
                time.sleep(max(0.0, min(until_arrival, deadline_s - time.perf_counter())))
                continue
            batch = [next_request]
            while (
                len(batch) < settings.max_batch_size
                and batch[-1] + 1 < len(workload)
                and start_s + offsets[batch[-1] + 1] <= time.perf_counter()
            ):
                batch.append(batch[-1] + 1)
            for i in batch:
                logs[i].sent_s = start_s + offsets[i]
            _serve_batch(model, workload, batch, logs, deadline_s)
            next_request = batch[-1] + 1
        for i in range(next_request, len(workload)):
            logs[i].fail(f"timed out: not served {timeout_s} s after the run's start")
        return finish_run(logs, start_s, model.config._attn_implementation)
