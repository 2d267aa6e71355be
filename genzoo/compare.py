"""Two runs, measurement by measurement: what got slower or faster beyond the measured noise.

Rows are matched by their key (``KEY_COLUMNS``; plus the machine where a side holds the same key
from several machines). For each pair the change is ``new / base - 1`` of the medians, and it
counts only when both hold:

1. it is beyond the noise: with the raw per-round times on both sides (pytest-benchmark's
   ``--benchmark-save-data``), a percentile-bootstrap interval of the ratio of medians
   (Efron & Tibshirani, *An Introduction to the Bootstrap*, ch. 13) must exclude no change;
   without them, the p20-p80 ranges of the two runs must not overlap; where neither side
   measured a spread, only the threshold judges;
2. it is at least ``threshold`` (default 10%, like ``asv compare --factor 1.1``): a rerun
   on another day moves by a few percent (clocks, thermal state, memory placement) for reasons
   the rounds within one run cannot see, so no interval over those rounds can judge it.

A change that makes the metric worse (the row's ``better``, ``metric_direction``) is a
regression, a better one an improvement; a metric without a direction is only "changed". A
timing or throughput that may not claim a speed on either side (``genzoo.harness.gate``:
interpreted, outside its tolerance or quality window, measured on another device) is no speed
figure: it is listed as "excluded", with the gate's reason per side, and never judged.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd

from genzoo.harness import gate
from genzoo.measurement import KEY_COLUMNS
from genzoo.results import format_value, is_speed_metric, metric_direction

STATUS_ORDER = (
    "regression",
    "improvement",
    "changed",
    "unchanged",
    "excluded",
    "only in base",
    "only in new",
)
RESULT_COLUMNS = ["unit", "base", "new", "change", "low", "high", "noise", "status", "excluded"]
MAX_BOOTSTRAP_SAMPLES = 2000  # rounds kept per side: bounds memory at resamples x 2000 floats


def compare_tables(
    base: pd.DataFrame,
    new: pd.DataFrame,
    threshold: float = 0.10,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per key: ``base``, ``new``, ``change``, its interval ``low``/``high`` (None where
    no noise was measured), ``noise`` (how the interval was made), ``status``, and ``excluded``
    (why a speed is not judged, per side; "" where it is)."""
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if threshold < 0:
        raise ValueError(f"threshold must be >= 0, got {threshold}")
    keys = list(KEY_COLUMNS)
    if _has_duplicates(base, keys) or _has_duplicates(new, keys):
        keys.append("machine")
    base, new = _first_per_key(base, keys), _first_per_key(new, keys)
    merged = base.merge(new, on=keys, how="outer", suffixes=("_base", "_new"), indicator=True)
    results = []
    for row in merged.to_dict("records"):
        result = {k: row[k] for k in keys}
        result["unit"] = row["unit_new"] if isinstance(row.get("unit_new"), str) else row.get("unit_base", "")
        result.update(base=row.get("value_base"), new=row.get("value_new"))
        unjudged = {"change": np.nan, "low": np.nan, "high": np.nan, "noise": "", "excluded": ""}
        if row["_merge"] != "both":
            status = "only in base" if row["_merge"] == "left_only" else "only in new"
            results.append({**result, **unjudged, "status": status})
            continue
        excluded = _exclusions(row) if is_speed_metric(str(row["metric"]), result["unit"]) else ""
        if excluded:
            results.append({**result, **unjudged, "status": "excluded", "excluded": excluded})
            continue
        rng = np.random.default_rng([seed, zlib.crc32(repr(tuple(result[k] for k in keys)).encode())])
        judged = _judge(row, result["unit"], threshold, confidence, resamples, rng)
        results.append({**result, **judged, "excluded": ""})
    frame = pd.DataFrame(results, columns=[*keys, *RESULT_COLUMNS])
    order = frame["status"].map({s: i for i, s in enumerate(STATUS_ORDER)})
    ordered = frame.assign(_order=order).sort_values(["_order", *keys])
    return ordered.drop(columns="_order").reset_index(drop=True)


def _exclusions(row: dict) -> str:
    """``"base: interpreted; new: outside tolerance"``: the gate's reason on each side that has one."""
    reasons = [(side, row.get(f"excluded_{side}")) for side in ("base", "new")]
    return "; ".join(f"{side}: {reason}" for side, reason in reasons if isinstance(reason, str) and reason)


def _judge(
    row: dict, unit: str, threshold: float, confidence: float, resamples: int, rng: np.random.Generator
) -> dict:
    base, new = float(row["value_base"]), float(row["value_new"])
    if base != 0:
        change = new / base - 1
    else:  # from zero: no change if still zero, else an unbounded one in the direction of new
        change = 0.0 if new == 0 else np.copysign(np.inf, new)
    base_raw, new_raw = _raw(row.get("raw_times_base")), _raw(row.get("raw_times_new"))
    if base_raw is not None and new_raw is not None:
        low, high = bootstrap_change_interval(base_raw, new_raw, confidence, resamples, rng)
        noise = f"bootstrap {confidence:.0%} ({base_raw.size}/{new_raw.size} rounds)"
    elif _spread(row, "base") and _spread(row, "new"):
        # non-overlapping p20-p80 ranges <=> this interval excludes 0
        low = row["p20_new"] / row["p80_base"] - 1
        high = row["p80_new"] / row["p20_base"] - 1
        noise = "p20-p80 ranges"
    else:
        low = high = np.nan
        noise = "none measured"
    beyond_noise = np.isnan(low) or low > 0 or high < 0
    if not (beyond_noise and abs(change) >= threshold):
        status = "unchanged"
    else:
        better = row.get("better_new") or row.get("better_base")
        direction = metric_direction(better, str(row["metric"]), unit)
        if direction is None:
            status = "changed"
        else:
            worse = change > 0 if direction == "lower" else change < 0
            status = "regression" if worse else "improvement"
    return {"change": change, "low": low, "high": high, "noise": noise, "status": status}


def bootstrap_change_interval(
    base: np.ndarray, new: np.ndarray, confidence: float, resamples: int, rng: np.random.Generator
) -> tuple[float, float]:
    """Percentile-bootstrap interval of ``median(new) / median(base) - 1``: resample each side's
    rounds with replacement ``resamples`` times, take the ratio of the resampled medians."""
    base, new = _capped(base, rng), _capped(new, rng)
    base_medians = np.median(base[rng.integers(0, base.size, size=(resamples, base.size))], axis=1)
    new_medians = np.median(new[rng.integers(0, new.size, size=(resamples, new.size))], axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(new_medians / base_medians - 1, [alpha, 1 - alpha])
    return float(low), float(high)


def _capped(samples: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if samples.size <= MAX_BOOTSTRAP_SAMPLES:
        return samples
    return rng.choice(samples, size=MAX_BOOTSTRAP_SAMPLES, replace=False)


def _raw(value: object) -> np.ndarray | None:
    if value is None or not hasattr(value, "__len__") or len(value) < 2:
        return None
    return np.asarray(value, dtype=float)


def _spread(row: dict, side: str) -> bool:
    p20, p80 = row.get(f"p20_{side}"), row.get(f"p80_{side}")
    return p20 is not None and p80 is not None and not (pd.isna(p20) or pd.isna(p80)) and p20 > 0


def _has_duplicates(frame: pd.DataFrame, keys: list[str]) -> bool:
    return bool(frame.duplicated(subset=keys).any())


def _first_per_key(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The columns a comparison reads, with the gate's reason why a row may not claim speed."""
    frame = frame.assign(excluded=gate.frame_exclusion(frame))
    for column, missing in (("raw_times", None), ("better", "")):  # a table not read by genzoo may lack them
        if column not in frame.columns:
            frame = frame.assign(**{column: missing})
    columns = [*keys, "unit", "better", "value", "p20", "p80", "raw_times", "excluded"]
    return frame[columns].drop_duplicates(subset=keys, keep="first")


def regressions(result: pd.DataFrame) -> pd.DataFrame:
    return result[result["status"] == "regression"]


def format_table(result: pd.DataFrame, changes_only: bool = False) -> str:
    """The comparison as aligned text, regressions first, then a one-line count per status."""
    shown = result[~result["status"].isin(["unchanged"])] if changes_only else result
    lines = []
    if not shown.empty:
        table = pd.DataFrame(
            {
                "status": shown["status"],
                "subject": shown["subject"],
                "backend": shown["backend"],
                "dtype": shown["dtype"],
                "case": shown["case"],
                "metric": shown["metric"],
                "base": [format_value(v, u) for v, u in zip(shown["base"], shown["unit"])],
                "new": [format_value(v, u) for v, u in zip(shown["new"], shown["unit"])],
                "change": [_percent(c) for c in shown["change"]],
                "interval": [_interval(lo, hi) for lo, hi in zip(shown["low"], shown["high"])],
                "noise": shown["noise"],
            }
        )
        if (shown["excluded"] != "").any():
            table["excluded"] = shown["excluded"]
        if "machine" in shown.columns:
            table.insert(1, "machine", shown["machine"])
        lines.append(table.to_string(index=False))
    counts = result["status"].value_counts()
    lines.append(", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if s in counts) or "nothing to compare")
    return "\n".join(lines)


def _percent(change: float) -> str:
    return "-" if pd.isna(change) else f"{change:+.1%}"


def _interval(low: float, high: float) -> str:
    return "-" if pd.isna(low) else f"[{low:+.1%}, {high:+.1%}]"
