"""Session fixtures: the synthetic run of ``synthetic_runs`` and its report, built once."""

from __future__ import annotations

import pytest
from synthetic_runs import make_run

from genzoo.report import build_report, save_report
from genzoo.results.store import RunDir


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory) -> RunDir:
    return make_run(tmp_path_factory.mktemp("results"))


@pytest.fixture(scope="session")
def synthetic_report(synthetic_run):
    return build_report([synthetic_run.path])


@pytest.fixture(scope="session")
def synthetic_files(synthetic_report, tmp_path_factory):
    return save_report(synthetic_report, tmp_path_factory.mktemp("report"))
