"""The speed goals the issues set, as data: which benchmark point each is read at, which column
of its row, and the bar. ``genzoo bench --goals`` runs only these points (with the baselines
they are compared against) and ``evaluate`` turns a results table into met / missed / not
measured, so that a GPU session of a few minutes answers them.

The goals were written for an H100 (issue 2: the fused denoising step; issue 3: attention). On
another device the table still reads the same rows against the same bars and names the device.
"""

from __future__ import annotations

import dataclasses

import pandas as pd


@dataclasses.dataclass(frozen=True)
class Goal:
    op: str
    dtype: str
    case: str  # the benchmark case label, as the registry's bench cases spell it
    backend: str
    column: str  # a Measurement column: throughput, fraction_of_ceiling, speedup_vs_eager, ...
    at_least: float
    text: str

    def point(self) -> tuple[str, str, str]:
        return (self.op, self.dtype, self.case)


GOALS = (
    *(
        goal
        for op in ("ddpm_step", "ddim_step")
        for goal in (
            Goal(
                op,
                "float32",
                "n=2^26",
                "triton",
                "fraction_of_ceiling",
                0.9,
                f"{op} at 2^26: >= 90% of copy bandwidth",
            ),
            Goal(op, "float32", "n=2^26", "triton", "speedup_vs_eager", 4.0, f"{op} at 2^26: >= 4x eager"),
        )
    ),
    Goal(
        "attention",
        "bfloat16",
        "B2 H16 N8192 D128",
        "triton",
        "throughput",
        550.0,
        "attention forward: >= 550 TFLOP/s",
    ),
    Goal(
        "attention",
        "bfloat16",
        "B2 H16 N8192 D128",
        "triton",
        "speedup_vs_vendor",
        1.0,
        "attention forward: >= 1.0x sdpa",
    ),
    Goal(
        "attention",
        "bfloat16",
        "B2 H16 N8192 D128 causal",
        "triton",
        "throughput",
        450.0,
        "causal attention forward: >= 450 TFLOP/s",
    ),
    Goal(
        "attention_decode",
        "bfloat16",
        "B8 H32/8 N1x32768 D128",
        "triton",
        "fraction_of_ceiling",
        0.8,
        "decode at KV 32k: >= 80% of copy bandwidth",
    ),
)


def goal_points() -> set[tuple[str, str, str]]:
    """(op, dtype, case) of every goal: the benchmark runs every backend there."""
    return {goal.point() for goal in GOALS}


def evaluate(frame: pd.DataFrame) -> pd.DataFrame:
    """One line per goal and machine: the measured value, the bar, and met / missed / not
    measured (a point outside its tolerance carries no speed figure, so it is never met)."""
    rows = frame[(frame["kind"] == "op") & (frame["metric"] == "latency")]
    machines = sorted(rows["machine"].unique()) if "machine" in rows and not rows.empty else [""]
    lines = []
    for machine in machines:
        mine = rows[rows["machine"] == machine] if machine else rows
        for goal in GOALS:
            match = mine[
                (mine["subject"] == goal.op)
                & (mine["dtype"] == goal.dtype)
                & (mine["case"] == goal.case)
                & (mine["backend"] == goal.backend)
            ]
            value = match[goal.column].dropna()
            if match.empty:
                status, measured = "not measured", None
            elif value.empty:
                status, measured = "no speed figure (outside tolerance, interpreted or no baseline)", None
            else:
                measured = float(value.iloc[0])
                status = "met" if measured >= goal.at_least else "missed"
            lines.append(
                {
                    "machine": machine,
                    "goal": goal.text,
                    "column": goal.column,
                    "target": goal.at_least,
                    "measured": measured,
                    "status": status,
                }
            )
    return pd.DataFrame(lines, columns=["machine", "goal", "column", "target", "measured", "status"])
