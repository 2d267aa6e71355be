import subprocess
from pathlib import Path

import torch

from genzoo import fingerprint

REPO = Path(__file__).resolve().parent.parent


def test_fingerprint_names_commit_versions_and_machine():
    found = fingerprint.collect("cpu")
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    assert found.git_commit == (head or "unknown")
    assert found.packages["torch"] == torch.__version__.split("+")[0] or found.packages["torch"].startswith(
        torch.__version__.split("+")[0]
    )
    assert found.cpu_count >= 1 and found.torch_threads >= 1 and found.cpu_model
    flat = found.as_flat_dict()
    assert flat["version_torch"] == found.packages["torch"] and "packages" not in flat


def test_a_checkout_without_git_names_its_commit_through_the_environment(monkeypatch):
    monkeypatch.setattr(fingerprint, "_git", lambda *args: None)
    monkeypatch.setenv("GENZOO_GIT_COMMIT", "0123abc")
    assert fingerprint.collect("cpu").git_commit == "0123abc"
    monkeypatch.delenv("GENZOO_GIT_COMMIT")
    assert fingerprint.collect("cpu").git_commit == "unknown"
