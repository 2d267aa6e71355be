"""The report from a synthetic run holding every kind of row: every plot is drawn, every table is
there, rows that may not claim speed (by the harness's one gate) show "excluded" and never a
speedup, and absent data makes a one-line note instead of an error."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from synthetic_runs import (
    BOGUS_SPEEDUP,
    FINGERPRINT,
    OPS,
    OTHER_DEVICE,
    OUTSIDE_WINDOW,
    QUALITY_CHANGE,
    make_run,
)

from genzoo import cli
from genzoo.measurement import Measurement, to_frame
from genzoo.report import build_report, op_tables, write_report
from genzoo.report.plots import all_figures
from genzoo.results import typed_table
from genzoo.results.store import RunDir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = [
    "speedup",
    "roofline",
    "pareto",
    "quality_vs_steps",
    "throughput_vs_quality",
    "seed_spread",
    "serving_latency",
]
ANSWER_FIGURES = ["cross_family"]


def test_every_plot_is_drawn_from_a_full_run(synthetic_report):
    assert [f.name for f in synthetic_report.answer_figures] == ANSWER_FIGURES
    assert [f.name for f in synthetic_report.figures] == FIGURES
    for figure in [*synthetic_report.answer_figures, *synthetic_report.figures]:
        assert figure.png is not None and figure.png.startswith(PNG_MAGIC), figure.note


def test_one_table_per_op_with_every_column(synthetic_report):
    assert [t.title for t in synthetic_report.op_tables] == sorted(OPS)
    columns = list(synthetic_report.op_tables[0].frame.columns)
    assert columns == [
        "backend",
        "dtype",
        "case",
        "time (p20-p80)",
        "throughput",
        "of ceiling",
        "speedup vs eager",
        "error (limit)",
    ]
    titles = [t.title for t in synthetic_report.other_tables]
    assert titles == [
        "Measured ceilings",
        "Family: diffusion",
        "Family: gan",
        "Family: llm",
        "Family: vae",
    ]


def test_rows_the_gate_excludes_claim_no_speed(synthetic_report):
    tables = {t.title: t.frame for t in synthetic_report.op_tables + synthetic_report.other_tables}
    everything = pd.concat(list(tables.values()))
    assert not everything.astype(str).apply(lambda c: c.str.contains(f"{BOGUS_SPEEDUP:.2f}")).any().any()
    norm = tables["group_norm_silu"].set_index(["backend", "dtype", "case"])
    outside = norm.loc[("triton", "bfloat16", "n=2^20")]
    assert outside["speedup vs eager"] == "excluded (outside tolerance)"
    assert outside["throughput"] == "-" and outside["of ceiling"] == "-"
    assert outside["error (limit)"].endswith("FAIL")
    attention = tables["attention"].set_index(["backend", "dtype", "case"])
    assert attention.loc[("triton", "float32", "n=2^10"), "speedup vs eager"] == "excluded (interpreted)"
    diffusion = tables["Family: diffusion"].set_index(["backend", "dtype", "case"])
    assert diffusion.loc[OUTSIDE_WINDOW, "images_per_s"] == "excluded (outside quality window)"
    vae = tables["Family: vae"].set_index(["backend", "dtype", "case"])
    assert vae.loc[("triton", "bfloat16", "latent=16"), "images_per_s"] == "excluded (interpreted)"
    assert vae.loc[OTHER_DEVICE, "images_per_s"] == "excluded (not measured on cuda)"
    notes = {f.name: f.note for f in synthetic_report.figures}
    assert "group_norm_silu triton bfloat16 [n=2^20] (outside tolerance)" in notes["speedup"]
    assert "attention triton float32 [n=2^10] (interpreted)" in notes["roofline"]
    for name in ("pareto", "throughput_vs_quality"):
        assert "vae triton bfloat16 [latent=16] (interpreted)" in notes[name]
        assert "diffusion triton bfloat16 [ddim steps=10 w=1] (outside quality window)" in notes[name]
        assert "vae compile float32 [latent=16] (not measured on cuda)" in notes[name]


def _finding(report, *words: str) -> str:
    """The one finding that holds all of ``words``."""
    matches = [f for f in report.findings if all(word in f for word in words)]
    assert len(matches) == 1, (words, report.findings)
    return matches[0]


def test_findings_say_who_wins_and_what_a_swap_costs(synthetic_report):
    assert "triton" in _finding(synthetic_report, "ddim_step (float32)", "fastest").split("fastest")[0]
    tolerance = _finding(synthetic_report, "group_norm_silu triton bfloat16 [n=2^20]")
    assert "outside tolerance" in tolerance and "0.03" in tolerance and "0.01" in tolerance
    window = _finding(synthetic_report, "diffusion triton bfloat16 [ddim steps=10 w=1]")
    assert "outside quality window" in window and f"{QUALITY_CHANGE:+.1%}" in window
    assert "not measured on cuda" in _finding(synthetic_report, "vae compile float32 [latent=16]")
    # interpreted runs say only that there was no GPU: counted per op and backend, not listed
    interpreted = _finding(synthetic_report, "interpreter")
    assert "attention triton x1" in interpreted and "vae triton x1" in interpreted
    assert "(worse)" in _finding(synthetic_report, "diffusion, eager -> triton (bfloat16)", "fid")
    assert _finding(synthetic_report, "llm", "front")
    assert _finding(synthetic_report, "Closest to its ceiling (GB/s)")


def test_every_claim_of_the_families_is_answered_first(synthetic_report):
    """Planted: diffusion best and slowest (holds); the VAE outruns the GAN (fastest fails); the
    VAE is the least sharp and its latent paths straight (holds)."""
    claims_table, cross_family, costs = synthetic_report.answer
    assert costs.title == "What one sample costs (eager float32, counted)"
    assert list(costs.frame["family"]) == ["diffusion", "gan", "llm", "vae"]
    assert claims_table.title == "The folk claims, tested"
    verdicts = dict(zip(claims_table.frame["family"], claims_table.frame["verdict"]))
    assert verdicts == {"diffusion": "holds", "gan": "does not hold", "vae": "holds", "llm": "does not hold"}
    # the LLM moves the most weight bytes but diffusion does the most FLOPs
    (llm,) = claims_table.frame[claims_table.frame["family"] == "llm"]["evidence (95% intervals)"]
    assert (
        "most FLOPs per sample is diffusion's" in llm and "most weight bytes moved per sample is llm's" in llm
    )
    assert cross_family.title == "Cross-family: each family's best-quality point (eager, float32)"
    assert all("[" in value for value in cross_family.frame["value [95%]"] if "no interval" not in value)


def test_markdown_and_html_hold_everything(synthetic_files):
    files = synthetic_files
    markdown, html = files.markdown.read_text(), files.html.read_text()
    assert [p.name for p in files.figures] == [f"{name}.png" for name in ANSWER_FIGURES + FIGURES]
    for name in FIGURES:
        assert f"](plots/{name}.png)" in markdown
    # plots + three sample grids
    assert html.count('src="data:image/png;base64,') == len(ANSWER_FIGURES) + len(FIGURES) + 3
    assert html.index("The answer") < html.index("The folk claims, tested") < html.index("Findings")
    assert "return n if n &lt; 2 else" in html and "return n if n < 2 else" in markdown
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")  # self-contained
    assert "| ddim_step |" not in markdown and "### ddim_step" in markdown
    assert "box-a / Synthetic GPU A" in html


def test_absent_data_skips_plots_with_a_note(tmp_path):
    run = ops_only_run(tmp_path)
    report = build_report([run.path])
    notes = {f.name: f.note for f in [*report.answer_figures, *report.figures] if f.png is None}
    assert set(notes) == set(ANSWER_FIGURES + FIGURES) and all(
        note.startswith("Not drawn: ") for note in notes.values()
    )
    assert "throughput" in notes["roofline"]
    assert "knob_steps" in notes["quality_vs_steps"] and "knob_train_seed" in notes["seed_spread"]
    files = write_report([run.path], tmp_path / "out")
    assert notes["seed_spread"] in files.html.read_text() and files.figures == []


def test_an_empty_run_still_reports(tmp_path):
    run = RunDir.create(tmp_path, "empty", FINGERPRINT)
    files = write_report([run.path], tmp_path / "out")
    html = files.html.read_text()
    assert "No op rows" in html and "No samples" in html and "Synthetic GPU A" in html


def test_every_figure_survives_rows_excluded_everywhere():
    rows = [
        Measurement(
            "op",
            "x",
            b,
            "float32",
            "n=1",
            "latency",
            1e-3,
            "s",
            better="lower",
            throughput=1.0,
            throughput_unit="GB/s",
            speedup_vs_eager=2.0,
            interpreted=b != "eager",
        )
        for b in ("eager", "triton")
    ]
    rows.append(
        Measurement("ceiling", "copy", "-", "float32", "-", "copy_bandwidth", 10.0, "GB/s", better="higher")
    )
    table = typed_table(to_frame(rows, {"hostname": "h", "device_name": "d"}))
    figures = {f.name: f for f in all_figures(table)}
    assert (
        figures["speedup"].png is None and "x triton float32 [n=1] (interpreted)" in figures["speedup"].note
    )


def test_two_machines_merge_into_one_report(tmp_path):
    first = make_run(tmp_path / "a", "run-a", samples=False)
    second = make_run(
        tmp_path / "b",
        "run-b",
        {**FINGERPRINT, "hostname": "box-b", "device_name": "Synthetic GPU B"},
        seed=1,
    )
    report = build_report([first.path, second.path])
    environment = report.environment.frame
    assert list(environment.columns) == [
        "field",
        "run-a | box-a / Synthetic GPU A",
        "run-b | box-b / Synthetic GPU B",
    ]
    op_table = report.op_tables[0].frame
    assert set(op_table["machine"]) == {"box-a / Synthetic GPU A", "box-b / Synthetic GPU B"}
    assert len(op_table) == 2 * 12
    assert "Rows from 2 machines" in report.findings[0]
    assert [s.title for s in report.samples] == ["run-b: diffusion", "run-b: gan", "run-b: llm", "run-b: vae"]
    assert all(f.png is not None for f in report.figures)


def ops_only_run(root) -> RunDir:
    run = RunDir.create(root, "ops-only", FINGERPRINT)
    row = Measurement("op", "ddim_step", "eager", "float32", "n=8", "latency", 1e-5, "s", better="lower")
    run.write_rows("ops", [row])
    return run


def test_pytest_benchmark_json_and_results_directories_mix(tmp_path):
    run = ops_only_run(tmp_path)
    json_path = tmp_path / "other.json"
    json_path.write_text(
        '{"machine_info": {"node": "laptop"}, "benchmarks": [{"name": "test_x", "group": null, '
        '"stats": {"median": 0.001, "q1": 0.0009, "q3": 0.0011, "rounds": 9}}]}'
    )
    report = build_report([run.path, json_path])
    assert [t.title for t in report.op_tables] == ["ddim_step", "test_x"]
    assert set(report.op_tables[1].frame["machine"]) == {"laptop / unknown"}


def test_cli_writes_the_report_next_to_the_run(tmp_path, capsys):
    run = ops_only_run(tmp_path)
    assert cli.main(["report", str(run.path)]) == 0
    assert (run.path / "report" / "report.html").exists()
    assert "report.md" in capsys.readouterr().out
    RunDir.open(run.path).load_table()  # the report folder is no foreign file to the run


def test_cli_names_missing_and_foreign_inputs(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "nope: no such results directory" in capsys.readouterr().err
    (tmp_path / "junk.json").write_text("[1, 2, 3]")
    assert cli.main(["report", str(tmp_path / "junk.json"), "--out", str(tmp_path / "o")]) == 2
    assert "junk.json: not a pytest-benchmark JSON file" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["report"])
    assert "RUN" in capsys.readouterr().err


def test_two_pytest_benchmark_files_of_different_machines_merge(tmp_path):
    paths = []
    for host, median in (("box-a", 1e-3), ("box-b", 2e-3)):
        document = {
            "machine_info": {"node": host, "cpu": {"brand_raw": f"CPU of {host}"}},
            "benchmarks": [
                {
                    "name": "test_x",
                    "group": None,
                    "stats": {"median": median, "q1": median, "q3": median, "rounds": 5},
                }
            ],
        }
        paths.append(tmp_path / f"{host}.json")
        paths[-1].write_text(json.dumps(document))
    files = write_report(paths, tmp_path / "merged")
    report_text = files.markdown.read_text()
    assert "| - | - | - | box-a / CPU of box-a | 1 ms |" in report_text
    assert "| - | - | - | box-b / CPU of box-b | 2 ms |" in report_text
    assert "Rows from 2 machines" in report_text


def test_an_op_with_a_vendor_path_gets_a_speedup_column_against_it():
    def row(backend, seconds, vs_vendor=None, within=True):
        return Measurement(
            "op",
            "attention",
            backend,
            "bfloat16",
            "B2 H16 N8192 D128",
            "latency",
            seconds,
            "s",
            better="lower",
            speedup_vs_eager=0.01 / seconds if within else None,
            speedup_vs_vendor=vs_vendor,
            error=1e-3,
            error_limit=2e-3 if within else 1e-4,
            within_tolerance=within,
        )

    rows = [
        row("eager", 1e-2),
        row("sdpa", 2e-3, 1.0),
        row("triton", 1e-3, 2.0),
        row("compile", 5e-3, 0.4, within=False),
    ]
    (table,) = op_tables(typed_table(to_frame(rows, {"hostname": "h", "device_name": "d"})))
    by_backend = table.frame.set_index("backend")["speedup vs sdpa"]
    assert by_backend.to_dict() == {"eager": "-", "sdpa": "baseline", "triton": "2.00x", "compile": "-"}


def test_a_point_beyond_its_ceiling_is_said_to_have_stayed_in_cache(synthetic_run):
    """The copy ceiling is sized past the last-level cache: a small op can beat it, and the
    finding must say why rather than print 159% of a ceiling as if it were one."""
    from genzoo.report import findings
    from genzoo.results import typed_table

    frame = typed_table(synthetic_run.load_table())
    (within,) = [s for s in findings._closest_to_ceiling(frame) if "(GB/s)" in s]
    assert "stayed in cache" not in within
    ops = (frame["kind"] == "op") & frame["fraction_of_ceiling"].notna()
    frame.loc[ops, "fraction_of_ceiling"] *= 1.6 / frame.loc[ops, "fraction_of_ceiling"].max()
    (beyond,) = [s for s in findings._closest_to_ceiling(frame) if "(GB/s)" in s]
    assert "at 160% of the measured copy bandwidth" in beyond and "stayed in cache" in beyond
