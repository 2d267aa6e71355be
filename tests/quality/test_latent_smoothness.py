"""Latent smoothness on decoders whose paths are known: straight, snapping, detouring."""

from __future__ import annotations

import math

import pytest
import torch
from scipy.integrate import quad

from genzoo.quality.inputs import QualityInputError
from genzoo.quality.latent_smoothness import latent_smoothness


def test_a_linear_decoder_is_perfectly_smooth():
    weight = torch.randn(6, 784, dtype=torch.float64)
    z0, z1 = torch.randn(5, 6, dtype=torch.float64), torch.randn(5, 6, dtype=torch.float64)
    result = latent_smoothness(lambda z: (z @ weight).reshape(-1, 1, 28, 28), z0, z1, steps=9)
    assert result.path_ratio == pytest.approx(1.0, rel=1e-9)
    assert result.jump_ratio == pytest.approx(1.0, rel=1e-9)
    expected_span = (z1 - z0).matmul(weight).norm(dim=1).mean().item()
    assert result.endpoint_distance == pytest.approx(expected_span, rel=1e-9)
    assert result.mean_step == pytest.approx(expected_span / 9, rel=1e-9)
    assert (result.steps, result.pairs) == (9, 5)


@pytest.mark.parametrize("steps", [4, 10, 33])
def test_a_decoder_that_snaps_has_jump_ratio_steps(steps):
    a, b = torch.rand(784), torch.rand(784)
    threshold = 0.5 + 0.9 / (2 * steps)  # between two grid points, so exactly one step crosses it

    def snap(z):
        return torch.where(z[:, :1] < threshold, a, b).reshape(-1, 1, 28, 28)

    result = latent_smoothness(snap, torch.zeros(2, 3), torch.ones(2, 3), steps=steps)
    assert result.jump_ratio == pytest.approx(steps)
    assert result.path_ratio == pytest.approx(1.0)


def test_a_detour_lengthens_the_path_as_the_integral_says():
    # the curve (t, h sin(pi t)) from (0, 0) to (1, 0): length = int_0^1 sqrt(1 + (h pi cos(pi t))^2) dt
    height = 0.5 + torch.rand(()).item()
    expected, _ = quad(lambda t: math.sqrt(1 + (height * math.pi * math.cos(math.pi * t)) ** 2), 0, 1)

    def detour(z):
        t = z[:, 0]
        return torch.stack([t, height * torch.sin(math.pi * t)], dim=1)

    z0, z1 = torch.zeros(1, 1, dtype=torch.float64), torch.ones(1, 1, dtype=torch.float64)
    assert latent_smoothness(detour, z0, z1, steps=400).path_ratio == pytest.approx(expected, rel=1e-4)
    # measured through a feature map that keeps only the first coordinate, the path is straight
    straight = latent_smoothness(detour, z0, z1, steps=400, features=lambda x: x[:, :1])
    assert straight.path_ratio == pytest.approx(1.0, rel=1e-9)


def test_degenerate_endpoints():
    constant = latent_smoothness(lambda z: torch.ones(z.shape[0], 5), torch.zeros(1, 2), torch.ones(1, 2))
    assert (constant.path_ratio, constant.jump_ratio) == (1.0, 1.0)

    def there_and_back(z):  # min(t, 1 - t): out to 1/2 and exactly back to 0
        return torch.minimum(z, 1 - z)

    assert latent_smoothness(there_and_back, torch.zeros(1, 1), torch.ones(1, 1)).path_ratio == math.inf


@pytest.mark.parametrize(
    "decoder, z0, z1, steps, needle",
    [
        (lambda z: z, torch.zeros(2, 3), torch.zeros(3, 3), 8, "z_start has shape"),
        (lambda z: z, torch.zeros(2, 3), torch.zeros(2, 3), 1, "steps must be an integer >= 2"),
        (
            lambda z: z[:3],
            torch.zeros(2, 3),
            torch.ones(2, 3),
            8,
            "decoder must return one output per latent",
        ),
        (lambda z: z, torch.zeros(3), torch.ones(3), 8, "z_start must be"),
        (lambda z: z / 0, torch.zeros(2, 3), torch.ones(2, 3), 8, "non-finite values along the path"),
    ],
)
def test_bad_input_is_refused_by_name(decoder, z0, z1, steps, needle):
    with pytest.raises(QualityInputError, match=needle):
        latent_smoothness(decoder, z0, z1, steps=steps)
