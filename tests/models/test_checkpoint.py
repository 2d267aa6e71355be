"""Checkpoints round-trip, are used only when their config and data hash match, and a stopped
training leaves no file behind."""

from __future__ import annotations

import dataclasses
import importlib

import pytest
import torch

from genzoo.models import checkpoint, protocol


def patch_family(monkeypatch, name: str, **changes) -> None:
    """Replace fields of the family's (frozen) declaration for this test."""
    family = protocol.get(name)
    monkeypatch.setattr(
        importlib.import_module(f"genzoo.models.{name}"), "FAMILY", dataclasses.replace(family, **changes)
    )


def use_preset(monkeypatch, name: str, config) -> None:
    """Make the family's ``tiny`` preset ``config`` for this test."""
    patch_family(monkeypatch, name, presets={**protocol.get(name).presets, "tiny": config})


@pytest.mark.parametrize("name", protocol.names())
def test_ensure_trained_round_trips_a_checkpoint(name, tmp_path, quick_knobs):
    first = checkpoint.ensure_trained(name, "tiny", directory=tmp_path, progress=False)
    assert first.trained_now and first.path == tmp_path / f"{name}-tiny-seed0.pt" and first.path.is_file()
    assert first.metrics and first.log.steps == protocol.get(name).config("tiny").steps
    again = checkpoint.ensure_trained(name, "tiny", directory=tmp_path, progress=False)
    assert not again.trained_now
    assert again.metrics == first.metrics and again.log.losses == first.log.losses
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, again.model.state_dict()[key]), key
    family = protocol.get(name)
    knobs = quick_knobs(name)
    assert torch.equal(
        family.sample(first.model, 2, seed=3, **knobs), family.sample(again.model, 2, seed=3, **knobs)
    )


def test_checkpoint_holds_config_data_hash_metrics_and_losses(tmp_path):
    trained = checkpoint.ensure_trained("vae", "tiny", directory=tmp_path, progress=False)
    stored = torch.load(trained.path, weights_only=True)
    assert stored["config"] == dataclasses.asdict(protocol.get("vae").config("tiny"))
    assert stored["data_sha256"] == protocol.get("vae").load_data().sha256
    assert set(stored["metrics"]) >= {"test_elbo", "train_loss"}
    assert len(stored["log"]["losses"]["loss"]) == trained.log.steps


def test_a_changed_config_retrains(tmp_path, monkeypatch):
    checkpoint.ensure_trained("vae", "tiny", directory=tmp_path, progress=False)
    changed = dataclasses.replace(protocol.get("vae").config("tiny"), learning_rate=1e-4)
    use_preset(monkeypatch, "vae", changed)
    retrained = checkpoint.ensure_trained("vae", "tiny", directory=tmp_path, progress=False)
    assert retrained.trained_now
    assert torch.load(retrained.path, weights_only=True)["config"]["learning_rate"] == 1e-4


def test_a_changed_data_hash_is_a_mismatch(tmp_path):
    trained = checkpoint.ensure_trained("vae", "tiny", directory=tmp_path, progress=False)
    config = protocol.get("vae").config("tiny")
    assert checkpoint.load(trained.path, "vae", "tiny", config, "0" * 64) is None
    assert checkpoint.load(trained.path, "vae", "tiny", config, trained.data_sha256) is not None
    stored = torch.load(trained.path, weights_only=True)
    assert "data" in checkpoint.mismatch(stored, "vae", config, "0" * 64)
    assert checkpoint.mismatch(stored, "gan", config, trained.data_sha256) is not None


def test_extra_seeds_train_one_checkpoint_each(tmp_path, monkeypatch):
    config = dataclasses.replace(protocol.get("gan").config("tiny"), extra_seeds=(5,))
    use_preset(monkeypatch, "gan", config)
    runs = checkpoint.ensure_trained_seeds("gan", "tiny", directory=tmp_path, progress=False)
    assert [run.config.seed for run in runs] == [0, 5]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gan-tiny-seed0.pt", "gan-tiny-seed5.pt"]
    assert runs[0].log.losses != runs[1].log.losses


def test_a_stopped_training_leaves_no_checkpoint(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    patch_family(monkeypatch, "vae", evaluate=interrupted)  # after training, before saving
    with pytest.raises(KeyboardInterrupt):
        checkpoint.ensure_trained("vae", "tiny", directory=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_a_stopped_save_leaves_no_partial_file(tmp_path, monkeypatch):
    def interrupted(obj, buffer):
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.ensure_trained("vae", "tiny", directory=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_an_unreadable_checkpoint_is_retrained_with_a_warning(tmp_path):
    path = checkpoint.checkpoint_path("vae", "tiny", 0, tmp_path)
    path.write_bytes(b"not a checkpoint")
    with pytest.warns(UserWarning, match="unreadable checkpoint"):
        trained = checkpoint.ensure_trained("vae", "tiny", directory=tmp_path, progress=False)
    assert trained.trained_now and torch.load(path, weights_only=True)["family"] == "vae"
