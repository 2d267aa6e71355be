"""``genzoo run`` end to end on the tiny preset: stages, results directory, report, resume."""

from __future__ import annotations

import argparse

import pytest
import torch

from genzoo.cli import main
from genzoo.models import protocol
from genzoo.results.store import RunDir


def test_run_writes_a_results_directory_with_report_and_resumes(tmp_path, capsys):
    arguments = [
        "run",
        "--preset",
        "tiny",
        "--results",
        str(tmp_path),
        "--run-id",
        "r1",
        "--backends",
        "eager",
    ]
    assert main([*arguments, "--families", "vae", "--quick", "-k", "ddim_step and float32"]) == 0
    run = RunDir.open(tmp_path / "r1")
    assert set(run.finished_stages()) == {"ops", "train-vae", "sweep-vae"}
    table = run.load_table()
    assert {"op", "ceiling", "sweep", "quality", "training"} <= set(table["kind"])
    html = (tmp_path / "r1" / "report" / "report.html").read_text()
    assert "ddim_step" in html and "vae" in html and "data:image/png;base64," in html
    assert (run.samples_dir / "vae.png").stat().st_size > 0

    sweep_file = tmp_path / "r1" / "rows" / "sweep-vae.json"
    before = sweep_file.stat().st_mtime_ns
    assert (
        main(
            [
                "run",
                "--preset",
                "tiny",
                "--resume",
                str(tmp_path / "r1"),
                "--backends",
                "eager",
                "--families",
                "vae,gan",
                "--skip-ops",
            ]
        )
        == 0
    )
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
    assert (
        main(
            [
                "run",
                "--results",
                str(tmp_path),
                "--run-id",
                "ops",
                "--ops-only",
                "--backends",
                "eager",
                "--quick",
                "-k",
                "ddim_step and float32",
            ]
        )
        == 0
    )
    run = RunDir.open(tmp_path / "ops")
    assert run.finished_stages() == ["ops"]
    assert set(run.load_table()["kind"]) == {"op", "ceiling"}
    assert not (tmp_path / "cache").exists()


def test_the_tiny_preset_runs_every_family_end_to_end(tmp_path, monkeypatch):
    """The main command's smoke test: the preset for a quick first try trains, sweeps and reports
    every family (compile is left out: it costs minutes of compilation on 2 CPU cores)."""
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "cache"))
    arguments = [
        "run",
        "--preset",
        "tiny",
        "--results",
        str(tmp_path),
        "--run-id",
        "tiny",
        "--backends",
        "eager,sdpa,triton",
        "--quick",
        "-k",
        "ddim_step and float32 and eager",
    ]
    assert main(arguments) == 0
    run = RunDir.open(tmp_path / "tiny")
    families = protocol.names()
    assert set(run.finished_stages()) == {
        "ops",
        *(f"train-{f}" for f in families),
        *(f"sweep-{f}" for f in families),
    }
    table = run.load_table()
    speed = table[table["kind"] == "sweep"]
    assert set(speed["subject"]) == set(families) and (speed["value"] > 0).all()
    assert (tmp_path / "tiny" / "report" / "report.html").stat().st_size > 0


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["run", "--device", "cuda"], "no CUDA device"),
        (["bench", "--device", "cuda"], "no CUDA device"),
        (["bench", "--quick", "-k", "no_such_op"], "selects no benchmark point"),
    ],
)
def test_bad_input_gets_a_one_line_error(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.chdir(tmp_path)  # nothing may be written into the repository
    assert main(arguments) == 2
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if message in line]
    assert len(lines) == 1 and "Traceback" not in captured.err


@pytest.mark.parametrize(
    "preset, quick, device, expected",
    [
        (None, True, "cpu", "quick"),
        (None, True, "cuda", "quick"),
        ("cpu", True, "cpu", "cpu"),  # a named preset wins: --quick then only shrinks the op grid
        (None, False, "cpu", "cpu"),
        (None, False, "cuda", "gpu"),
    ],
)
def test_quick_runs_the_quick_preset_unless_one_is_named(preset, quick, device, expected):
    from genzoo.commands import run

    assert run._preset(argparse.Namespace(preset=preset, quick=quick), device) == expected
