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


def test_real_anchor_is_the_held_out_split_capped_at_its_size(mnist):
    assert torch.equal(real_anchor_images(mnist, 37), mnist.test.images[:37])
    assert real_anchor_images(mnist, 10_000).shape[0] == len(mnist.test) == 500
    with pytest.raises(QualityInputError, match="count must be an integer >= 1"):
        real_anchor_images(mnist, 0)
