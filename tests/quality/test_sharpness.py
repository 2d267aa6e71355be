"""The high-frequency share on images whose spectrum is known, and blur lowering the ratio."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from genzoo.quality.inputs import QualityInputError
from genzoo.quality.sharpness import high_frequency_fraction, sharpness_ratio


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    radius = math.ceil(3 * sigma)
    x = torch.arange(-radius, radius + 1, dtype=images.dtype)
    kernel = torch.exp(-(x**2) / (2 * sigma**2))
    kernel = kernel / kernel.sum()
    blurred = F.conv2d(F.pad(images, (radius,) * 4, mode="replicate"), kernel.reshape(1, 1, 1, -1))
    return F.conv2d(blurred, kernel.reshape(1, 1, -1, 1)).clamp(0, 1)


def test_checkerboard_is_all_high_and_a_slow_cosine_all_low_frequency():
    i, j = torch.meshgrid(torch.arange(28), torch.arange(28), indexing="ij")
    checkerboard = ((i + j) % 2).float()  # all energy at (0.5, 0.5): |f| = 0.71
    slow = 0.5 + 0.5 * torch.cos(2 * math.pi * (i + 2 * j) / 28)  # |f| = sqrt(5) / 28 = 0.08
    fractions = high_frequency_fraction(torch.stack([checkerboard, slow])[:, None])
    assert fractions.tolist() == pytest.approx([1.0, 0.0], abs=1e-12)


def test_blank_images_have_no_high_frequency_share():
    blank = torch.full((3, 1, 28, 28), 0.3)
    assert high_frequency_fraction(blank).tolist() == [0.0, 0.0, 0.0]


def test_share_is_contrast_invariant(mnist):
    digits = mnist.test.images[torch.randperm(len(mnist.test))[:20]]
    scale = 0.2 + 0.7 * torch.rand(1).item()
    assert torch.allclose(high_frequency_fraction(scale * digits), high_frequency_fraction(digits), rtol=1e-9)


def test_blur_lowers_the_ratio_monotonically_and_noise_raises_it(mnist):
    index = torch.randperm(len(mnist.test))[:100]
    real, held_out = mnist.train.images[:500], mnist.test.images[index]
    assert sharpness_ratio(held_out, real) == pytest.approx(1.0, abs=0.15)
    ratios = [sharpness_ratio(gaussian_blur(held_out, sigma), real) for sigma in (0.5, 1.0, 2.0)]
    assert ratios[0] > ratios[1] > ratios[2]
    assert ratios[1] < 0.5  # one pixel of blur removes most energy above 0.25 cycles/pixel
    noisy = (held_out + 0.2 * torch.randn_like(held_out)).clamp(0, 1)
    assert sharpness_ratio(noisy, real) > 1.5


def test_bad_input_is_refused_by_name(mnist):
    digits = mnist.test.images[:5]
    with pytest.raises(QualityInputError, match="cutoff must be in"):
        high_frequency_fraction(digits, cutoff=0.5)
    with pytest.raises(QualityInputError, match=r"generated must be \[N, 1, 28, 28\]"):
        sharpness_ratio(digits[:, :, :14], digits)
    with pytest.raises(QualityInputError, match="real has no high-frequency energy"):
        sharpness_ratio(digits, torch.zeros(4, 1, 28, 28))
    with pytest.raises(QualityInputError, match="real has 5 non-finite"):
        sharpness_ratio(digits, torch.where(torch.arange(784).reshape(1, 1, 28, 28) == 5, math.nan, digits))
