"""Results on disk and the conventions every reader of the measurement table shares.

The table is ``genzoo.measurement.to_frame`` (one row per measurement, long format) plus the
environment fingerprint's columns. Where it comes from:

- ``genzoo.results.store``: one results directory per run (``results/<run-id>/``): the raw
  pytest-benchmark JSON, the sweep rows, the fingerprint, a tidy ``measurements.csv``, and a
  record of finished stages so that a stopped run can be resumed;
- ``genzoo.results.benchmark_json``: pytest-benchmark JSON, genzoo's or any other project's.

This module holds what the store, the reports and ``genzoo compare`` must agree on: the column
types, which way a metric is better, when a row may carry a speed claim, how a ``case`` string
reads, and how a row names the machine it was measured on.
"""

from __future__ import annotations

import dataclasses
import re

import pandas as pd

from genzoo.measurement import Measurement

MEASUREMENT_COLUMNS = tuple(field.name for field in dataclasses.fields(Measurement))
FLOAT_COLUMNS = (
    "value", "p20", "p80", "throughput", "fraction_of_ceiling", "speedup_vs_eager", "speedup_vs_vendor", "error", "error_limit",
)
COUNT_COLUMNS = ("rounds", "samples")
TEXT_COLUMNS = ("kind", "subject", "backend", "dtype", "case", "metric", "unit", "throughput_unit", "note")
# Columns the loaders add beside the measurement and fingerprint columns.
PROVENANCE_COLUMNS = ("run", "stage", "benchmark", "machine", "raw_times")

# Which way is better, by metric name. Speed metrics are "higher"; time and most quality metrics
# (FID, bits per byte) are "lower". ELBO is the log-likelihood bound (higher is better).
# metrics with a target value instead of a direction (kid_std, hf_fraction, sharpness_ratio: as
# the real digits'; test_kl; the discriminator's losses) are in neither set: only "changed"
LOWER_IS_BETTER = frozenset({
    "latency", "fid", "kid", "kid_mean", "bits_per_byte", "val_bits_per_byte", "perplexity", "nll", "loss",
    "nelbo", "val_loss", "test_reconstruction_nll", "test_reconstruction_mse", "test_denoising_mse",
    "class_tv_from_uniform", "missing_classes", "fid_seed_std", "fid_seed_cv",
    "output_rel_l2_diff", "output_max_abs_diff",  # a kernel swap against eager float32
})
HIGHER_IS_BETTER = frozenset({
    "throughput", "images_per_s", "tokens_per_s", "samples_per_s", "copy_bandwidth",
    "precision", "recall", "density", "coverage", "elbo", "test_elbo", "sharpness", "accuracy",
    "inception_score", "classifier_score", "class_entropy_ratio", "mean_confidence", "greedy_token_agreement",
})
SPEED_METRICS = ("tokens_per_s", "images_per_s", "samples_per_s")  # preferred first
QUALITY_METRICS = ("fid", "bits_per_byte", "elbo", "kid", "perplexity", "precision", "recall", "sharpness")


class ResultsError(Exception):
    """A results file or directory that cannot be read; the message starts with its path."""


def metric_direction(metric: str, unit: str = "") -> str | None:
    """``"lower"`` or ``"higher"`` (is better), or None when genzoo does not know the metric."""
    if metric in LOWER_IS_BETTER or unit == "s":
        return "lower"
    if metric in HIGHER_IS_BETTER or metric.startswith("matmul_") or metric.endswith("_per_s"):
        return "higher"
    if unit in ("GB/s", "TFLOP/s"):
        return "higher"
    return None


def is_speed_metric(metric: str, unit: str = "") -> bool:
    return metric == "latency" or unit == "s" or metric in SPEED_METRICS or metric.endswith("_per_s")


def typed_table(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with its measurement columns in their proper types (floats with NaN for "none",
    nullable counts and booleans, text with "" for none), whatever file it was read from."""
    frame = frame.copy()
    for column in MEASUREMENT_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    for column in FLOAT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in COUNT_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").round().astype("Int64")
    for column in TEXT_COLUMNS:
        frame[column] = frame[column].map(lambda v: "" if _missing(v) else str(v)).astype(object)
    frame["within_tolerance"] = frame["within_tolerance"].map(_to_bool).astype("boolean")
    frame["interpreted"] = frame["interpreted"].map(_to_bool).fillna(False).astype(bool)
    if "machine" not in frame.columns or frame["machine"].isna().any():
        frame["machine"] = machine_labels(frame)
    return frame


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA


def _to_bool(value: object) -> bool | None:
    if _missing(value) or value == "":
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
    parts = [frame[c].astype(object).where(frame[c].notna(), "") for c in ("hostname", "device_name") if c in frame]
    if not parts:
        return pd.Series("unknown", index=frame.index, dtype=object)
    labels = parts[0].astype(str)
    for part in parts[1:]:
        labels = labels + " / " + part.astype(str)
    return labels.str.strip(" /").replace("", "unknown").astype(object)


def speed_exclusion(frame: pd.DataFrame) -> pd.Series:
    """Why a row may not carry a speed claim ("" where it may): an output outside its tolerance
    or a Triton run under the CPU interpreter says nothing about speed. Every table and plot of
    speedups, throughputs and rooflines drops the rows this names, and says so."""
    outside = frame["within_tolerance"].astype("boolean").eq(False).fillna(False)
    interpreted = frame["interpreted"].astype(bool)
    reasons = pd.Series("", index=frame.index, dtype=object)
    reasons[interpreted] = "interpreted"
    reasons[outside] = "outside tolerance"
    reasons[outside & interpreted] = "outside tolerance, interpreted"
    return reasons


_CASE_TOKEN = re.compile(r"^([A-Za-z_][\w.]*)=(.+)$")


def case_params(case: str) -> dict[str, str]:
    """``"ddim steps=50 w=3"`` -> ``{"steps": "50", "w": "3", "label": "ddim"}``: the ``key=value``
    tokens of a case, and the other tokens joined as ``label``. Sweeps name seeds ``seed=N``."""
    params: dict[str, str] = {}
    rest = []
    for token in str(case).split():
        match = _CASE_TOKEN.match(token)
        if match:
            params[match.group(1)] = match.group(2)
        else:
            rest.append(token)
    if rest:
        params["label"] = " ".join(rest)
    return params


def case_without(case: str, *keys: str) -> str:
    """The case with its ``key=value`` tokens for ``keys`` removed (``"seed=3 ddim"`` -> ``"ddim"``)."""
    kept = [t for t in str(case).split() if not (_CASE_TOKEN.match(t) and t.split("=", 1)[0] in keys)]
    return " ".join(kept) or "-"


def format_value(value: float | None, unit: str = "") -> str:
    """``0.00123, "s"`` -> ``"1.23 ms"``; other units keep four significant digits."""
    if value is None or pd.isna(value):
        return "-"
    if unit == "s":
        for scale, name in ((1, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
            if abs(value) >= scale or name == "ns":
                return f"{value / scale:.3g} {name}"
    return f"{value:.4g} {unit}".strip()
