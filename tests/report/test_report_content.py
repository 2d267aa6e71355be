"""The report from a synthetic run holding every kind of row: every plot is drawn, every table is
there, rows that may not claim speed show "excluded" and never a speedup, and absent data makes a
one-line note instead of an error."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from synthetic_runs import BOGUS_SPEEDUP, FINGERPRINT, OPS, make_run

from genzoo import cli
from genzoo.measurement import Measurement
from genzoo.report import build_report, write_report
from genzoo.report.plots import all_figures
from genzoo.results.store import RunDir

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FIGURES = ["speedup", "roofline", "pareto", "ddim_steps", "throughput_vs_fid", "gan_seeds"]


def test_every_plot_is_drawn_from_a_full_run(synthetic_report):
    assert [f.name for f in synthetic_report.figures] == FIGURES
    for figure in synthetic_report.figures:
        assert figure.png is not None and figure.png.startswith(PNG_MAGIC), figure.note


def test_one_table_per_op_with_every_column(synthetic_report):
    assert [t.title for t in synthetic_report.op_tables] == sorted(OPS)
    columns = list(synthetic_report.op_tables[0].frame.columns)
    assert columns == ["backend", "dtype", "case", "time (p20-p80)", "throughput", "of ceiling", "speedup vs eager", "error (limit)"]
    titles = [t.title for t in synthetic_report.other_tables]
    assert titles == [
        "Measured ceilings", "Cross-family: each family's best-quality point (eager, float32)",
        "Family: diffusion", "Family: gan", "Family: llm", "Family: vae",
    ]  # fmt: skip


def test_out_of_tolerance_and_interpreted_rows_claim_no_speed(synthetic_report):
    tables = {t.title: t.frame for t in synthetic_report.op_tables}
    everything = pd.concat([t.frame for t in synthetic_report.op_tables + synthetic_report.other_tables])
    assert not everything.astype(str).apply(lambda c: c.str.contains(f"{BOGUS_SPEEDUP:.2f}")).any().any()
    norm = tables["group_norm_silu"].set_index(["backend", "dtype", "case"])
    outside = norm.loc[("triton", "bfloat16", "n=2^20")]
    assert outside["speedup vs eager"] == "excluded (outside tolerance)"
    assert outside["throughput"] == "-" and outside["of ceiling"] == "-" and outside["error (limit)"].endswith("FAIL")
    attention = tables["attention"].set_index(["backend", "dtype", "case"])
    assert attention.loc[("triton", "float32", "n=2^10"), "speedup vs eager"] == "excluded (interpreted)"
    vae = next(t.frame for t in synthetic_report.other_tables if t.title == "Family: vae").set_index(["backend", "dtype"])
    assert vae.loc[("triton", "bfloat16"), "images_per_s"] == "excluded (interpreted)"
    notes = {f.name: f.note for f in synthetic_report.figures}
    assert "group_norm_silu triton bfloat16 [n=2^20] (outside tolerance)" in notes["speedup"]
    assert "attention triton float32 [n=2^10] (interpreted)" in notes["roofline"]
    assert "vae triton bfloat16 [latent=16] (interpreted)" in notes["pareto"]


def test_findings_say_who_wins_and_what_a_swap_costs(synthetic_report):
    text = "\n".join(synthetic_report.findings)
    assert "ddim_step (float32): triton is fastest in 2 of 2 cases" in text
    assert "No speed claim for 1 variant(s) outside their tolerance" in text
    assert "group_norm_silu triton bfloat16 [n=2^20] (outside tolerance: error 0.03 > limit 0.01)" in text
    # interpreted runs say only that there was no GPU: counted per op and backend, not listed
    assert "No speed claim for 2 variant(s) run under Triton's CPU interpreter" in text
    assert "attention triton x1, vae triton x1." in text
    assert "diffusion, eager -> triton (bfloat16), mean over 6 case(s): fid +0.3, +1.2" in text
    assert "Closest to its ceiling (GB/s)" in text
    assert "llm: speed/quality front is triton bfloat16" in text


def test_markdown_and_html_hold_everything(synthetic_files):
    files = synthetic_files
    markdown, html = files.markdown.read_text(), files.html.read_text()
    assert [p.name for p in files.figures] == [f"{name}.png" for name in FIGURES]
    for name in FIGURES:
        assert f"](plots/{name}.png)" in markdown
    assert html.count('src="data:image/png;base64,') == len(FIGURES) + 3  # plots + three sample grids
    assert "return n if n &lt; 2 else" in html and "return n if n < 2 else" in markdown
    assert "<script" not in html and "http" not in html.replace("http-equiv", "")  # self-contained
    assert "| ddim_step |" not in markdown and "### ddim_step" in markdown
    assert "box-a / Synthetic GPU A" in html


def test_absent_data_skips_plots_with_a_note(tmp_path):
    run = ops_only_run(tmp_path)
    report = build_report([run.path])
    notes = {f.name: f.note for f in report.figures if f.png is None}
    assert set(notes) == set(FIGURES)
    assert notes["roofline"] == "Not drawn: no op rows with a throughput (GB/s or TFLOP/s)."
    assert notes["ddim_steps"] == "Not drawn: no diffusion quality rows with steps=N in their case."
    assert notes["gan_seeds"] == "Not drawn: no gan quality rows with seed=N in their case."
    files = write_report([run.path], tmp_path / "out")
    assert "Not drawn: no gan quality rows" in files.html.read_text() and files.figures == []


def test_an_empty_run_still_reports(tmp_path):
    run = RunDir.create(tmp_path, "empty", FINGERPRINT)
    files = write_report([run.path], tmp_path / "out")
    html = files.html.read_text()
    assert "No op rows" in html and "No samples" in html and "Synthetic GPU A" in html


def test_every_figure_survives_rows_excluded_everywhere():
    rows = [Measurement("op", "x", b, "float32", "n=1", "latency", 1e-3, "s", throughput=1.0, throughput_unit="GB/s",
                        speedup_vs_eager=2.0, interpreted=b != "eager") for b in ("eager", "triton")]  # fmt: skip
    rows.append(Measurement("ceiling", "copy", "-", "float32", "-", "copy_bandwidth", 10.0, "GB/s"))
    from genzoo.measurement import to_frame
    from genzoo.results import typed_table

    figures = {f.name: f for f in all_figures(typed_table(to_frame(rows, {"hostname": "h", "device_name": "d"})))}
    assert figures["speedup"].png is None and "x triton float32 [n=1] (interpreted)" in figures["speedup"].note


def test_two_machines_merge_into_one_report(tmp_path):
    first = make_run(tmp_path / "a", "run-a", samples=False)
    second = make_run(tmp_path / "b", "run-b", {**FINGERPRINT, "hostname": "box-b", "device_name": "Synthetic GPU B"}, seed=1)
    report = build_report([first.path, second.path])
    environment = report.environment.frame
    assert list(environment.columns) == ["field", "run-a | box-a / Synthetic GPU A", "run-b | box-b / Synthetic GPU B"]
    op_table = report.op_tables[0].frame
    assert set(op_table["machine"]) == {"box-a / Synthetic GPU A", "box-b / Synthetic GPU B"}
    assert len(op_table) == 2 * 12
    assert "Rows from 2 machines" in report.findings[0]
    assert [s.title for s in report.samples] == ["run-b: diffusion", "run-b: gan", "run-b: llm", "run-b: vae"]
    assert all(f.png is not None for f in report.figures)


def ops_only_run(root) -> RunDir:
    run = RunDir.create(root, "ops-only", FINGERPRINT)
    run.write_rows("ops", [Measurement("op", "ddim_step", "eager", "float32", "n=8", "latency", 1e-5, "s")])
    return run


def test_pytest_benchmark_json_and_results_directories_mix(tmp_path):
    run = ops_only_run(tmp_path)
    json_path = tmp_path / "other.json"
    json_path.write_text('{"machine_info": {"node": "laptop"}, "benchmarks": [{"name": "test_x", "group": null, '
                         '"stats": {"median": 0.001, "q1": 0.0009, "q3": 0.0011, "rounds": 9}}]}')  # fmt: skip
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
        document = {"machine_info": {"node": host, "cpu": {"brand_raw": f"CPU of {host}"}}, "benchmarks": [
            {"name": "test_x", "group": None, "stats": {"median": median, "q1": median, "q3": median, "rounds": 5}}]}  # fmt: skip
        paths.append(tmp_path / f"{host}.json")
        paths[-1].write_text(json.dumps(document))
    files = write_report(paths, tmp_path / "merged")
    report_text = files.markdown.read_text()
    assert "| - | - | - | box-a / CPU of box-a | 1 ms |" in report_text
    assert "| - | - | - | box-b / CPU of box-b | 2 ms |" in report_text
    assert "Rows from 2 machines" in report_text


def test_an_op_with_a_vendor_path_gets_a_speedup_column_against_it():
    from genzoo.measurement import to_frame
    from genzoo.report import op_tables
    from genzoo.results import typed_table

    def row(backend, seconds, vs_vendor=None, within=True):
        return Measurement("op", "attention", backend, "bfloat16", "B2 H16 N8192 D128", "latency", seconds, "s",
                           speedup_vs_eager=0.01 / seconds if within else None, speedup_vs_vendor=vs_vendor,
                           error=1e-3, error_limit=2e-3 if within else 1e-4, within_tolerance=within)  # fmt: skip

    rows = [row("eager", 1e-2), row("sdpa", 2e-3, 1.0), row("triton", 1e-3, 2.0), row("compile", 5e-3, 0.4, within=False)]
    (table,) = op_tables(typed_table(to_frame(rows, {"hostname": "h", "device_name": "d"})))
    by_backend = table.frame.set_index("backend")["speedup vs sdpa"]
    assert by_backend.to_dict() == {"eager": "-", "sdpa": "baseline", "triton": "2.00x", "compile": "-"}
