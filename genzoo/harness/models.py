"""Model points: a family's generation call or training step on one backend and dtype, as a
``pipeline.Subject``; and the grid of the end-to-end model benchmark (``bench/test_models.py``).

A point is (family, task, backend, dtype, preset, knobs): task ``generate`` times one ``sample``
call (images/s, or new tokens/s); task ``train_step`` one optimizer step. The benchmark grid runs
the ``tiny`` presets on the CPU (a short bench; Triton interpreted, never a speed figure) and the
``gpu`` presets on CUDA, on built, untrained models: speed does not depend on the weights, and a
backend's output is compared with eager fp32 on the same weights and seed. The sweeps
(``genzoo.sweeps``) time trained models through the same subject.
"""

from __future__ import annotations

import contextlib
import dataclasses
import resource
import zlib
from collections.abc import Callable, Iterator

import torch

from genzoo import tolerance
from genzoo.harness import backends, gate
from genzoo.harness.ceilings import dtype_name
from genzoo.harness.pipeline import Baselines
from genzoo.harness.timing import Timing
from genzoo.kernels import triton_mode
from genzoo.measurement import Measurement
from genzoo.models import protocol, training

PRESET_BY_DEVICE = {"cpu": "tiny", "cuda": "gpu"}
DTYPES_BY_DEVICE = {"cpu": (torch.float32,), "cuda": (torch.float32, torch.bfloat16)}


@dataclasses.dataclass(frozen=True)
class ModelPoint:
    family: str
    task: str  # "generate" or "train_step"
    backend: str
    dtype: torch.dtype
    preset: str
    knobs: tuple[tuple[str, object], ...] = ()  # sample()'s knobs (with n), generate only
    kind: str = "model"  # the rows' kind: "model" (the model benchmark) or "sweep"
    label: str = ""  # the rows' case, where the caller names it

    @property
    def case(self) -> str:
        return self.label or " ".join([self.task, *(f"{k}={v}" for k, v in self.knobs)])

    @property
    def id(self) -> str:
        return f"{self.family}-{self.backend}-{dtype_name(self.dtype)}-{self.case}".replace(" ", "-")

    @property
    def baseline_key(self) -> tuple[str, ...]:
        """Where eager float32's median of this point is kept: every backend and dtype is judged
        against it (a bf16 speedup is over eager fp32, as MLPerf judges a reduced precision)."""
        return ("model", self.family, self.preset, self.case)

    @property
    def interpreted(self) -> bool:
        return self.backend == "triton" and triton_mode.interpreted()

    @property
    def batch(self) -> int:
        return int(dict(self.knobs).get("n", 1))

    def seed(self) -> int:
        """The same seed for every backend and dtype of a point: same noise, prompts, batches."""
        return zlib.crc32("/".join(self.baseline_key[1:]).encode()) % 2**31


def model_points(device: str, *, quick: bool = False, backends: list[str] | None = None) -> list[ModelPoint]:
    """family x task x dtype x backend of the model benchmark (eager first: the baselines)."""
    kind = torch.device(device).type
    preset = PRESET_BY_DEVICE[kind]
    points = []
    for name in protocol.names():
        family = protocol.get(name)
        chosen = [b for b in family.backends() if b == "eager" or backends is None or b in backends]
        cases = [("generate", tuple(sorted(k.items()))) for k in family.benchmark_cases[kind]] + [
            ("train_step", ())
        ]
        for task, knobs in cases:
            # training runs in each preset's own precision (fp32, autocast on CUDA's gpu presets)
            dtypes = (torch.float32,) if task == "train_step" or quick else DTYPES_BY_DEVICE[kind]
            for dtype in dtypes:
                points += [ModelPoint(name, task, b, dtype, preset, knobs) for b in chosen]
    return points


@dataclasses.dataclass(frozen=True)
class OutputError:
    error: float | None  # vs eager float32, relative (genzoo.tolerance.relative_error)
    limit: float | None

    @property
    def within_tolerance(self) -> bool | None:
        return None if self.limit is None or self.error is None else self.error <= self.limit


def output_error(
    output: torch.Tensor, reference: torch.Tensor, eager_same_dtype: torch.Tensor | None, dtype: torch.dtype
) -> OutputError:
    """A variant's output against eager float32's (``reference``), within
    ``tolerance.model_error_limit``: in bf16/fp16 at most twice eager's own error in that dtype
    (``eager_same_dtype``: eager's output in it, where measured)."""
    eager_error = None if eager_same_dtype is None else tolerance.relative_error(eager_same_dtype, reference)
    return OutputError(
        tolerance.relative_error(output, reference), tolerance.model_error_limit(dtype, eager_error)
    )


class ModelSubject:
    """One model point as a ``pipeline.Subject``. ``model`` is the float32 model (trained or
    not); ``data`` the family's data set, for the training step and the LLM's error windows."""

    def __init__(self, point: ModelPoint, model: torch.nn.Module, data: object, device: str):
        self.point, self.model, self.data, self.device = point, model, data, device
        self.family = protocol.get(point.family)
        self.label = point.id
        self.net: torch.nn.Module | None = None  # the model on the point's backend, while prepared

    @contextlib.contextmanager
    def prepared(self) -> Iterator[Callable[[], object]]:
        point = self.point
        with backends.model_on_backend(self.model, point.backend, point.dtype) as net:
            self.net = net
            try:
                if point.task == "train_step":
                    generator = training.generator(point.seed(), self.device)
                    yield self.family.make_training_step(net.train(), self.data, generator)
                else:
                    knobs = dict(point.knobs)
                    n = knobs.pop("n")
                    yield lambda: self.family.sample(net, n, point.seed(), **knobs)
            finally:
                self.net = None

    def warm_up(self, run: Callable[[], object]) -> object:
        return run()

    def check(self, output: object, baselines: Baselines) -> OutputError:
        """Error against eager fp32 on the same weights and seed, within
        ``tolerance.model_error_limit``; eager float32 itself is the baseline."""
        point = self.point
        if point.task == "train_step":
            return OutputError(None, None)
        output = self._error_output(output)
        key = (point.family, point.preset, point.case)
        if point.backend == "eager":
            baselines.outputs[(*key, point.dtype)] = output
        reference = baselines.outputs.get((*key, torch.float32))
        if reference is None:
            return OutputError(None, None)
        if point.backend == "eager" and point.dtype == torch.float32:
            return OutputError(tolerance.relative_error(output, reference), None)
        return output_error(output, reference, baselines.outputs.get((*key, point.dtype)), point.dtype)

    def _error_output(self, generated: object) -> torch.Tensor:
        """What a backend's error is measured on: the generated images; for token families the
        logits of held-out windows (sampled tokens flip where two logits nearly tie)."""
        if self.family.unit == "images":
            return generated.float()
        context = self.net.config.context
        windows = self.data.validation[: 2 * context].long().view(2, context).to(self.device)
        with torch.no_grad():
            return self.net(windows).float()

    def row(self, timing: Timing, accuracy: OutputError, baselines: Baselines) -> Measurement:
        """Throughput (units per second) or step latency; speedup only where the gate allows."""
        point = self.point
        if point.backend == "eager" and point.dtype == torch.float32:
            baselines.medians[point.baseline_key] = timing.median_s
        eager_s = baselines.medians.get(point.baseline_key)
        trusted = (
            gate.exclusion(interpreted=point.interpreted, within_tolerance=accuracy.within_tolerance) == ""
        )
        notes = [f"preset={point.preset}"]
        if point.interpreted:
            notes.append("interpreted: no speed figure")
        common = dict(
            kind=point.kind,
            subject=point.family,
            backend=point.backend,
            dtype=dtype_name(point.dtype),
            case=point.case,
            rounds=timing.rounds,
            error=accuracy.error,
            error_limit=accuracy.limit,
            within_tolerance=accuracy.within_tolerance,
            interpreted=point.interpreted,
            measured_on=torch.device(self.device).type,
            knobs=point.knobs,
            note="; ".join(notes),
            speedup_vs_eager=eager_s / timing.median_s if trusted and eager_s else None,
        )
        if point.task == "train_step":
            return Measurement(
                metric="train_step_latency",
                value=timing.median_s,
                unit="s",
                better="lower",
                p20=timing.p20_s,
                p80=timing.p80_s,
                **common,
            )
        return throughput_row(self.family, point.batch, dict(point.knobs), timing, common)


def throughput_row(family: protocol.Family, n: int, knobs: dict, timing: Timing, common: dict) -> Measurement:
    """Units generated per second of a timed ``sample(model, n, **knobs)`` call."""
    units = family.units_generated(n, knobs)
    return Measurement(
        metric=f"{family.unit}_per_s",
        value=units / timing.median_s,
        unit=f"{family.unit}/s",
        better="higher",
        p20=units / timing.p80_s,
        p80=units / timing.p20_s,
        samples=n,
        **common,
    )


class Workbench:
    """Models and data of the model benchmark, built once per session."""

    def __init__(self, device: str):
        self.device = torch.device(device)
        self._data: dict[str, object] = {}
        self._models: dict[tuple, torch.nn.Module] = {}

    def data(self, family: str):
        if family not in self._data:
            self._data[family] = protocol.get(family).load_data()
        return self._data[family]

    def subject(self, point: ModelPoint) -> ModelSubject:
        """A generate point shares the built float32 model; a training step gets a fresh copy."""
        spec = protocol.get(point.family)
        key = (point.family, point.preset)
        if point.task == "train_step":
            model = spec.build(spec.config(point.preset)).to(self.device)
        else:
            if key not in self._models:
                self._models[key] = spec.build(spec.config(point.preset)).to(self.device).eval()
            model = self._models[key]
        return ModelSubject(point, model, self.data(point.family), str(self.device))


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
