import subprocess
import sys

import pytest

from genzoo.cli import build_parser, main


def test_help_lists_the_subcommands(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "bench" in out and "run" in out


def test_python_dash_m_genzoo_is_the_same_command():
    result = subprocess.run(
        [sys.executable, "-m", "genzoo", "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and "genzoo" in result.stdout


def test_bad_backend_is_a_clear_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["bench", "--backends", "eager,cudnn"])
    assert exit_info.value.code == 2
    assert "unknown backends ['cudnn']" in capsys.readouterr().err
