"""The schema version of results files, and the one migration of older rows to the current one.

``manifest.json`` and every ``rows/<stage>.json`` carry ``"version"``. pytest-benchmark JSON has no
version of its own: a genzoo row in it that lacks ``better`` was written before version 2.

Version 1 -> 2 (``upgrade``):
- training runs were kind "model" (case ``seed=N``): they are kind "training";
- a sweep row's quality check against eager float32 sat in ``error``/``error_limit``/
  ``within_tolerance``: it is ``quality_change``/``quality_window``/``within_quality_window``;
- rows named no direction: ``better`` comes from the table genzoo then kept by hand (below, for
  old rows only; a new row states its own). Knob columns stay absent: old rows had only labels.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from genzoo.results.errors import ResultsError

VERSION = 2
TRAINING_METRICS = ("train_seconds", "train_steps")
# the case suffix of a best point scored again on fresh sampling seeds (the winner's curse undone)
FRESH_SEEDS = "fresh seeds"
# the subjects of the code anchors' rows, which the LLM's hallucination claim reads: the real
# held-out continuations (the floor) and each metric's ceiling
REAL_CODE_ANCHOR = "anchor_real_code"
SHUFFLED_CODE_ANCHOR = "anchor_shuffled_code"  # tokens shuffled: the parse share's ceiling
RENAMED_CODE_ANCHOR = "anchor_renamed_code"  # free names renamed: the undefined-name share's
SWEEP_QUALITY_COLUMNS = {
    "error": "quality_change",
    "error_limit": "quality_window",
    "within_tolerance": "within_quality_window",
}

# Version 1's directions by metric name; metrics with a target instead (kid_std, hf_fraction,
# sharpness_ratio, test_kl, a GAN's losses) were in neither set and stay "".
_LEGACY_LOWER = frozenset({
    "latency", "fid", "kid", "kid_mean", "bits_per_byte", "val_bits_per_byte", "perplexity", "nll", "loss",
    "nelbo", "val_loss", "test_reconstruction_nll", "test_reconstruction_mse", "test_denoising_mse",
    "class_tv_from_uniform", "missing_classes", "fid_seed_std", "fid_seed_cv",
    "output_rel_l2_diff", "output_max_abs_diff",
})
_LEGACY_HIGHER = frozenset({
    "throughput", "images_per_s", "tokens_per_s", "samples_per_s", "copy_bandwidth",
    "precision", "recall", "density", "coverage", "elbo", "test_elbo", "sharpness", "accuracy",
    "inception_score", "classifier_score", "class_entropy_ratio", "mean_confidence", "greedy_token_agreement",
})


def checked_version(path: Path, version: object) -> int:
    """The schema version a file states (1 where it states none, as the first files did), or a
    ``ResultsError`` naming the file when it is newer than this genzoo reads or not a version."""
    if version is None:
        return 1
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ResultsError(f"{path}: schema version {version!r} is not a version number")
    if version > VERSION:
        raise ResultsError(
            f"{path}: schema version {version}, written by a newer genzoo "
            f"(this one reads versions up to {VERSION})"
        )
    return version


def upgrade(frame: pd.DataFrame, version: int) -> pd.DataFrame:
    """Rows of schema ``version`` as rows of the current one (a copy; current rows unchanged)."""
    if version >= VERSION or frame.empty:
        return frame
    frame = frame.copy()
    for column in ("kind", "metric", "case", "unit"):
        if column not in frame.columns:
            frame[column] = ""
    text = {c: frame[c].fillna("").astype(str) for c in ("kind", "metric", "case", "unit")}
    training = (text["kind"] == "model") & (
        text["metric"].isin(TRAINING_METRICS) | text["case"].str.startswith("seed=")
    )
    frame.loc[training, "kind"] = "training"
    sweep = text["kind"] == "sweep"
    for old, new in SWEEP_QUALITY_COLUMNS.items():
        if old not in frame.columns:
            continue
        frame[new] = frame[old].where(sweep, frame[new] if new in frame.columns else None).astype(object)
        frame[old] = frame[old].astype(object).where(~sweep, None)
    stated = (
        frame["better"].fillna("").astype(str)
        if "better" in frame.columns
        else pd.Series("", index=frame.index)
    )
    legacy = [_legacy_better(metric, unit) for metric, unit in zip(text["metric"], text["unit"])]
    frame["better"] = stated.where(stated != "", pd.Series(legacy, index=frame.index, dtype=object))
    return frame


def _legacy_better(metric: str, unit: str) -> str:
    """Version 1's rule: the name lists, then seconds lower and rates (and matmuls) higher."""
    if metric in _LEGACY_LOWER or unit == "s":
        return "lower"
    if metric in _LEGACY_HIGHER or metric.startswith("matmul_") or metric.endswith("_per_s"):
        return "higher"
    if unit in ("GB/s", "TFLOP/s"):
        return "higher"
    return ""
