"""The anchor image sets and the position of a value between them."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.quality.anchors import noise_anchor_images, real_anchor_images, scale_position
from genzoo.quality.inputs import QualityInputError


def test_position_is_zero_at_real_one_at_noise_in_either_direction():
    real, noise = sorted((1 + 50 * torch.rand(2)).tolist())
    assert scale_position(real, real, noise) == 0.0
    assert scale_position(noise, real, noise) == 1.0
    assert scale_position((real + noise) / 2, real, noise) == pytest.approx(0.5)
    # precision falls from real (high) to noise (low): the same formula still gives 0 -> 1
    assert scale_position(0.7, 0.8, 0.0) == pytest.approx(0.125)
    assert scale_position(0.3, 0.3, 0.3) is None
    with pytest.raises(QualityInputError, match="noise must be finite"):
        scale_position(1.0, 0.0, math.inf)


def test_noise_images_are_seeded_uniform_pixels():
    seed = torch.randint(0, 1000, ()).item()
    images = noise_anchor_images(300, seed)
    assert images.shape == (300, 1, 28, 28)
    assert torch.equal(images, noise_anchor_images(300, seed))
    assert not torch.equal(images, noise_anchor_images(300, seed + 1))
    assert 0.0 <= images.min() and images.max() < 1.0
    assert images.mean().item() == pytest.approx(0.5, abs=0.01)  # 235k samples of U(0, 1)


def test_real_anchor_is_training_digits_drawn_class_balanced(mnist):
    count = int(torch.randint(30, 300, ()).item())
    images = real_anchor_images(mnist, count, seed=3)
    assert torch.equal(images, real_anchor_images(mnist, count, seed=3))
    assert not torch.equal(images, real_anchor_images(mnist, count, seed=4))
    # each image is a training digit of the class the generators' labels ask for at its place
    flat_train = mnist.train.images.reshape(len(mnist.train), -1)
    for i, image in enumerate(images):
        match = (flat_train == image.reshape(1, -1)).all(1).nonzero().squeeze(1)
        assert len(match) >= 1 and int(mnist.train.labels[match[0]]) == i % 10
    assert len({tuple(image.flatten().tolist()) for image in images}) == count  # without replacement
    with pytest.raises(QualityInputError, match="count must be an integer >= 1"):
        real_anchor_images(mnist, 0)
    with pytest.raises(QualityInputError, match="digits of class 0, there are 450"):
        real_anchor_images(mnist, 4510)
