"""The report's tables, every cell a display string: one per op, the speed goals, the measured
ceilings, the families' best points side by side, one per family, and the environment.

A row that may not claim speed (``genzoo.harness.gate``) shows "excluded (<why>)" where its
speedup or throughput would be, and the table's note counts them by reason.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

from genzoo.harness import goals
from genzoo.kernels.registry import VENDOR_BACKENDS
from genzoo.measurement import knob_columns
from genzoo.report import claims
from genzoo.report.analysis import model_rows, op_latency_rows
from genzoo.report.cross_family import best_points
from genzoo.results import MEASUREMENT_COLUMNS, PROVENANCE_COLUMNS, format_value, is_speed_metric
from genzoo.sweeps.plan import SETTINGS

# the samples a point of the reference run (cpu preset) scores: a run with fewer says what it costs
REFERENCE_RUN_SAMPLES = SETTINGS["cpu"].quality_samples


@dataclasses.dataclass(frozen=True)
class Table:
    title: str
    frame: pd.DataFrame  # every cell a display string
    note: str = ""


def _origin(frame: pd.DataFrame) -> str | None:
    """The column that tells rows of several machines (or else several runs) apart, if any."""
    if frame["machine"].nunique() > 1:
        return "machine"
    if "run" in frame and frame["run"].nunique() > 1:
        return "run"
    return None


def _excluded_note(excluded: pd.Series, what: str) -> str:
    reasons = excluded[excluded != ""].value_counts()
    if reasons.empty:
        return ""
    listing = ", ".join(f"{reason}: {count}" for reason, count in sorted(reasons.items()))
    return f"{int(reasons.sum())} {what} excluded from speed claims ({listing})."


def op_tables(frame: pd.DataFrame) -> list[Table]:
    """One table per op: time with its p20-p80 spread, throughput, fraction of the ceiling,
    speedup over eager (or why it is excluded), error against the float64 reference."""
    rows = op_latency_rows(frame)
    origin = _origin(frame)
    tables = []
    for op, group in rows.groupby("subject", sort=True):
        group = group.assign(_eager=group["backend"] != "eager").sort_values(
            ["dtype", "_eager", "backend"], kind="stable"
        )
        display = {"backend": group["backend"], "dtype": group["dtype"], "case": group["case"]}
        if origin:
            display[origin] = group[origin]
        # the median, and the 20th to 80th percentile of the timed rounds (genzoo.measurement)
        display["time (p20-p80)"] = [_time(r.value, r.p20, r.p80) for r in group.itertuples()]
        display["throughput"] = [
            "-" if r.excluded else format_value(r.throughput, r.throughput_unit) for r in group.itertuples()
        ]
        display["of ceiling"] = [
            "-" if r.excluded or pd.isna(r.fraction_of_ceiling) else f"{r.fraction_of_ceiling:.0%}"
            for r in group.itertuples()
        ]
        display["speedup vs eager"] = [_speedup(r) for r in group.itertuples()]
        vendor = next((b for b in VENDOR_BACKENDS if (group["backend"] == b).any()), None)
        if vendor:
            display[f"speedup vs {vendor}"] = [_speedup_vs_vendor(r, vendor) for r in group.itertuples()]
        display["error (limit)"] = [
            _error(r.error, r.error_limit, r.within_tolerance) for r in group.itertuples()
        ]
        note = _excluded_note(group["excluded"], "variant(s)")
        tables.append(Table(op, pd.DataFrame(display).astype(str).reset_index(drop=True), note))
    return tables


def goal_tables(frame: pd.DataFrame) -> list[Table]:
    """The issues' speed goals read off the rows (``genzoo.harness.goals``), when any goal point ran."""
    verdicts = goals.evaluate(frame)
    if (verdicts["status"] == "not measured").all():
        return []
    display = verdicts.assign(
        target=verdicts["target"].map(lambda v: f"{v:g}"),
        measured=verdicts["measured"].map(lambda v: "-" if pd.isna(v) else f"{v:.3g}"),
    )
    if display["machine"].nunique() <= 1:
        display = display.drop(columns="machine")
    note = "Goals set for an H100 (issues 2 and 3); a point outside its tolerance is never met."
    return [Table("Speed goals", display.astype(str).reset_index(drop=True), note)]


def ceiling_tables(frame: pd.DataFrame) -> list[Table]:
    rows = frame[frame["kind"] == "ceiling"]
    if rows.empty:
        return []
    origin = _origin(frame)
    display = {"ceiling": rows["metric"], "dtype": rows["dtype"], "case": rows["case"]}
    if origin:
        display[origin] = rows[origin]
    display["measured"] = [format_value(v, u) for v, u in zip(rows["value"], rows["unit"])]
    return [Table("Measured ceilings", pd.DataFrame(display).astype(str).reset_index(drop=True))]


def claim_tables(frame: pd.DataFrame) -> list[Table]:
    """The folk claims of every family in the table, each with its verdict and the evidence."""
    results = claims.claim_results(frame)
    if not results:
        return []
    several = len({r.machine for r in results}) > 1
    shown = pd.DataFrame(
        {
            "family": [r.family for r in results],
            **({"machine": [r.machine for r in results]} if several else {}),
            "claim": [r.claim for r in results],
            "verdict": [r.status for r in results],
            "evidence (95% intervals)": [r.evidence for r in results],
        }
    )
    note = (
        "holds / does not hold: the interval of every difference behind the claim lies on one side of "
        "no effect; not resolved at this N: some interval straddles it" + sample_size_note(frame)
    )
    return [Table("The folk claims, tested", shown.astype(str), note)]


def sample_size_note(frame: pd.DataFrame) -> str:
    """What a run that scored fewer samples a point than the reference run pays: wider intervals
    (their widths shrink as 1/sqrt(n)), and so more claims left unresolved."""
    scored = frame[(frame["kind"] == "quality") & (frame["metric"] == "fid")]["samples"].dropna()
    if scored.empty or scored.max() >= REFERENCE_RUN_SAMPLES:
        return ""
    n = int(scored.max())
    return (
        f". This run scored at most n = {n} samples a point, the cpu preset {REFERENCE_RUN_SAMPLES}: "
        f"its intervals are about {(REFERENCE_RUN_SAMPLES / n) ** 0.5:.1f}x as wide, and a claim not "
        f"resolved here may resolve at n = {REFERENCE_RUN_SAMPLES}"
    )


COST_METRICS = {
    "flops_per_sample": "FLOPs",
    "weight_bytes_per_sample": "weight bytes moved",
    "kv_cache_bytes_per_sample": "KV-cache bytes read",
    "kv_cache_bytes_per_token": "KV-cache bytes a token",
    "peak_memory_bytes_per_sample": "peak memory",
}


def cost_tables(frame: pd.DataFrame) -> list[Table]:
    """What one generated sample costs in every family (per image, per completion), counted."""
    rows = frame[frame["kind"] == "cost"]
    if rows.empty:
        return []
    index = ["subject", "case", *(["machine"] if rows["machine"].nunique() > 1 else [])]
    cells = rows.assign(cell=[format_value(v, u) for v, u in zip(rows["value"], rows["unit"])])
    shown = cells.pivot_table(index=index, columns="metric", values="cell", aggfunc="first").reset_index()
    shown = shown.rename(columns={"subject": "family", **COST_METRICS})
    columns = [c for c in ["family", "case", "machine", *COST_METRICS.values()] if c in shown.columns]
    note = (
        "per image for the image families, per completion for the LLM, at one batch size; FLOPs of matmul, "
        "conv and attention only; KV-cache bytes read by attention over the completion; peak memory of "
        "the tensors the call allocated"
    )
    return [
        Table("What one sample costs (eager float32, counted)", shown[columns].fillna("-").astype(str), note)
    ]


def cross_family_tables(frame: pd.DataFrame) -> list[Table]:
    """Each family's best headline point (eager, float32) with its throughput, side by side."""
    best = best_points(frame)
    if best.empty:
        return []
    display = {"family": best["family"]}
    if best["machine"].nunique() > 1:
        display["machine"] = best["machine"]

    def quality(point: pd.Series) -> str:
        if pd.isna(point["quality_low"]):
            return f"{point['quality']:.4g} (no interval)"
        return f"{point['quality']:.4g} [{point['quality_low']:.4g}, {point['quality_high']:.4g}]"

    display.update(
        {
            "case (of candidates)": [f"{c} (of {n})" for c, n in zip(best["case"], best["candidates"])],
            "metric": [f"{m} ({b} is better)" for m, b in zip(best["metric"], best["better"])],
            "value [95%]": [quality(point) for _, point in best.iterrows()],
            "n": best["samples"].map(lambda v: "-" if pd.isna(v) else f"{v:g}"),
            "sampling seeds": [
                f"{s} (fresh)" if confirmed else f"{s} (selection's)"
                for s, confirmed in zip(best["seeds"], best["confirmed"])
            ],
            "throughput": [format_value(v, u) for v, u in zip(best["throughput"], best["unit"])],
        }
    )
    shown = pd.DataFrame(display).astype(str).reset_index(drop=True)
    return [Table("Cross-family: each family's best-quality point (eager, float32)", shown)]


def family_tables(frame: pd.DataFrame) -> list[Table]:
    """One table per model family: a line per (backend, dtype, case), a column per metric."""
    rows = model_rows(frame)
    origin = _origin(frame)
    index = ["backend", "dtype", "case", *([origin] if origin else [])]
    tables = []
    for family, group in rows.groupby("subject", sort=True):
        speed = [is_speed_metric(m, u) for m, u in zip(group["metric"], group["unit"])]
        cells = [
            f"excluded ({r.excluded})" if r.excluded and fast else _with_spread(r)
            for r, fast in zip(group.itertuples(), speed)
        ]
        wide = group.assign(cell=cells).pivot_table(
            index=index, columns="metric", values="cell", aggfunc="first", sort=False
        )
        wide = wide.reset_index().fillna("-")
        wide.columns.name = None
        note = _excluded_note(group["excluded"].where(speed, ""), "speed row(s)")
        tables.append(Table(f"Family: {family}", wide.astype(str), note))
    return tables


def environment_table(frame: pd.DataFrame, fingerprints: dict[str, dict]) -> Table:
    """One column per run and machine, one line per fingerprint field."""
    skip = {*MEASUREMENT_COLUMNS, *PROVENANCE_COLUMNS, *knob_columns(frame), "excluded"}
    fields = [c for c in frame.columns if c not in skip]
    columns: dict[str, dict] = {}
    for (run, machine), group in frame.groupby(["run", "machine"], sort=True):
        columns[f"{run} | {machine}"] = {f: _first(group[f]) for f in fields}
    for run, fingerprint in fingerprints.items():
        if fingerprint and not any(name.startswith(f"{run} | ") for name in columns):
            columns[run] = fingerprint
    table = pd.DataFrame(columns).fillna("").astype(str)
    table = table[(table != "").any(axis=1)]
    return Table("Environment", table.rename_axis("field").reset_index())


def _first(column: pd.Series) -> object:
    present = column.dropna()
    return present.iloc[0] if not present.empty else None


def _time(value: float, p20: float, p80: float) -> str:
    if pd.isna(p20) or pd.isna(p80) or p20 == p80:
        return format_value(value, "s")
    return f"{format_value(value, 's')} ({format_value(p20, 's')}-{format_value(p80, 's')})"


def _speedup(row) -> str:
    if row.excluded:
        return f"excluded ({row.excluded})"
    if row.backend == "eager":
        return "baseline"
    return "-" if pd.isna(row.speedup_vs_eager) else f"{row.speedup_vs_eager:.2f}x"


def _speedup_vs_vendor(row, vendor: str) -> str:
    if row.excluded:
        return "-"
    if row.backend == vendor:
        return "baseline"
    return "-" if pd.isna(row.speedup_vs_vendor) else f"{row.speedup_vs_vendor:.2f}x"


def _error(error: float, limit: float, within: object) -> str:
    if pd.isna(error):
        return "-"
    if pd.isna(limit):
        return f"{error:.2g}"
    if not pd.isna(within) and not within:
        return f"{error:.2g} > {limit:.2g} FAIL"
    return f"{error:.2g} <= {limit:.2g}"


def _with_spread(row) -> str:
    text = format_value(row.value, row.unit)
    if pd.notna(row.p20) and pd.notna(row.p80) and row.p20 != row.p80:
        text += f" ({row.p20:.3g}-{row.p80:.3g})"
    return text
