"""Precision and recall (Kynkäänniemi et al. 2019) on sets whose answer is known."""

from __future__ import annotations

import pytest
import torch

from genzoo.quality.feature_net import extract_features
from genzoo.quality.inputs import QualityInputError
from genzoo.quality.precision_recall import ball_membership, knn_radii, precision_recall


def clusters(centers: torch.Tensor, which: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Unit Gaussian blobs around ``centers[which]``."""
    return centers[which] + torch.randn(len(which), centers.shape[1], generator=generator)


def test_knn_radii_on_a_line():
    points = torch.tensor([[0.0], [1.0], [3.0], [6.0]], dtype=torch.float64)
    assert knn_radii(points, 1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(points, 2).tolist() == [3.0, 2.0, 3.0, 5.0]


def test_ball_membership_counts_balls_and_includes_the_boundary():
    centres = torch.tensor([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]], dtype=torch.float64)
    radii = torch.tensor([5.0, 6.0, 1.0], dtype=torch.float64)
    queries = torch.tensor([[3.0, 4.0], [3.0, 4.1], [5.0, 0.0], [50.0, 0.0]], dtype=torch.float64)
    counts, occupied = ball_membership(queries, centres, radii)
    assert counts.tolist() == [1, 0, 2, 0]  # (3, 4) on ball 0's boundary, (5, 0) on 0's and in 1's
    assert occupied.tolist() == [True, True, False]


def test_density_and_coverage_of_a_hand_made_case():
    # real points on a line, k = 1: radii [1, 1, 2, 3]; generated at 0.5, 1.5, 100, 101: radii all 1
    real = torch.tensor([[0.0], [1.0], [3.0], [6.0]], dtype=torch.float64)
    generated = torch.tensor([[0.5], [1.5], [100.0], [101.0]], dtype=torch.float64)
    result = precision_recall(real, generated, k=1)
    # 0.5 lies in the real balls of 0 and 1, 1.5 in those of 1 and 3; 100 and 101 in none
    assert result.precision == 0.5
    assert result.density == pytest.approx((2 + 2) / (1 * 4))
    assert result.coverage == pytest.approx(3 / 4)  # the ball of 6 (radius 3) holds none
    assert result.recall == 0.5  # real 0 and 1 lie within 1 of 0.5 or 1.5; 3 and 6 do not


def test_one_mode_of_ten_keeps_precision_and_a_tenth_of_recall():
    g = torch.Generator().manual_seed(int(torch.randint(0, 2**31, ()).item()))
    centers = 30 * torch.randn(10, 3, generator=g)  # unit blobs ~50 apart
    real = clusters(centers, torch.arange(10).repeat(60), g)
    fresh = precision_recall(real, clusters(centers, torch.arange(10).repeat(60), g))
    collapsed = precision_recall(real, clusters(centers, torch.zeros(600, dtype=torch.long), g))
    # a fresh sample of the same distribution is the best any generator can do at this N
    assert fresh.precision > 0.85 and fresh.recall > 0.85
    assert collapsed.precision > fresh.precision - 0.1
    assert collapsed.recall == pytest.approx(fresh.recall / 10, abs=0.03)  # only mode 0's real points
    assert collapsed.coverage == pytest.approx(fresh.coverage / 10, abs=0.03)
    assert collapsed.density > 0.7 * fresh.density  # fidelity stays


def test_density_ignores_a_cluster_that_one_real_outlier_takes_in():
    # the failure Naeem et al. fixed: an outlier's wide ball swallows a whole cluster of bad samples
    g = torch.Generator().manual_seed(int(torch.randint(0, 2**31, ()).item()))
    real = torch.cat([torch.randn(400, 2, generator=g), torch.tensor([[40.0, 0.0]])])  # one outlier
    bad = torch.tensor([20.0, 0.0]) + 0.5 * torch.randn(400, 2, generator=g)  # near the outlier only
    result = precision_recall(real, bad)
    assert result.precision > 0.9  # inside the outlier's ball, of radius ~40
    assert result.density < 0.4  # one ball of 401 holds each sample: 1 / k
    assert result.coverage < 0.01


def test_a_distant_set_has_neither_precision_nor_recall():
    real, generated = torch.randn(2, 300, 5)
    far = precision_recall(real, generated + 1000)
    assert far.precision == 0.0 and far.recall == 0.0


def test_a_single_digit_class_has_low_recall_on_mnist_features(tiny_net, mnist):
    real = extract_features(tiny_net, mnist.train.images[:500])
    sevens = mnist.train.images[mnist.train.labels == 7][:500]
    mixed = extract_features(tiny_net, mnist.train.images[500:1000])
    one_class = precision_recall(real, extract_features(tiny_net, sevens))
    all_classes = precision_recall(real, mixed)
    assert one_class.recall < 0.5 * all_classes.recall
    assert one_class.precision > 0.5  # sevens are real digits: fidelity stays


@pytest.mark.parametrize(
    "real, generated, k, needle",
    [
        (
            torch.randn(3, 4),
            torch.randn(10, 4),
            3,
            "real_features has 3 samples; this metric needs at least 4",
        ),
        (torch.randn(10, 4), torch.randn(10, 5), 3, "generated_features has 5"),
        (torch.randn(10, 4), torch.randn(10, 4), 0, "k must be an integer >= 1"),
        (torch.randn(10, 4), torch.randn(0, 4), 3, "generated_features is empty"),
        (torch.randn(10, 4).int(), torch.randn(10, 4), 3, "real_features must be floating point"),
    ],
)
def test_bad_input_is_refused_by_name(real, generated, k, needle):
    with pytest.raises(QualityInputError, match=needle):
        precision_recall(real, generated, k)
