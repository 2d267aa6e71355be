"""The feature net: its augmentation, its torchmetrics wrapper, its cache, its accuracy."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from genzoo.quality import feature_net
from genzoo.quality.feature_net import (
    PRESETS,
    FeatureNet,
    _shift,
    accuracy,
    cache_path,
    extract_features,
    load_or_train_feature_net,
)


@pytest.mark.parametrize("max_shift", [1, 2])
def test_shift_moves_each_image_by_at_most_max_shift(max_shift):
    images = torch.zeros(64, 1, 28, 28)
    rows, cols = torch.randint(3, 25, (2, 64))
    images[torch.arange(64), 0, rows, cols] = 1.0
    shifted = _shift(images, max_shift, torch.Generator().manual_seed(max_shift))
    where = shifted[:, 0].flatten(1).argmax(1)
    dy, dx = where // 28 - rows, where % 28 - cols
    assert shifted.sum().item() == 64  # an interior pixel is never shifted out
    assert dy.abs().max() <= max_shift and dx.abs().max() <= max_shift
    assert len(set(zip(dy.tolist(), dx.tolist()))) > 3  # per image, not one shift for the batch


def test_one_pass_reads_the_features_and_the_logits_of_the_net():
    net = FeatureNet(PRESETS["tiny"])
    net.feature_scale.fill_(0.5)
    images = torch.rand(feature_net.FEATURE_BATCH + 3, 1, 28, 28)  # two batches, the second odd
    readout = feature_net.read_images(net, images)
    assert readout.features.shape == (len(images), PRESETS["tiny"].feature_dim)
    torch.testing.assert_close(readout.features, net.features(images))
    torch.testing.assert_close(readout.logits, net(images))


def test_cache_key_follows_config_and_data():
    tiny = PRESETS["tiny"]
    assert cache_path(tiny, "a") == cache_path(dataclasses.replace(tiny), "a")
    assert cache_path(tiny, "a") != cache_path(tiny, "b")
    assert cache_path(tiny, "a") != cache_path(dataclasses.replace(tiny, seed=1), "a")


def test_trained_once_then_loaded_from_the_cache(tiny_reference, monkeypatch, mnist):
    trained = tiny_reference.trained  # the session fixture trained and cached it
    assert trained.path is not None and trained.path.is_file()
    assert trained.data_sha256 == mnist.sha256

    def refuse(*args, **kwargs):
        raise AssertionError("the cached net should have been loaded, not retrained")

    monkeypatch.setattr(feature_net, "train_feature_net", refuse)
    loaded = load_or_train_feature_net(PRESETS["tiny"])
    for name, tensor in trained.net.state_dict().items():
        assert torch.equal(tensor, loaded.net.state_dict()[name]), name
    assert loaded.held_out_accuracy == trained.held_out_accuracy
    assert accuracy(loaded.net, mnist.test.images, mnist.test.labels) == trained.held_out_accuracy
    assert not any(p.requires_grad for p in loaded.net.parameters())


def test_training_is_seeded_and_leaves_the_global_rng_alone(mnist):
    config = dataclasses.replace(PRESETS["tiny"], train_subset=200)
    state = torch.get_rng_state()
    first = feature_net.train_feature_net(config, mnist)
    assert torch.equal(torch.get_rng_state(), state)
    second = feature_net.train_feature_net(config, mnist)
    assert all(torch.equal(a, b) for a, b in zip(first.net.parameters(), second.net.parameters()))


def test_tiny_net_learns_something_and_its_features_have_unit_mean_square(tiny_reference, mnist):
    assert tiny_reference.trained.held_out_accuracy > 0.6  # 10 classes: chance is 0.1
    seen = mnist.train.images[: PRESETS["tiny"].train_subset]
    assert extract_features(tiny_reference.trained.net, seen).square().mean().item() == pytest.approx(
        1.0, rel=1e-5
    )


@pytest.mark.slow
def test_cpu_preset_reaches_97_percent_on_the_held_out_split(tmp_path, monkeypatch, mnist):
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path))
    trained = load_or_train_feature_net(PRESETS["cpu"])
    assert trained.held_out_accuracy >= 0.97
    assert accuracy(trained.net, mnist.test.images, mnist.test.labels) == trained.held_out_accuracy
