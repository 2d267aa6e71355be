"""The one rule for "may this row claim a speed?", used by every row the harness makes and by
every table, plot, finding, Pareto front and ``genzoo compare`` that reads rows back.

A row may not claim a speed when any of these holds, and the reason says which:
- ``interpreted``: a Triton kernel ran under the CPU interpreter (numpy speed, no GPU);
- ``outside tolerance``: its output left its error bound against the reference;
- ``outside quality window``: a model variant's headline quality moved too far from eager fp32;
- ``not measured on <device>``: the harness ran the point on another device than the run names.
"""

from __future__ import annotations

import pandas as pd

from genzoo.measurement import Measurement


def exclusion(
    *,
    interpreted: bool,
    within_tolerance: bool | None,
    within_quality_window: bool | None = None,
    measured_on: str = "",
    run_device: str = "",
) -> str:
    """Why a row may not claim a speed, "" where it may. ``None`` (not judged) never excludes."""
    reasons = []
    if within_tolerance is False:
        reasons.append("outside tolerance")
    if within_quality_window is False:
        reasons.append("outside quality window")
    if interpreted:
        reasons.append("interpreted")
    if measured_on and run_device and measured_on != run_device:
        reasons.append(f"not measured on {run_device}")
    return ", ".join(reasons)


def row_exclusion(row: Measurement, run_device: str = "") -> str:
    return exclusion(
        interpreted=row.interpreted,
        within_tolerance=row.within_tolerance,
        within_quality_window=row.within_quality_window,
        measured_on=row.measured_on,
        run_device=run_device,
    )


def may_claim_speed(row: Measurement, run_device: str = "") -> bool:
    return row_exclusion(row, run_device) == ""


def frame_exclusion(frame: pd.DataFrame) -> pd.Series:
    """``exclusion`` of every row of a results table ("" where the row may claim a speed); the
    run's device is the fingerprint's ``device`` column."""

    def judged(value: object) -> bool | None:
        return None if value is None or pd.isna(value) else bool(value)

    def text(row: pd.Series, column: str) -> str:
        value = row.get(column, "")
        return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)

    reasons = [
        exclusion(
            interpreted=bool(row.get("interpreted", False)),
            within_tolerance=judged(row.get("within_tolerance")),
            within_quality_window=judged(row.get("within_quality_window")),
            measured_on=text(row, "measured_on"),
            run_device=text(row, "device"),
        )
        for _, row in frame.iterrows()
    ]
    return pd.Series(reasons, index=frame.index, dtype=object)
