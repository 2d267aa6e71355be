"""Op points: which to run, fresh inputs, how right each backend is, and the row a timing
becomes. Ops only declare what they are and what they cost (the registry); every metric (GB/s or
TFLOP/s, fraction of ceiling, speedup, error) is computed here, one way for all.
"""

from __future__ import annotations

import contextlib
import dataclasses
import zlib
from collections.abc import Callable

import torch

from genzoo import tolerance
from genzoo.harness import backends, gate, goals
from genzoo.harness.ceilings import Ceilings, dtype_name
from genzoo.harness.pipeline import Baselines
from genzoo.harness.timing import Timing
from genzoo.kernels import registry, triton_mode
from genzoo.measurement import Measurement

# Under Triton's interpreter a kernel runs at numpy speed: keep interpreted points small. They
# prove the triton backend works inside the harness; their timings are never a speed figure.
INTERPRETED_MAX_BYTES = 4 * 2**20


@dataclasses.dataclass(frozen=True)
class OpPoint:
    op: str
    backend: str
    dtype: torch.dtype
    case: registry.Case

    @property
    def id(self) -> str:
        return f"{self.op}-{self.backend}-{dtype_name(self.dtype)}-{self.case.label}"

    @property
    def baseline_key(self) -> tuple[str, str, str]:
        return (self.op, dtype_name(self.dtype), self.case.label)

    def median_key(self, backend: str | None = None) -> tuple[str, ...]:
        """Where this point's median (or another backend's, at the same point) is kept."""
        return (backend or self.backend, *self.baseline_key)

    @property
    def interpreted(self) -> bool:
        return self.backend == "triton" and triton_mode.interpreted()

    def seed(self) -> int:
        """A fixed seed per (op, dtype, case): every backend of a point sees the same inputs."""
        return zlib.crc32("/".join(self.baseline_key).encode())


def op_points(
    device: str,
    *,
    quick: bool = False,
    ops: list[str] | None = None,
    backends: list[str] | None = None,
    goals_only: bool = False,
) -> list[OpPoint]:
    """op x backend x dtype x case for ``device``; eager first, then the vendor backend, so that
    every speedup finds its two baselines measured."""
    kind = torch.device(device).type
    wanted = goals.goal_points() if goals_only else None
    points = []
    for op in registry.all_ops():
        if ops is not None and op.name not in ops:
            continue
        for case in op.bench_cases.get(kind, ()):
            if quick and not case.quick:
                continue
            for dtype in op.dtypes:
                if kind == "cpu" and dtype == torch.float16:
                    continue  # CPU fp16 kernels are emulated: not a configuration anyone runs
                if wanted is not None and (op.name, dtype_name(dtype), case.label) not in wanted:
                    continue
                for backend in sorted(op.backends, key=lambda b: (b != "eager", b != op.vendor_backend, b)):
                    if backends is None or backend in backends or backend == "eager":
                        points.append(OpPoint(op.name, backend, dtype, case))
    return points


@dataclasses.dataclass(frozen=True)
class Accuracy:
    error: float  # normwise relative error against the float64 reference
    eager_error: float | None  # eager's own error in the same dtype; None if eager ran out of memory
    limit: float

    @property
    def within_tolerance(self) -> bool:
        return self.error <= self.limit


def _first_tensor(result: object) -> torch.Tensor:
    return result[0] if isinstance(result, (tuple, list)) else result  # type: ignore[return-value]


def release_device_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


@dataclasses.dataclass(frozen=True)
class _Reference:
    key: tuple[str, str, str]
    output: torch.Tensor  # float64, kept on the CPU to leave the device's memory to the backends
    eager_error: float | None


class OpSubject:
    """One op point as a ``pipeline.Subject``."""

    def __init__(self, point: OpPoint, device: str, ceilings: Ceilings):
        self.point, self.device, self.ceilings = point, device, ceilings
        self.label = point.id
        self.op = registry.get(point.op)
        generator = torch.Generator().manual_seed(point.seed())
        self.call = self.op.make_call(point.case, point.dtype, device, generator)

    @property
    def too_slow_to_interpret(self) -> bool:
        return self.point.interpreted and self.op.cost(self.call).bytes_moved > INTERPRETED_MAX_BYTES

    def prepared(self) -> contextlib.AbstractContextManager[Callable[[], object]]:
        fn = backends.op_function(self.op, self.point.backend)

        def run() -> object:
            with torch.no_grad():
                return self.call.run(fn)

        return contextlib.nullcontext(run)

    def warm_up(self, run: Callable[[], object]) -> object:
        return run()

    def check(self, output: object, baselines: Baselines) -> Accuracy:
        """Error of the backend's output and of eager's against float64, on the same inputs."""
        reference = self._reference(baselines)
        error = tolerance.relative_error(_first_tensor(output), reference.output)
        return Accuracy(
            error, reference.eager_error, tolerance.error_limit(self.point.dtype, reference.eager_error)
        )

    def _reference(self, baselines: Baselines) -> _Reference:
        """The float64 reference and eager's error, computed once per (op, dtype, case): on a GPU
        grid the reference is the costliest call of a point. Only the latest is kept. Eager out of
        memory leaves its error unknown (the dtype's bound)."""
        kept = baselines.outputs.get("op reference")
        if kept is None or kept.key != self.point.baseline_key:
            baselines.outputs.pop("op reference", None)  # the previous one goes before the next is made
            with torch.no_grad():
                output = _first_tensor(self.call.run(self.op.reference)).cpu()
                try:
                    eager_error = tolerance.relative_error(
                        _first_tensor(self.call.run(self.op.eager)), output
                    )
                except torch.OutOfMemoryError:
                    release_device_memory()
                    eager_error = None
            kept = baselines.outputs["op reference"] = _Reference(
                self.point.baseline_key, output, eager_error
            )
        return kept

    def row(self, timing: Timing, accuracy: Accuracy, baselines: Baselines) -> Measurement:
        """Speed figures are left empty where the gate says no: a variant outside its tolerance, or
        interpreted, gets no speedup anywhere."""
        point = self.point
        if point.backend in ("eager", self.op.vendor_backend) and accuracy.within_tolerance:
            baselines.medians[point.median_key()] = timing.median_s
        eager_s = baselines.medians.get(point.median_key("eager"))
        vendor_s = (
            baselines.medians.get(point.median_key(self.op.vendor_backend))
            if self.op.vendor_backend
            else None
        )
        trusted = (
            gate.exclusion(interpreted=point.interpreted, within_tolerance=accuracy.within_tolerance) == ""
        )
        cost = self.op.cost(self.call)
        work = cost.bytes_moved / 1e9 if self.op.metric == "GB/s" else cost.flops / 1e12
        throughput = work / timing.median_s if trusted else None
        ceiling = self.ceilings.for_metric(self.op.metric, point.dtype)
        return Measurement(
            kind="op",
            subject=point.op,
            backend=point.backend,
            dtype=dtype_name(point.dtype),
            case=point.case.label,
            metric="latency",
            value=timing.median_s,
            unit="s",
            better="lower",
            p20=timing.p20_s,
            p80=timing.p80_s,
            rounds=timing.rounds,
            throughput=throughput,
            throughput_unit=self.op.metric,
            fraction_of_ceiling=throughput / ceiling if throughput is not None and ceiling else None,
            speedup_vs_eager=eager_s / timing.median_s if trusted and eager_s else None,
            speedup_vs_vendor=vendor_s / timing.median_s if trusted and vendor_s else None,
            error=accuracy.error,
            error_limit=accuracy.limit,
            within_tolerance=accuracy.within_tolerance,
            interpreted=point.interpreted,
            measured_on=torch.device(self.device).type,
            knobs=tuple(sorted(point.case.params.items())),
            note="interpreted: no speed figure" if point.interpreted else "",
        )


def ceiling_measurements(ceilings: Ceilings) -> list[Measurement]:
    common = dict(kind="ceiling", backend="-", better="higher", measured_on=ceilings.device)
    rows = [
        Measurement(
            subject="copy",
            dtype="float32",
            case="large copy",
            metric="copy_bandwidth",
            value=ceilings.copy_gbps,
            unit="GB/s",
            **common,
        )
    ]
    rows += [
        Measurement(
            subject="matmul",
            dtype=name,
            case="square matmul",
            metric=f"matmul_{name}",
            value=value,
            unit="TFLOP/s",
            **common,
        )
        for name, value in ceilings.matmul_tflops.items()
    ]
    return rows
