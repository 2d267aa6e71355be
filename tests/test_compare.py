"""``genzoo compare`` on synthetic timings with realistic noise: per-round times lognormal with 3-5%
jitter, a few slow outliers per run, and a small shift between runs (another day, another boot).
A planted 20% slowdown must be flagged, a rerun of the same code must not, for several seeds."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genzoo import cli
from genzoo.compare import bootstrap_change_interval, compare_tables, format_table, regressions
from genzoo.measurement import Measurement
from genzoo.measurement import to_frame as measurement_frame
from genzoo.results import typed_table
from genzoo.results.benchmark_json import to_frame
from genzoo.results.store import RunDir

MEDIANS = {f"op{i}": 1e-4 * 1.7**i for i in range(8)}  # 100 us .. 4 ms


def round_times(rng: np.random.Generator, median: float, rounds: int, jitter: float) -> list[float]:
    """Per-round seconds: lognormal jitter around ``median``, a run-level shift of about 1%, and
    2% of rounds hit by a 1.5-3x stall (a preempted thread, a page fault)."""
    shift = np.exp(rng.normal(0.0, 0.01))
    times = median * shift * rng.lognormal(0.0, jitter, rounds)
    stalls = rng.uniform(size=rounds) < 0.02
    times[stalls] *= rng.uniform(1.5, 3.0, stalls.sum())
    return times.tolist()


def benchmark_document(
    rng, slowdown: dict[str, float], jitter: float, rounds: int = 60, raw: bool = True
) -> dict:
    """A pytest-benchmark JSON document (another project's: no genzoo extra_info)."""
    benchmarks = []
    for name, median in MEDIANS.items():
        data = np.array(round_times(rng, median * slowdown.get(name, 1.0), rounds, jitter))
        q1, q3 = np.quantile(data, [0.25, 0.75])
        stats = {
            "min": data.min(),
            "max": data.max(),
            "mean": data.mean(),
            "median": float(np.median(data)),
            "stddev": data.std(),
            "q1": q1,
            "q3": q3,
            "iqr": q3 - q1,
            "rounds": rounds,
        }
        if raw:
            stats["data"] = data.tolist()
        benchmarks.append(
            {
                "group": None,
                "name": f"test_{name}",
                "fullname": f"bench.py::test_{name}",
                "params": None,
                "extra_info": {},
                "stats": stats,
            }
        )
    return {"machine_info": {"node": "ci-runner"}, "commit_info": {"id": "abc"}, "benchmarks": benchmarks}


def compare_documents(base: dict, new: dict, **options):
    return compare_tables(to_frame(base, raw_times=True), to_frame(new, raw_times=True), **options)


@pytest.mark.parametrize("raw", [True, False], ids=["bootstrap", "p20-p80"])
@pytest.mark.parametrize("jitter", [0.03, 0.05])
def test_planted_slowdown_is_flagged_and_a_rerun_is_not(raw, jitter):
    for seed in range(6):
        rng = np.random.default_rng(seed)
        base = benchmark_document(rng, {}, jitter, raw=raw)
        rerun = benchmark_document(rng, {}, jitter, raw=raw)
        slowed = benchmark_document(rng, {"op3": 1.2}, jitter, raw=raw)

        same = compare_documents(base, rerun, seed=seed)
        assert set(same["status"]) == {"unchanged"}, format_table(same)

        planted = compare_documents(base, slowed, seed=seed)
        flagged = planted[planted["status"] != "unchanged"]
        assert list(flagged["subject"]) == ["test_op3"], format_table(planted)
        assert list(flagged["status"]) == ["regression"]
        assert 0.12 < flagged["change"].iloc[0] < 0.28


def test_a_speedup_is_an_improvement():
    rng = np.random.default_rng(7)
    base = benchmark_document(rng, {}, 0.04)
    faster = benchmark_document(rng, {"op0": 0.75}, 0.04)
    result = compare_documents(base, faster)
    assert result.loc[result["subject"] == "test_op0", "status"].item() == "improvement"
    assert regressions(result).empty


def test_a_change_below_the_threshold_is_not_flagged_even_when_significant():
    rng = np.random.default_rng(3)
    base = benchmark_document(rng, {}, 0.01, rounds=400)
    slightly = benchmark_document(rng, {"op1": 1.03}, 0.01, rounds=400)
    assert set(compare_documents(base, slightly)["status"]) == {"unchanged"}
    flagged = compare_documents(base, slightly, threshold=0.02)
    assert "regression" in set(flagged.loc[flagged["subject"] == "test_op1", "status"])


def test_bootstrap_interval_covers_the_true_ratio():
    rng = np.random.default_rng(0)
    base = np.array(round_times(rng, 1.0, 100, 0.05))
    new = np.array(round_times(rng, 1.1, 100, 0.05))
    low, high = bootstrap_change_interval(base, new, 0.95, 1000, rng)
    assert low < 0.1 < high and low > 0


def _table(rows) -> pd.DataFrame:
    return typed_table(measurement_frame(rows, {"hostname": "box", "device": "cuda"}))


def test_quality_metrics_follow_the_direction_their_rows_declare():
    def rows(fid, recall, kid_std):
        common = dict(kind="quality", subject="gan", backend="triton", dtype="float32", case="seed=0")
        return [
            Measurement(metric="fid", value=fid, unit="", better="lower", **common),
            Measurement(metric="recall", value=recall, unit="", better="higher", **common),
            Measurement(metric="kid_std", value=kid_std, unit="", **common),
        ]

    result = compare_tables(_table(rows(20.0, 0.5, 0.1)), _table(rows(25.0, 0.6, 0.2))).set_index("metric")
    assert result.loc["fid", "status"] == "regression"  # higher FID is worse
    assert result.loc["recall", "status"] == "improvement"
    assert result.loc["kid_std", "status"] == "changed"  # a metric with a target: no direction
    assert result.loc["fid", "noise"] == "none measured"


def test_a_value_that_was_zero_compares_without_nan(recwarn):
    """missing_classes of a good generator is 0: staying 0 is no change, leaving it is unbounded."""

    def rows(missing):
        return [
            Measurement(
                "quality",
                "gan",
                "eager",
                "float32",
                f"seed={seed}",
                "missing_classes",
                value,
                "",
                better="lower",
            )
            for seed, value in enumerate(missing)
        ]

    base, new = (_table(rows(values)) for values in ([0.0, 0.0], [0.0, 2.0]))
    result = compare_tables(base, new).set_index("case")
    assert result.loc["seed=0", "change"] == 0.0 and result.loc["seed=0", "status"] == "unchanged"
    assert result.loc["seed=1", "change"] == np.inf and result.loc["seed=1", "status"] == "regression"
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


def test_interpreted_timings_are_listed_but_never_judged():
    """Triton's CPU interpreter runs at numpy speed: its timings are no speed figure, so a kernel
    that got 60% slower there is neither a regression nor an improvement."""

    def rows(latency, interpreted):
        return [
            Measurement(
                "op",
                "group_norm_silu",
                "triton",
                "float32",
                "n=2^10",
                "latency",
                latency,
                "s",
                better="lower",
                p20=latency * 0.99,
                p80=latency * 1.01,
                interpreted=interpreted,
            ),
            Measurement(
                "quality",
                "vae",
                "triton",
                "float32",
                "interpreted-swap",
                "output_rel_l2_diff",
                latency * 1e-5,
                "",
                better="lower",
                interpreted=interpreted,
            ),
        ]

    for base_interpreted, new_interpreted in ((True, True), (False, True)):
        result = compare_tables(_table(rows(0.02, base_interpreted)), _table(rows(0.033, new_interpreted)))
        result = result.set_index("metric")
        assert result.loc["latency", "status"] == "excluded"
        assert result.loc["latency", "excluded"].endswith("new: interpreted")
        assert ("base: interpreted" in result.loc["latency", "excluded"]) == base_interpreted
        # an output difference is a correctness figure, interpreted or not: judged as ever
        assert result.loc["output_rel_l2_diff", "status"] == "regression"
    result = compare_tables(_table(rows(0.02, False)), _table(rows(0.033, False))).set_index("metric")
    assert result.loc["latency", "status"] == "regression"


@pytest.mark.parametrize(
    "columns, reason",
    [
        (dict(within_tolerance=False, error=0.3, error_limit=0.01), "outside tolerance"),
        (dict(quality_change=0.4, quality_window=0.1, within_quality_window=False), "outside quality window"),
        (dict(measured_on="cpu"), "not measured on cuda"),
    ],
    ids=["tolerance", "quality-window", "other-device"],
)
def test_a_speed_the_gate_excludes_on_one_side_is_listed_not_judged(columns, reason):
    """A sweep point that got 3x faster by computing something else (or elsewhere) is no improvement."""

    def rows(images_per_s, **extra):
        extra = {"measured_on": "cuda", **extra}
        return [
            Measurement(
                "sweep",
                "diffusion",
                "triton",
                "bfloat16",
                "steps=10",
                "images_per_s",
                images_per_s,
                "images/s",
                better="higher",
                **extra,
            )
        ]

    result = compare_tables(_table(rows(10.0)), _table(rows(30.0, **columns)))
    assert result["status"].tolist() == ["excluded"] and result["excluded"].tolist() == [f"new: {reason}"]
    assert "new: " + reason in format_table(result)
    assert compare_tables(_table(rows(10.0)), _table(rows(30.0)))["status"].tolist() == ["improvement"]


def test_rows_present_on_one_side_only_are_listed():
    rng = np.random.default_rng(1)
    base = benchmark_document(rng, {}, 0.03)
    new = benchmark_document(rng, {}, 0.03)
    new["benchmarks"] = new["benchmarks"][1:] + [
        dict(new["benchmarks"][0], name="test_new", fullname="b.py::test_new")
    ]
    base_only = compare_documents(base, new).set_index("subject")
    assert base_only.loc["test_op0", "status"] == "only in base"
    assert base_only.loc["test_new", "status"] == "only in new"


def _write(path, document):
    path.write_text(json.dumps(document))
    return str(path)


def test_cli_gates_on_regressions(tmp_path, capsys):
    rng = np.random.default_rng(11)
    base = _write(tmp_path / "base.json", benchmark_document(rng, {}, 0.04))
    rerun = _write(tmp_path / "rerun.json", benchmark_document(rng, {}, 0.04))
    slowed = _write(tmp_path / "slowed.json", benchmark_document(rng, {"op5": 1.2}, 0.04))

    assert cli.main(["compare", base, rerun, "--fail-on", "regression"]) == 0
    assert cli.main(["compare", base, slowed]) == 0  # reports, but does not gate unless asked
    assert cli.main(["compare", base, slowed, "--fail-on", "regression", "--threshold", "10%"]) == 1
    out = capsys.readouterr()
    assert "regression" in out.out and "test_op5" in out.out
    assert "1 regression(s)" in out.err


def test_cli_compares_results_directories(tmp_path, capsys):
    rng = np.random.default_rng(5)
    paths = []
    for name, slowdown in (("base", {}), ("new", {"op2": 1.25})):
        source = tmp_path / f"{name}.json"
        _write(source, benchmark_document(rng, slowdown, 0.03))
        run = RunDir.create(tmp_path / "results", name, {"hostname": "box"})
        run.add_benchmark_json("ops", source)
        paths.append(str(run.path))
    assert cli.main(["compare", *paths, "--fail-on", "regression", "--changes-only"]) == 1
    out = capsys.readouterr().out
    assert "test_op2" in out and "test_op1 " not in out


def test_cli_names_a_missing_or_foreign_input(tmp_path, capsys):
    good = _write(tmp_path / "good.json", benchmark_document(np.random.default_rng(0), {}, 0.03))
    foreign = tmp_path / "foreign.json"
    foreign.write_text('{"hello": "world"}')
    assert cli.main(["compare", good, str(tmp_path / "missing")]) == 2
    assert "missing: no such results directory" in capsys.readouterr().err
    assert cli.main(["compare", str(foreign), good]) == 2
    assert "foreign.json: not a pytest-benchmark JSON file" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("hi")
    assert cli.main(["compare", str(tmp_path / "notes.txt"), good]) == 2
    assert "notes.txt: neither a results directory" in capsys.readouterr().err


def test_cli_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare", "a.json", "b.json", "--threshold", "lots"])
    assert exit_info.value.code == 2
    assert "expected a fraction such as 0.05 or 5%" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["compare", "--help"])
    assert "--fail-on" in capsys.readouterr().out
