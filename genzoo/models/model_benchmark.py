"""The harness side of the end-to-end model benchmarks (bench/test_models.py): which points to run,
the calls they time, how far each backend's output is from eager's, and the row a timing becomes.

A point is (family, task, backend, dtype, knobs): task ``generate`` times one ``sample`` call
(images/s, or new tokens/s with and without the KV cache); task ``train_step`` one optimizer step.
The CPU runs the ``tiny`` presets (a short bench; Triton interpreted, never a speed figure), CUDA
the ``gpu`` presets. Models are built, not trained: speed does not depend on the weights, and the
output error of a backend is measured against eager on the same weights and seed.
"""

from __future__ import annotations

import dataclasses
import resource
import zlib

import torch

from genzoo import tolerance
from genzoo.ceilings import dtype_name
from genzoo.kernels import triton_mode
from genzoo.measurement import Measurement
from genzoo.models import protocol, training

PRESET_BY_DEVICE = {"cpu": "tiny", "cuda": "gpu"}
DTYPES_BY_DEVICE = {"cpu": (torch.float32,), "cuda": (torch.float32, torch.bfloat16)}
TASKS = ("generate", "train_step")

# generation cases per device: small on the CPU (the interpreter runs every Triton kernel there)
GENERATE_KNOBS = {
    "cpu": {
        "llm": [
            {"n": 4, "new_tokens": 16, "use_cache": True},
            {"n": 4, "new_tokens": 16, "use_cache": False},
        ],
        "diffusion": [{"n": 2, "sampler": "ddim", "steps": 10, "guidance_scale": 2.0}],
        "gan": [{"n": 16}],
        "vae": [{"n": 16}],
    },
    "cuda": {
        "llm": [
            {"n": 8, "new_tokens": 128, "use_cache": True},
            {"n": 8, "new_tokens": 128, "use_cache": False},
        ],
        "diffusion": [{"n": 16, "sampler": "ddim", "steps": 50, "guidance_scale": 2.0}],
        "gan": [{"n": 256}],
        "vae": [{"n": 256}],
    },
}


@dataclasses.dataclass(frozen=True)
class ModelPoint:
    family: str
    task: str  # "generate" or "train_step"
    backend: str
    dtype: torch.dtype
    preset: str
    knobs: tuple[tuple[str, object], ...] = ()  # sample()'s knobs, generate only

    @property
    def case(self) -> str:
        return " ".join([self.task, *(f"{k}={v}" for k, v in self.knobs)])

    @property
    def id(self) -> str:
        return f"{self.family}-{self.backend}-{dtype_name(self.dtype)}-{self.case}".replace(" ", "-")

    @property
    def baseline_key(self) -> tuple[str, ...]:
        return ("model", self.family, self.preset, dtype_name(self.dtype), self.case)

    @property
    def interpreted(self) -> bool:
        return self.backend == "triton" and triton_mode.interpreted()

    def seed(self) -> int:
        """The same seed for every backend of a point: same noise, same prompts, same batches."""
        return zlib.crc32("/".join(self.baseline_key[1:]).encode()) % 2**31


def model_points(device: str, *, quick: bool = False, backends: list[str] | None = None) -> list[ModelPoint]:
    """family x task x dtype x backend (eager first, so speedups find their baseline)."""
    kind = torch.device(device).type
    preset = PRESET_BY_DEVICE[kind]
    points = []
    for name in protocol.names():
        family = protocol.get(name)
        chosen = [b for b in family.backends() if b == "eager" or backends is None or b in backends]
        cases = [("generate", tuple(k.items())) for k in GENERATE_KNOBS[kind][name]] + [("train_step", ())]
        for task, knobs in cases:
            # training runs in each preset's own precision (fp32, autocast on CUDA's gpu presets)
            dtypes = (torch.float32,) if task == "train_step" or quick else DTYPES_BY_DEVICE[kind]
            for dtype in dtypes:
                points += [ModelPoint(name, task, b, dtype, preset, knobs) for b in chosen]
    return points


class Workbench:
    """Models and data, built once per session and converted once per dtype, outside any timing."""

    def __init__(self, device: str):
        self.device = torch.device(device)
        self._data: dict[str, object] = {}
        self._models: dict[tuple, torch.nn.Module] = {}

    def data(self, family: str):
        if family not in self._data:
            self._data[family] = protocol.get(family).load_data()
        return self._data[family]

    def model(self, point: ModelPoint) -> torch.nn.Module:
        key = (point.family, point.preset, point.dtype)
        if key not in self._models:
            spec = protocol.get(point.family)
            base = self._models.get((point.family, point.preset, torch.float32))
            if base is None:
                base = spec.build(spec.config(point.preset)).to(self.device).eval()
                self._models[(point.family, point.preset, torch.float32)] = base
            self._models[key] = protocol.cast(base, point.dtype)
        return self._models[key]

    def generate(self, point: ModelPoint):
        """``() -> output`` for one ``sample`` call of the point."""
        family, model, knobs = protocol.get(point.family), self.model(point), dict(point.knobs)
        n = knobs.pop("n")
        return lambda: family.sample(model, n, point.seed(), **knobs)

    def train_step(self, point: ModelPoint):
        """``() -> losses`` for one optimizer step, on a fresh copy (training changes weights)."""
        spec = protocol.get(point.family)
        model = spec.build(spec.config(point.preset)).to(self.device).train()
        return spec.make_training_step(
            model, self.data(point.family), training.generator(point.seed(), self.device)
        )

    def error_output(self, point: ModelPoint, generated: torch.Tensor) -> torch.Tensor:
        """What a backend's error is measured on: the generated images; for the LLM the logits of
        held-out windows (sampled bytes flip where two logits nearly tie)."""
        if protocol.get(point.family).unit == "images":
            return generated.float()
        model, data = self.model(point), self.data(point.family)
        context = model.config.context
        windows = data.validation[: 2 * context].long().view(2, context).to(self.device)
        with torch.no_grad():
            return model(windows).float()


def units_per_call(point: ModelPoint) -> int:
    knobs = dict(point.knobs)
    if point.task == "train_step":
        return 1
    return protocol.get(point.family).units_generated(knobs["n"], knobs)


def peak_memory_bytes(fn, device: str) -> tuple[int, str]:
    """(bytes, what they are): CUDA's allocator peak during one more ``fn()``; on the CPU the
    process's resident high-water mark so far (Linux ru_maxrss, ``fn`` not run again): an upper
    bound, not per call."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        fn()
        torch.cuda.synchronize()
        return torch.cuda.max_memory_allocated(), "cuda max_memory_allocated during the call"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "process peak RSS so far (ru_maxrss)"


@dataclasses.dataclass(frozen=True)
class OutputError:
    error: float | None  # vs eager float32, relative (genzoo.tolerance.relative_error)
    limit: float | None

    @property
    def within_tolerance(self) -> bool | None:
        return None if self.limit is None else self.error <= self.limit


def output_error(point: ModelPoint, output: torch.Tensor, eager_outputs: dict) -> OutputError:
    """Error against eager fp32, within ``tolerance.model_error_limit``; eager itself is the baseline."""
    key = (point.family, point.preset, point.case)
    if point.backend == "eager":
        eager_outputs[(*key, point.dtype)] = output
    reference = eager_outputs.get((*key, torch.float32))
    if reference is None:
        return OutputError(None, None)
    error = tolerance.relative_error(output, reference)
    if point.backend == "eager":
        return OutputError(error, None)
    eager_same_dtype = eager_outputs.get((*key, point.dtype))
    eager_error = None if eager_same_dtype is None else tolerance.relative_error(eager_same_dtype, reference)
    return OutputError(error, tolerance.model_error_limit(point.dtype, eager_error))


def measurement(point: ModelPoint, median_s: float, q1_s: float, q3_s: float, rounds: int,
                accuracy: OutputError, eager_median_s: float | None, peak: tuple[int, str]) -> Measurement:  # fmt: skip
    """The row: throughput (units per second) or step latency, speedup only where trustworthy."""
    trusted = not point.interpreted and accuracy.within_tolerance is not False
    speedup = eager_median_s / median_s if trusted and eager_median_s and point.backend != "eager" else None
    notes = [f"preset={point.preset}", f"peak memory: {peak[1]}"]
    if point.interpreted:
        notes.append("interpreted: no speed figure")
    if point.task == "train_step":
        metric, unit, value, p20, p80 = "train_step_latency", "s", median_s, q1_s, q3_s
    else:
        units = units_per_call(point)
        unit = f"{protocol.get(point.family).unit}/s"
        metric, value, p20, p80 = (
            f"{protocol.get(point.family).unit}_per_s",
            units / median_s,
            units / q3_s,
            units / q1_s,
        )
    return Measurement(
        kind="model", subject=point.family, backend=point.backend, dtype=dtype_name(point.dtype), case=point.case,
        metric=metric, value=value, unit=unit, p20=p20, p80=p80, rounds=rounds, speedup_vs_eager=speedup,
        error=accuracy.error, error_limit=accuracy.limit, within_tolerance=accuracy.within_tolerance,
        interpreted=point.interpreted, samples=dict(point.knobs).get("n"), note="; ".join(notes),
    )  # fmt: skip
