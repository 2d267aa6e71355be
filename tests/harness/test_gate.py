"""The one rule for a speed claim: a row, and a table of rows, get the same answer."""

from __future__ import annotations

import itertools

import pandas as pd

from genzoo.harness import gate
from genzoo.measurement import Measurement, to_frame


def _row(**columns) -> Measurement:
    return Measurement(
        "sweep", "toy", "triton", "float32", "default", "images_per_s", 10.0, "images/s", **columns
    )


def test_each_reason_excludes_and_none_means_not_judged():
    assert gate.may_claim_speed(_row())
    assert gate.may_claim_speed(
        _row(within_tolerance=True, within_quality_window=True, measured_on="cpu"), "cpu"
    )
    assert gate.row_exclusion(_row(interpreted=True)) == "interpreted"
    assert gate.row_exclusion(_row(within_tolerance=False)) == "outside tolerance"
    assert gate.row_exclusion(_row(within_quality_window=False)) == "outside quality window"
    assert gate.row_exclusion(_row(measured_on="cpu"), "cuda") == "not measured on cuda"


def test_the_table_rule_is_the_row_rule():
    rows = [
        _row(
            interpreted=interpreted,
            within_tolerance=tolerance,
            within_quality_window=window,
            measured_on="cpu",
        )
        for interpreted, tolerance, window in itertools.product(
            (False, True), (None, True, False), (None, True, False)
        )
    ]
    for device in ("cpu", "cuda"):
        frame = to_frame(rows, {"device": device})
        assert list(gate.frame_exclusion(frame)) == [gate.row_exclusion(row, device) for row in rows]


def test_a_table_read_back_from_csv_is_judged_alike(tmp_path):
    rows = [_row(within_tolerance=False), _row(interpreted=True), _row()]
    path = tmp_path / "rows.csv"
    to_frame(rows).to_csv(path, index=False)
    assert list(gate.frame_exclusion(pd.read_csv(path))) == ["outside tolerance", "interpreted", ""]
