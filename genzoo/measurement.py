"""The one row format of every result genzoo writes: one row per measurement, long format.

Benchmarks of ops and models, sweeps, training runs and quality metrics all produce
``Measurement`` rows; the results store, the reports, the plots and ``genzoo compare`` read only
this table (with the environment fingerprint columns added), never a private structure.

A row's key is (kind, subject, backend, dtype, case, metric). ``value`` is the median and
``p20``/``p80`` the 20th and 80th percentiles where the quantity was repeated. ``case`` is a
label for people; the knobs behind it are structured (``knobs``, one ``knob_<name>`` column each
in the table), so that no reader ever parses a label. Whether a row may carry a speed claim is
decided by ``genzoo.harness.gate`` alone, from the side columns.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable

import pandas as pd

KINDS = ("op", "model", "sweep", "quality", "ceiling", "training", "cost")
KEY_COLUMNS = ("kind", "subject", "backend", "dtype", "case", "metric")
DIRECTIONS = ("lower", "higher", "")  # which way the metric is better; "" where it has a target instead
KNOB_PREFIX = "knob_"  # a knob ``steps`` is the table's column ``knob_steps``


@dataclasses.dataclass(frozen=True)
class Measurement:
    kind: str  # one of KINDS
    subject: str  # op name ("ddim_step") or family name
    backend: str  # "eager", "triton", "compile", "sdpa" ("-" where none applies)
    dtype: str  # "float32", "bfloat16", ... ("-" where none applies)
    case: str  # the input configuration, for people: "n=2^22", "B2 H16 N8192 D128", "steps=50 w=3"
    metric: str  # "latency", "images_per_s", "fid", "copy_bandwidth", ...
    value: float
    unit: str  # "s", "GB/s", "TFLOP/s", "images/s", "" (dimensionless)
    better: str = ""  # one of DIRECTIONS, declared where the metric is defined
    p20: float | None = None  # 20th percentile of the repeated quantity
    p80: float | None = None  # 80th percentile
    rounds: int | None = None
    throughput: float | None = None  # GB/s or TFLOP/s achieved, from the op's cost model
    throughput_unit: str | None = None
    fraction_of_ceiling: float | None = None  # throughput / the ceiling measured in the same run
    speedup_vs_eager: float | None = None  # eager median / this median; None unless trustworthy
    speedup_vs_vendor: float | None = None  # the vendor backend's (sdpa) median / this; likewise
    error: float | None = None  # output error against its reference (float64 for ops, eager fp32 for models)
    error_limit: float | None = None
    within_tolerance: bool | None = None
    quality_change: float | None = None  # relative change of the family's headline metric vs eager fp32
    quality_window: float | None = None  # how far it may move and still count as the same model
    within_quality_window: bool | None = None
    interpreted: bool = False  # Triton under its CPU interpreter: never a speed figure
    measured_on: str = ""  # device type the harness ran the point on ("cpu", "cuda")
    samples: int | None = None  # N: generated samples (or sequences) behind a quality number
    seeds: str = ""  # the sampling or training seeds behind it, e.g. "1000-1003"
    ci_low: float | None = None  # 95% interval of ``value``, where one was computed
    ci_high: float | None = None
    knobs: tuple[tuple[str, object], ...] = ()  # (name, value) of the settings that made the point
    note: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Measurement.kind must be one of {KINDS}, got {self.kind!r}")
        if not isinstance(self.value, (int, float)) or math.isnan(self.value):
            raise ValueError(f"Measurement.value must be a number, got {self.value!r} for {self.key()}")
        if self.better not in DIRECTIONS:
            raise ValueError(f"Measurement.better must be one of {DIRECTIONS}, got {self.better!r}")

    def key(self) -> tuple[str, ...]:
        return tuple(getattr(self, column) for column in KEY_COLUMNS)


# the table's columns of a Measurement: every field but ``knobs``, which becomes knob_<name> columns
COLUMNS = tuple(field.name for field in dataclasses.fields(Measurement) if field.name != "knobs")


def to_frame(rows: Iterable[Measurement], fingerprint: dict[str, object] | None = None) -> pd.DataFrame:
    """Measurements as a DataFrame, each knob a ``knob_<name>`` column, with the fingerprint's
    fields as constant columns."""
    records = []
    for row in rows:
        record = {name: getattr(row, name) for name in COLUMNS}
        record.update({f"{KNOB_PREFIX}{name}": value for name, value in row.knobs})
        records.append(record)
    frame = pd.DataFrame(records)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    for column, value in (fingerprint or {}).items():
        frame[column] = value
    return frame


def knob_columns(frame: pd.DataFrame) -> list[str]:
    return [column for column in frame.columns if column.startswith(KNOB_PREFIX)]
