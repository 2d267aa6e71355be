"""The one row format of every result genzoo writes: one row per measurement, long format.

Benchmarks of ops and models, sweeps and quality metrics all produce ``Measurement`` rows; the
results store, the reports, the plots and ``genzoo compare`` read only this table (with the
environment fingerprint columns added), never a private structure.

A row's key is (kind, subject, backend, dtype, case, metric). ``value`` is the median and
``p20``/``p80`` the spread where the quantity was repeated. The side columns say whether the row
may carry a speed claim: ``speedup_vs_eager`` (and ``speedup_vs_vendor``, against the vendor's
fused path where an op has one) is left empty when the output was outside its tolerance
(``within_tolerance`` False) or the run was interpreted.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import pandas as pd

KINDS = ("op", "model", "sweep", "quality", "ceiling")
KEY_COLUMNS = ("kind", "subject", "backend", "dtype", "case", "metric")


@dataclasses.dataclass(frozen=True)
class Measurement:
    kind: str  # one of KINDS
    subject: str  # op name ("ddim_step") or family ("diffusion")
    backend: str  # "eager", "triton", "compile", "sdpa" ("-" where none applies)
    dtype: str  # "float32", "bfloat16", ... ("-" where none applies)
    case: str  # the input configuration: "n=2^22", "B2 H16 N8192 D128", "ddim steps=50 w=3"
    metric: str  # "latency", "images_per_s", "fid", "copy_bandwidth", ...
    value: float
    unit: str  # "s", "GB/s", "TFLOP/s", "images/s", "" (dimensionless)
    p20: float | None = None
    p80: float | None = None
    rounds: int | None = None
    throughput: float | None = None  # GB/s or TFLOP/s achieved, from the op's cost model
    throughput_unit: str | None = None
    fraction_of_ceiling: float | None = None  # throughput / the ceiling measured in the same run
    speedup_vs_eager: float | None = None  # eager median / this median; None unless trustworthy
    speedup_vs_vendor: float | None = None  # the vendor backend's (sdpa) median / this; likewise
    error: float | None = None  # vs the float64 reference (ops), metric change vs eager fp32 (models)
    error_limit: float | None = None
    within_tolerance: bool | None = None
    interpreted: bool = False  # Triton under its CPU interpreter: never a speed figure
    samples: int | None = None  # number of generated samples / seeds behind a quality number
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Measurement.kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.value, (int, float)) or math.isnan(self.value):
            raise ValueError(f"Measurement.value must be a number, got {self.value!r} for {self.key()}")

    def key(self) -> tuple[str, ...]:
        return tuple(getattr(self, column) for column in KEY_COLUMNS)

    def may_claim_speed(self) -> bool:
        return not self.interpreted and self.within_tolerance is not False


def to_frame(rows: Iterable[Measurement], fingerprint: dict[str, object] | None = None) -> pd.DataFrame:
    """Measurements as a DataFrame, with the fingerprint's fields as constant columns."""
    frame = pd.DataFrame([dataclasses.asdict(row) for row in rows], columns=[f.name for f in dataclasses.fields(Measurement)])
    for column, value in (fingerprint or {}).items():
        frame[column] = value
    return frame
