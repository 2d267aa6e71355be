"""Refusals that need no cluster: Ray-only flags without ``--executor ray``, an address where no
cluster listens (an error within 30 s, never a hang), and a checkpoint from another worker whose
key does not match."""

from __future__ import annotations

import dataclasses
import io
import socket
import time

import pytest
import torch

from genzoo.cli import main
from genzoo.executors import checkpoint_transfer
from genzoo.models import checkpoint, protocol


def one_line_error(capsys, message: str) -> None:
    captured = capsys.readouterr()
    lines = [line for line in (captured.out + captured.err).splitlines() if message in line]
    assert len(lines) == 1 and "Traceback" not in captured.err, captured


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["run", "--ray-address", "10.0.0.1:6379"], "--ray-address only applies with --executor ray"),
        (["bench", "--max-retries", "3"], "--max-retries only applies with --executor ray"),
        (["train", "vae", "--ray-address", "auto"], "--ray-address only applies with --executor ray"),
        (
            ["run", "--ray-address", "auto", "--max-retries", "1"],
            "--ray-address and --max-retries only apply",
        ),
        (["run", "--executor", "ray", "--max-retries", "-1"], "--max-retries must be 0 or more, got -1"),
        (["run", "--executor", "ray", "--ray-address", "headnode"], "expected host:port"),
    ],
)
def test_bad_executor_options_get_a_one_line_error(arguments, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written into the repository
    assert main(arguments) == 2
    one_line_error(capsys, message)
    assert not any(tmp_path.iterdir()), "a refused run wrote something"


def closed_port() -> int:
    with socket.socket() as probe:  # a port the kernel just handed out and nobody listens on
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_cluster_is_an_error_within_30_seconds(tmp_path, capsys, monkeypatch):
    ray = pytest.importorskip("ray")
    assert not ray.is_initialized(), "a connected driver would be used instead of the address"
    monkeypatch.chdir(tmp_path)
    address = f"127.0.0.1:{closed_port()}"
    start = time.monotonic()
    assert main(["run", "--executor", "ray", "--ray-address", address, "--preset", "tiny"]) == 2
    assert time.monotonic() - start < 30
    one_line_error(capsys, f"--ray-address {address}: no Ray cluster reachable there")
    assert not (tmp_path / "results").exists()


def vae_checkpoint(**changes) -> bytes:
    """The bytes of a (weightless) tiny VAE checkpoint with the key a worker expects, or changed."""
    spec = protocol.get("vae")
    config = spec.config("tiny")
    payload = {
        "format": checkpoint.FORMAT_VERSION,
        "family": "vae",
        "config": dataclasses.asdict(config),
        "data_sha256": spec.load_data().sha256,
        **changes,
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def test_a_checkpoint_with_the_expected_key_is_installed_into_the_workers_cache(tmp_path):
    path = checkpoint_transfer.install(vae_checkpoint(), "vae", "tiny", seed=0, directory=tmp_path)
    assert (
        path == checkpoint.checkpoint_path("vae", "tiny", 0, tmp_path)
        and path.read_bytes() == vae_checkpoint()
    )


@pytest.mark.parametrize(
    "changes, reason",
    [({"data_sha256": "0" * 64}, "its training data differ"), ({"config": {}}, "its config differs")],
)
def test_a_checkpoint_trained_on_other_data_or_config_is_refused(changes, reason, tmp_path):
    with pytest.raises(checkpoint_transfer.CheckpointMismatchError, match=reason):
        checkpoint_transfer.install(vae_checkpoint(**changes), "vae", "tiny", seed=0, directory=tmp_path)
    assert not any(tmp_path.iterdir())
