"""Precision and recall (Kynkäänniemi et al. 2019) on sets whose answer is known."""

from __future__ import annotations

import pytest
import torch

from genzoo.quality.feature_net import extract_features
from genzoo.quality.inputs import QualityInputError
from genzoo.quality.precision_recall import inside_manifold, knn_radii, precision_recall


def clusters(centers: torch.Tensor, which: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Unit Gaussian blobs around ``centers[which]``."""
    return centers[which] + torch.randn(len(which), centers.shape[1], generator=generator)


def test_knn_radii_on_a_line():
    points = torch.tensor([[0.0], [1.0], [3.0], [6.0]], dtype=torch.float64)
    assert knn_radii(points, 1).tolist() == [1.0, 1.0, 2.0, 3.0]
    assert knn_radii(points, 2).tolist() == [3.0, 2.0, 3.0, 5.0]


def test_ball_boundary_counts_as_inside():
    support = torch.tensor([[0.0, 0.0]], dtype=torch.float64)
    queries = torch.tensor([[3.0, 4.0], [3.0, 4.1]], dtype=torch.float64)
    assert inside_manifold(queries, support, torch.tensor([5.0], dtype=torch.float64)).tolist() == [True, False]


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
        (torch.randn(3, 4), torch.randn(10, 4), 3, "real_features has 3 samples; this metric needs at least 4"),
        (torch.randn(10, 4), torch.randn(10, 5), 3, "generated_features has 5"),
        (torch.randn(10, 4), torch.randn(10, 4), 0, "k must be an integer >= 1"),
        (torch.randn(10, 4), torch.randn(0, 4), 3, "generated_features is empty"),
        (torch.randn(10, 4).int(), torch.randn(10, 4), 3, "real_features must be floating point"),
    ],
)
def test_bad_input_is_refused_by_name(real, generated, k, needle):
    with pytest.raises(QualityInputError, match=needle):
        precision_recall(real, generated, k)
