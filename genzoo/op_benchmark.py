"""The harness side of an op benchmark: which points to run, how right each backend is, and the
row that a timing becomes. Ops only declare what they are and what they cost (the registry); every
metric (GB/s or TFLOP/s, fraction of ceiling, speedup, error) is computed here, one way for all.
"""

from __future__ import annotations

import dataclasses
import zlib

import torch

from genzoo import goals, tolerance
from genzoo.ceilings import Ceilings, dtype_name
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

    def seed(self) -> int:
        """A fixed seed per (op, dtype, case): every backend of a point sees the same inputs."""
        return zlib.crc32("/".join(self.baseline_key).encode())


def op_points(device: str, *, quick: bool = False, ops: list[str] | None = None,
              backends: list[str] | None = None, goals_only: bool = False) -> list[OpPoint]:  # fmt: skip
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


def is_interpreted(point: OpPoint) -> bool:
    return point.backend == "triton" and triton_mode.interpreted()


def make_call(point: OpPoint, device: str) -> registry.Call:
    generator = torch.Generator().manual_seed(point.seed())
    return registry.get(point.op).make_call(point.case, point.dtype, device, generator)


def too_slow_to_interpret(point: OpPoint, call: registry.Call) -> bool:
    return is_interpreted(point) and registry.get(point.op).cost(call).bytes_moved > INTERPRETED_MAX_BYTES


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


@dataclasses.dataclass(frozen=True)
class _Baseline:
    key: tuple[str, str, str]
    reference: torch.Tensor  # float64, kept on the CPU to leave the device's memory to the backends
    eager_error: float | None


_last_baseline: _Baseline | None = None


def _baseline(point: OpPoint, call: registry.Call) -> _Baseline:
    """The float64 reference and eager's error, computed once per (op, dtype, case): every backend
    of a point sees the same inputs (``OpPoint.seed``), and on a GPU grid the reference is the
    costliest call of a point. Eager out of memory leaves its error unknown (the dtype's bound)."""
    global _last_baseline
    if _last_baseline is None or _last_baseline.key != point.baseline_key:
        _last_baseline = None  # the previous reference goes before the next is computed
        op = registry.get(point.op)
        with torch.no_grad():
            reference = _first_tensor(call.run(op.reference)).cpu()
            try:
                eager_error = tolerance.relative_error(_first_tensor(call.run(op.eager)), reference)
            except torch.OutOfMemoryError:
                release_device_memory()
                eager_error = None
        _last_baseline = _Baseline(point.baseline_key, reference, eager_error)
    return _last_baseline


def release_device_memory() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def check_accuracy(point: OpPoint, call: registry.Call) -> Accuracy:
    """Error of ``point.backend`` and of eager against float64, on the same fresh inputs."""
    baseline = _baseline(point, call)
    with torch.no_grad():
        result = _first_tensor(call.run(registry.get(point.op).implementation(point.backend)))
        error = tolerance.relative_error(result, baseline.reference)
    return Accuracy(error, baseline.eager_error, tolerance.error_limit(point.dtype, baseline.eager_error))


def measurement(
    point: OpPoint,
    call: registry.Call,
    accuracy: Accuracy,
    median_s: float,
    p20_s: float,
    p80_s: float,
    rounds: int,
    ceilings: Ceilings,
    eager_median_s: float | None,
    vendor_median_s: float | None = None,
) -> Measurement:
    """The row for one timed point. Speed figures are left empty when the output was wrong or the
    kernel was interpreted: a variant outside its tolerance gets no speedup anywhere."""
    op = registry.get(point.op)
    cost = op.cost(call)
    work = cost.bytes_moved / 1e9 if op.metric == "GB/s" else cost.flops / 1e12
    interpreted = is_interpreted(point)
    trusted = accuracy.within_tolerance and not interpreted
    throughput = work / median_s if trusted else None
    ceiling = ceilings.for_metric(op.metric, point.dtype)
    return Measurement(
        kind="op",
        subject=point.op,
        backend=point.backend,
        dtype=dtype_name(point.dtype),
        case=point.case.label,
        metric="latency",
        value=median_s,
        unit="s",
        p20=p20_s,
        p80=p80_s,
        rounds=rounds,
        throughput=throughput,
        throughput_unit=op.metric,
        fraction_of_ceiling=throughput / ceiling if throughput is not None and ceiling else None,
        speedup_vs_eager=eager_median_s / median_s if trusted and eager_median_s else None,
        speedup_vs_vendor=vendor_median_s / median_s if trusted and vendor_median_s else None,
        error=accuracy.error,
        error_limit=accuracy.limit,
        within_tolerance=accuracy.within_tolerance,
        interpreted=interpreted,
        note="interpreted: no speed figure" if interpreted else "",
    )


def ceiling_measurements(ceilings: Ceilings) -> list[Measurement]:
    rows = [Measurement("ceiling", "copy", "-", "float32", "large copy", "copy_bandwidth", ceilings.copy_gbps, "GB/s")]
    rows += [
        Measurement("ceiling", "matmul", "-", name, "square matmul", f"matmul_{name}", value, "TFLOP/s")
        for name, value in ceilings.matmul_tflops.items()
    ]
    return rows
