"""FID and KID against closed forms on raw features, and against torchmetrics' scores of the same features."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torchmetrics.image.fid import FrechetInceptionDistance, _compute_fid
from torchmetrics.image.kid import KernelInceptionDistance

from genzoo.quality.feature_net import extract_features
from genzoo.quality.fid import frechet_distance, gaussian_frechet_distance, polynomial_mmd2
from genzoo.quality.inputs import QualityInputError


def random_spd(dim: int, generator: torch.Generator) -> torch.Tensor:
    a = torch.randn(dim, dim, generator=generator, dtype=torch.float64)
    return a @ a.T + 0.1 * torch.eye(dim, dtype=torch.float64)


@pytest.mark.parametrize("scale", [0.5, 1.0, 2.5])
def test_shifted_and_scaled_gaussians_give_the_closed_form(scale):
    # FD(N(mu, S), N(mu + delta, c^2 S)) = ||delta||^2 + (1 - c)^2 Tr(S): (c^2 S S)^(1/2) = c S
    g = torch.Generator().manual_seed(int(scale * 10))
    cov = random_spd(7, g)
    mean, delta = torch.randn(2, 7, generator=g, dtype=torch.float64)
    expected = delta.square().sum().item() + (1 - scale) ** 2 * cov.trace().item()
    got = gaussian_frechet_distance(mean, cov, mean + delta, scale**2 * cov)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_diagonal_covariances_give_the_closed_form():
    # commuting covariances: Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) = sum (sqrt(a_i) - sqrt(b_i))^2
    g = torch.Generator().manual_seed(1)
    a, b = (
        torch.rand(5, generator=g, dtype=torch.float64) + 0.1,
        torch.rand(5, generator=g, dtype=torch.float64),
    )
    mean_a, mean_b = torch.randn(5, generator=g), torch.randn(5, generator=g)
    expected = (mean_a - mean_b).double().square().sum() + (a.sqrt() - b.sqrt()).square().sum()
    assert gaussian_frechet_distance(mean_a, torch.diag(a), mean_b, torch.diag(b)) == pytest.approx(
        expected.item()
    )


def test_agrees_with_torchmetrics_formula_on_non_commuting_covariances():
    g = torch.Generator().manual_seed(2)
    cov_a, cov_b = random_spd(6, g), random_spd(6, g)
    mean_a, mean_b = (
        torch.randn(6, generator=g, dtype=torch.float64),
        torch.randn(6, generator=g, dtype=torch.float64),
    )
    theirs = _compute_fid(mean_a, cov_a, mean_b, cov_b).item()
    assert gaussian_frechet_distance(mean_a, cov_a, mean_b, cov_b) == pytest.approx(theirs, rel=1e-8)


def test_samples_of_shifted_gaussians_approach_the_closed_form():
    g = torch.Generator().manual_seed(3)
    n, dim = 20_000, 4
    mix = torch.randn(dim, dim, generator=g)  # shared covariance S = mix mix^T
    delta = torch.tensor([1.5, -1.0, 0.5, 2.0])
    a = torch.randn(n, dim, generator=g) @ mix.T
    b = torch.randn(n, dim, generator=g) @ mix.T + delta
    # sampling error of means and covariances at n = 20k: a few hundredths on ||delta||^2 = 7.5
    assert frechet_distance(a, b) == pytest.approx(delta.square().sum().item(), abs=0.1)


def test_identical_feature_sets_have_zero_distance():
    features = torch.randn(300, 16, generator=torch.Generator().manual_seed(4)) * 3 + 1
    assert abs(frechet_distance(features, features.clone())) < 1e-9 * features.var(0).sum().item()


def test_kid_equals_its_power_sum_form_in_one_dimension():
    # d = 1: k(x, y) = (xy + 1)^3 = sum_j C(3, j) x^j y^j, so with power sums S_j = sum_i x_i^j
    # sum_{i != i'} k(a_i, a_i') = sum_j C(3, j) (S_j(a)^2 - S_2j(a)) and sum_{i, l} k(a_i, b_l)
    # = sum_j C(3, j) S_j(a) S_j(b): an exact identity on any sample, of any sizes m != n
    g = torch.Generator().manual_seed(int(torch.randint(0, 2**31, ()).item()))
    a = torch.randn(57, 1, generator=g, dtype=torch.float64)
    b = 0.7 * torch.randn(83, 1, generator=g, dtype=torch.float64) + 0.4
    m, n = len(a), len(b)

    def power_sum(x: torch.Tensor, j: int) -> float:
        return x.pow(j).sum().item()

    binomial = (1, 3, 3, 1)
    within_a = sum(c * (power_sum(a, j) ** 2 - power_sum(a, 2 * j)) for j, c in enumerate(binomial)) / (
        m * (m - 1)
    )
    within_b = sum(c * (power_sum(b, j) ** 2 - power_sum(b, 2 * j)) for j, c in enumerate(binomial)) / (
        n * (n - 1)
    )
    cross = sum(c * power_sum(a, j) * power_sum(b, j) for j, c in enumerate(binomial)) / (m * n)
    assert polynomial_mmd2(a, b) == pytest.approx(within_a + within_b - 2 * cross, rel=1e-9, abs=1e-12)


def test_kid_estimates_the_population_mmd():
    # population: MMD^2 = sum_{j>=1} C(3, j) (E a^j - E b^j)^2; for U(lo, hi),
    # E x^j = (hi^(j+1) - lo^(j+1)) / ((j + 1)(hi - lo)). Unbiased: the estimate scatters ~8% at n = 2000
    g = torch.Generator().manual_seed(int(torch.randint(0, 2**31, ()).item()))

    def moments(lo: float, hi: float) -> list[float]:
        return [(hi ** (j + 1) - lo ** (j + 1)) / ((j + 1) * (hi - lo)) for j in (1, 2, 3)]

    expected = sum(c * (x - y) ** 2 for c, x, y in zip((3, 3, 1), moments(0, 1), moments(0.3, 1.3)))
    a = torch.rand(2000, 1, generator=g, dtype=torch.float64)
    b = torch.rand(2000, 1, generator=g, dtype=torch.float64) + 0.3
    assert polynomial_mmd2(a, b) == pytest.approx(expected, rel=0.3)  # ~4 standard deviations
    same = polynomial_mmd2(a, torch.rand(2000, 1, generator=g, dtype=torch.float64))
    assert abs(same) < 0.05 * expected


class FeatureVectors(torch.nn.Module):
    """torchmetrics' ``feature`` module for vectors computed beforehand: [N, width] in, float64 out."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.num_features = width

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.double()


def test_fid_equals_torchmetrics_on_the_same_features(tiny_net, mnist):
    real = extract_features(tiny_net, mnist.train.images[:400])
    generated = extract_features(tiny_net, mnist.test.images[:150].flip(-1))  # mirrored digits
    metric = FrechetInceptionDistance(feature=FeatureVectors(real.shape[1]))
    metric.update(real, real=True)
    metric.update(generated, real=False)
    assert frechet_distance(generated, real) == pytest.approx(float(metric.compute()), rel=1e-7)


def test_kid_equals_torchmetrics_with_one_full_subset(tiny_net, mnist):
    real = extract_features(tiny_net, mnist.train.images[:200])
    generated = extract_features(tiny_net, mnist.test.images[:200].flip(-2))
    with warnings.catch_warnings():  # "will save all extracted features": a few MB here
        warnings.filterwarnings("ignore", message=".*save all extracted features.*")
        metric = KernelInceptionDistance(feature=FeatureVectors(real.shape[1]), subsets=1, subset_size=200)
    metric.update(real, real=True)
    metric.update(generated, real=False)
    mean, _ = metric.compute()  # one subset of all 200: a permutation of the full sets, same value
    assert polynomial_mmd2(generated, real) == pytest.approx(float(mean), rel=1e-8)


def test_noise_is_far_from_digits(tiny_net, mnist):
    real = extract_features(tiny_net, mnist.train.images[:500])
    held_out = frechet_distance(extract_features(tiny_net, mnist.test.images[:200]), real)
    noise_images = torch.rand(200, 1, 28, 28, generator=torch.Generator().manual_seed(9))
    assert frechet_distance(extract_features(tiny_net, noise_images), real) > 5 * held_out > 0


@pytest.mark.parametrize(
    "a, b, needle",
    [
        (torch.randn(1, 3), torch.randn(5, 3), "features_a has 1 samples"),
        (torch.randn(5, 3), torch.randn(5, 4), "features_b has 4"),
        (torch.randn(5, 3), torch.full((5, 3), math.nan), "features_b has 15 non-finite"),
        (torch.randn(5), torch.randn(5, 1), "features_a must have 2 dimensions"),
        (torch.empty(0, 3), torch.randn(5, 3), "features_a is empty"),
    ],
)
def test_bad_features_are_refused_by_name(a, b, needle):
    for function in (frechet_distance, polynomial_mmd2):
        with pytest.raises(QualityInputError, match=needle):
            function(a, b)
