"""``genzoo run`` end to end on the tiny preset: stages, results directory, report, resume."""

from __future__ import annotations

from genzoo.cli import main
from genzoo.results.store import RunDir


def test_run_writes_a_results_directory_with_report_and_resumes(tmp_path, capsys):
    arguments = ["run", "--preset", "tiny", "--results", str(tmp_path), "--run-id", "r1", "--backends", "eager"]
    assert main([*arguments, "--families", "vae", "--quick", "-k", "ddim_step and float32"]) == 0
    run = RunDir.open(tmp_path / "r1")
    assert set(run.finished_stages()) == {"ops", "train-vae", "sweep-vae"}
    table = run.load_table()
    assert {"op", "ceiling", "sweep", "quality", "model"} <= set(table["kind"])
    html = (tmp_path / "r1" / "report" / "report.html").read_text()
    assert "ddim_step" in html and "vae" in html and "data:image/png;base64," in html
    assert (run.samples_dir / "vae.png").stat().st_size > 0

    sweep_file = tmp_path / "r1" / "rows" / "sweep-vae.json"
    before = sweep_file.stat().st_mtime_ns
    assert main(["run", "--preset", "tiny", "--resume", str(tmp_path / "r1"), "--backends", "eager",
                 "--families", "vae,gan", "--skip-ops"]) == 0  # fmt: skip
    assert sweep_file.stat().st_mtime_ns == before, "a finished stage must not run again"
    assert {"train-gan", "sweep-gan"} <= set(RunDir.open(tmp_path / "r1").finished_stages())
    assert "report:" in capsys.readouterr().out


def test_bad_family_is_a_usage_error(capsys):
    try:
        main(["run", "--families", "vae,gpt"])
    except SystemExit as exit_info:
        assert exit_info.code == 2
    assert "unknown families ['gpt']" in capsys.readouterr().err


def test_ops_only_runs_the_op_suite_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "cache"))  # no checkpoint may be trained
    assert main(["run", "--results", str(tmp_path), "--run-id", "ops", "--ops-only", "--backends", "eager",
                 "--quick", "-k", "ddim_step and float32"]) == 0  # fmt: skip
    run = RunDir.open(tmp_path / "ops")
    assert run.finished_stages() == ["ops"]
    assert set(run.load_table()["kind"]) == {"op", "ceiling"}
    assert not (tmp_path / "cache").exists()
