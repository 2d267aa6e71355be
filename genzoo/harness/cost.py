"""What one generated sample costs, for every family on one table: FLOPs, bytes of weights and of
KV cache moved, and peak memory, per image or per completion of the same length (issue 14's
claim "LLMs: expensive").

    family = protocol.get("llm")
    cost = generation_cost(family, model, family.sweep_plan("cpu").reference, "cpu")
    rows = cost_rows("llm", model, family.sweep_plan("cpu").reference, "cpu", case="reference")

Everything is measured on one ``family.sample(model, n, seed, **knobs)`` call, never taken from a
formula of the architecture, and divided by the ``n`` samples it makes:

- FLOPs: ``torch.utils.flop_counter.FlopCounterMode``, which counts matrix products (mm, addmm,
  bmm, baddbmm: 2 per multiply-add), convolutions (transposed ones too) and the fused attention
  ops (sdpa's flash, efficient and cudnn kernels); elementwise ops, norms, softmax and sampling
  are not counted. The call runs on the eager backend (``kernels.use("eager")``): a Triton
  kernel is invisible to the counter, and the math, hence the count, is the same on every backend.
- Weight bytes: every module that holds parameters reads all of them once per call of its
  forward (an ``nn.Embedding`` only the rows it looks up), so a UNet called once per denoising
  step reads its weights once per step, whatever the batch: classifier-free guidance doubles
  the batch of each call, not the calls. Buffers (BatchNorm's running statistics) are not
  counted, nor parameters a module reads outside its own forward.
- KV cache (transformers models only): every ``Cache.update`` the call makes. Bytes per token
  are one token's keys and values over all layers (GPT-2: 2 x layers x width x bytes per
  element); bytes per sample are what the attention reads through the cache, summed over the
  forward passes of the completion (prefill included): each pass reads the whole cached length.
- Peak memory: the most bytes of tensors alive at once during the call beyond those alive before
  it (the weights): on CUDA the allocator's ``max_memory_allocated``; on the CPU, which keeps no
  allocator statistics (and whose RSS high-water mark is per process, not per call), the
  storages the call's ops return, tracked by a dispatch mode (kernels' internal scratch unseen).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator, Mapping
from typing import Any
from unittest import mock

import torch
from torch import nn
from torch.multiprocessing.reductions import StorageWeakRef
from torch.utils import _pytree as pytree
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import FlopCounterMode

from genzoo import kernels
from genzoo.harness.ceilings import dtype_name
from genzoo.measurement import Measurement
from genzoo.models import protocol

KIND = "cost"
SEED = 0  # the costs do not depend on it; fixed so that a cost is reproducible to the byte


@dataclasses.dataclass(frozen=True)
class GenerationCost:
    """What one ``sample`` call of ``n`` samples cost, per sample (see the module docstring)."""

    family: str
    n: int
    dtype: str
    per_sample: str  # what one sample is: "image", "completion of 64 tokens"
    flops_per_sample: float
    weight_bytes_per_sample: float
    kv_cache_bytes_per_token: int | None  # None: the call kept no KV cache
    kv_cache_bytes_per_sample: float | None
    peak_memory_bytes_per_sample: float
    peak_memory_source: str  # how the peak was measured, for the row's note


class _WeightReads:
    """Bytes of parameters read by the forward calls of ``model``'s modules, while active."""

    def __init__(self, model: nn.Module):
        self.bytes = 0
        self._modules = [m for m in model.modules() if next(m.parameters(recurse=False), None) is not None]

    def _count(self, module: nn.Module, args: tuple, output: Any) -> None:
        if isinstance(module, nn.Embedding):  # a lookup reads only the rows it is asked for
            rows = args[0].unique().numel()
            self.bytes += rows * module.embedding_dim * module.weight.element_size()
        else:
            self.bytes += sum(p.numel() * p.element_size() for p in module.parameters(recurse=False))

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        handles = [m.register_forward_hook(self._count) for m in self._modules]
        try:
            yield
        finally:
            for handle in handles:
                handle.remove()


class _KVCacheReads:
    """The KV cache of transformers models: one token's bytes, and the bytes attention reads."""

    def __init__(self):
        self.bytes_per_token_by_layer: dict[int, int] = {}
        self.bytes_read = 0  # over every sequence of the batch

    @contextlib.contextmanager
    def active(self) -> Iterator[None]:
        # imported here: the image families never load transformers
        from transformers.cache_utils import Cache

        update = Cache.update

        def recording_update(cache, key_states, value_states, layer_idx, *args, **kwargs):
            keys, values = update(cache, key_states, value_states, layer_idx, *args, **kwargs)
            # keys, values: [B, H_kv, cached length, D], the whole cache of this layer after the update
            batch, _, length, _ = keys.shape
            layer_bytes = keys.numel() * keys.element_size() + values.numel() * values.element_size()
            self.bytes_per_token_by_layer[layer_idx] = layer_bytes // (batch * length)
            self.bytes_read += layer_bytes
            return keys, values

        with mock.patch.object(Cache, "update", recording_update):
            yield

    @property
    def bytes_per_token(self) -> int | None:
        return sum(self.bytes_per_token_by_layer.values()) if self.bytes_per_token_by_layer else None


class _LiveTensorBytes(TorchDispatchMode):
    """Peak bytes of the tensors alive at once among those the ops run inside it allocate: an
    output whose storage no input shares (not a view, not in place) is a new allocation, alive
    until its storage is freed."""

    def __init__(self):
        super().__init__()
        self._live: dict[int, tuple[StorageWeakRef, int]] = {}  # storage id -> (weak ref, bytes)
        self._live_bytes = 0  # may still hold storages freed since the last sweep: an upper bound
        self.peak_bytes = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        output = func(*args, **(kwargs or {}))
        inputs = {t.untyped_storage()._cdata for t in pytree.tree_leaves((args, kwargs)) if _is_dense(t)}
        for tensor in pytree.tree_leaves(output):
            if not _is_dense(tensor):
                continue
            storage = tensor.untyped_storage()
            if storage._cdata in inputs or storage._cdata in self._live:
                continue
            self._live[storage._cdata] = (StorageWeakRef(storage), storage.nbytes())
            self._live_bytes += storage.nbytes()
        # the bound can only pass the peak on a new allocation: sweep the freed ones only then
        if self._live_bytes > self.peak_bytes:
            self._sweep()
            self.peak_bytes = max(self.peak_bytes, self._live_bytes)
        return output

    def _sweep(self) -> None:
        for key, (ref, size) in list(self._live.items()):
            if ref.expired():
                del self._live[key]
                self._live_bytes -= size


def _is_dense(value: object) -> bool:
    return isinstance(value, torch.Tensor) and value.layout == torch.strided


@dataclasses.dataclass
class _PeakMemory:
    """Filled in when its block ends: the block's peak beyond what was allocated before it."""

    bytes: int = 0
    source: str = ""  # how it was measured


@contextlib.contextmanager
def _peak_memory(device: torch.device) -> Iterator[_PeakMemory]:
    peak = _PeakMemory()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        yield peak
        torch.cuda.synchronize(device)
        peak.bytes = torch.cuda.max_memory_allocated(device) - before
        peak.source = "cuda max_memory_allocated during the call, less what was allocated before"
        return
    with _LiveTensorBytes() as live:
        yield peak
    peak.bytes = live.peak_bytes
    peak.source = "peak bytes of the tensors the call's ops allocated (no allocator statistics on cpu)"


def generation_cost(
    family: protocol.Family,
    model: nn.Module,
    knobs: Mapping[str, Any],
    device: str | torch.device,
    samples: int | None = None,
) -> GenerationCost:
    """The cost per sample of one ``family.sample(model, n, SEED, **knobs)`` call on ``device``.

    ``knobs`` are ``sample``'s (a sweep plan's point); ``n`` is ``samples``, else ``knobs["n"]``,
    else the family's batch knob's default. A ``dtype`` knob converts a copy of the model first
    (``protocol.cast``), so that the counters see the network that runs."""
    knobs = dict(knobs)
    n = _batch_size(family, knobs.pop("n", None), samples)
    device = torch.device(device)
    if protocol.device_of(model).type != device.type:
        raise ValueError(f"the model is on {protocol.device_of(model)}, not on device={str(device)!r}")
    model = protocol.cast(model, knobs.pop("dtype", None))
    weights, kv_cache = _WeightReads(model), _KVCacheReads()
    flops = FlopCounterMode(display=False)
    with kernels.use("eager"), weights.active(), kv_cache.active(), _peak_memory(device) as peak, flops:
        family.sample(model, n, SEED, **knobs)
    tokens = family.units_generated(n, knobs) // n
    return GenerationCost(
        family=family.name,
        n=n,
        dtype=dtype_name(protocol.dtype_of(model)),
        per_sample="image" if family.unit == "images" else f"completion of {tokens} tokens",
        flops_per_sample=flops.get_total_flops() / n,
        weight_bytes_per_sample=weights.bytes / n,
        kv_cache_bytes_per_token=kv_cache.bytes_per_token,
        kv_cache_bytes_per_sample=kv_cache.bytes_read / n if kv_cache.bytes_per_token else None,
        peak_memory_bytes_per_sample=peak.bytes / n,
        peak_memory_source=peak.source,
    )


def _batch_size(family: protocol.Family, knob_n: int | None, samples: int | None) -> int:
    if knob_n is not None and samples is not None and knob_n != samples:
        raise ValueError(f"samples={samples} and knobs n={knob_n} disagree: give the batch size once")
    n = samples if samples is not None else knob_n if knob_n is not None else family.knob("n").default
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"the batch size n must be a positive integer, got {n!r}")
    return n


def cost_rows(
    family_name: str,
    model: nn.Module,
    knobs: Mapping[str, Any],
    device: str | torch.device,
    case: str,
) -> list[Measurement]:
    """``generation_cost`` as rows of kind "cost", one a metric, each lower is better: FLOPs,
    weight bytes and peak memory per sample, and for a model with a KV cache its bytes per token
    and per sample."""
    cost = generation_cost(protocol.get(family_name), model, knobs, device)
    common = dict(
        kind=KIND,
        subject=family_name,
        backend="eager",
        dtype=cost.dtype,
        case=case,
        better="lower",
        samples=cost.n,
        seeds=str(SEED),
        measured_on=torch.device(device).type,
        knobs=tuple(sorted({**knobs, "n": cost.n}.items())),
    )
    per_sample = f"per {cost.per_sample}"
    values = [
        ("flops_per_sample", cost.flops_per_sample, "FLOP", f"{per_sample}; matmul, conv and attention only"),
        ("weight_bytes_per_sample", cost.weight_bytes_per_sample, "B", per_sample),
        (
            "peak_memory_bytes_per_sample",
            cost.peak_memory_bytes_per_sample,
            "B",
            f"{per_sample}; {cost.peak_memory_source}",
        ),
    ]
    if cost.kv_cache_bytes_per_token is not None:
        values += [
            (
                "kv_cache_bytes_per_token",
                cost.kv_cache_bytes_per_token,
                "B",
                "keys and values of one token, all layers",
            ),
            (
                "kv_cache_bytes_per_sample",
                cost.kv_cache_bytes_per_sample,
                "B",
                f"{per_sample}; read by attention",
            ),
        ]
    return [
        Measurement(metric=metric, value=value, unit=unit, note=note, **common)
        for metric, value, unit, note in values
    ]
