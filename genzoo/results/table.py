"""The measurement table as every reader sees it, whatever file it came from: each column of
``genzoo.measurement.Measurement`` in its proper type, a ``machine`` label per row, and how a
value is shown to people.

The column types follow the dataclass's annotations, so a field added to ``Measurement`` is typed
here without a second list to keep in step (and an annotation this module cannot type fails at
import, not as a silently untyped column).
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from genzoo.measurement import COLUMNS, Measurement

MEASUREMENT_COLUMNS = COLUMNS  # every field but ``knobs``, which the table holds as knob_<name> columns
# Columns the loaders add beside the measurement, knob and fingerprint columns.
PROVENANCE_COLUMNS = ("run", "stage", "benchmark", "machine", "raw_times")

_KIND_OF_ANNOTATION = {
    "float": "float", "float | None": "float", "int | None": "count",
    "bool | None": "judgement", "bool": "flag", "str": "text", "str | None": "text",
}


def _column_kinds() -> dict[str, str]:
    kinds = {}
    for field in dataclasses.fields(Measurement):
        if field.name not in COLUMNS:
            continue
        if field.type not in _KIND_OF_ANNOTATION:
            raise TypeError(f"Measurement.{field.name}: no table type for the annotation {field.type!r}")
        kinds[field.name] = _KIND_OF_ANNOTATION[field.type]
    return kinds


COLUMN_KINDS = _column_kinds()


def typed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with its measurement columns in their proper types (floats with NaN for "none",
    nullable counts and judgements, text with "" for none), and ``machine`` filled in."""
    frame = frame.copy()
    for column, kind in COLUMN_KINDS.items():
        values = (
            frame[column] if column in frame.columns else pd.Series(None, index=frame.index, dtype=object)
        )
        if kind == "float":
            frame[column] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif kind == "count":
            frame[column] = pd.to_numeric(values, errors="coerce").round().astype("Int64")
        elif kind == "text":
            frame[column] = values.map(lambda v: "" if is_missing(v) else str(v)).astype(object)
        elif kind == "judgement":
            frame[column] = values.map(_to_bool).astype("boolean")
        else:
            frame[column] = values.map(_to_bool).fillna(False).astype(bool)
    if "machine" not in frame.columns or frame["machine"].isna().any():
        frame["machine"] = machine_labels(frame)
    return frame


def is_missing(value: object) -> bool:
    """None, NaN or pandas' NA; an array or list is a value, never missing."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _to_bool(value: object) -> bool | None:
    if is_missing(value) or value == "":
        return None
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return True
        if lowered in ("false", "0", "no"):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    return bool(value)


def machine_labels(frame: pd.DataFrame) -> pd.Series:
    """``hostname / device_name`` per row (the fingerprint columns), "unknown" where absent."""
    parts = [
        frame[c].astype(object).where(frame[c].notna(), "") for c in ("hostname", "device_name") if c in frame
    ]
    if not parts:
        return pd.Series("unknown", index=frame.index, dtype=object)
    labels = parts[0].astype(str)
    for part in parts[1:]:
        labels = labels + " / " + part.astype(str)
    return labels.str.strip(" /").replace("", "unknown").astype(object)


def format_value(value: float | None, unit: str = "") -> str:
    """``0.00123, "s"`` -> ``"1.23 ms"``; other units keep four significant digits."""
    if value is None or pd.isna(value):
        return "-"
    if unit == "s":
        for scale, name in ((1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
            if abs(value) >= scale or name == "ns":
                return f"{value / scale:.3g} {name}"
    return f"{value:.4g} {unit}".strip()
