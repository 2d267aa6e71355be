"""Classifier score and class balance on logits whose answer is known."""

from __future__ import annotations

import math

import pytest
import torch

from genzoo.quality.classifier_scores import class_balance, classifier_score
from genzoo.quality.inputs import QualityInputError


def confident_logits(labels: torch.Tensor, num_classes: int = 10, margin: float = 60.0) -> torch.Tensor:
    """Logits that put probability ~1 on ``labels``, with random offsets that must not matter."""
    noise = torch.rand(len(labels), num_classes, generator=torch.Generator().manual_seed(len(labels)))
    return noise + margin * torch.nn.functional.one_hot(labels, num_classes)


@pytest.mark.parametrize("used_classes", [1, 2, 7, 10])
def test_confident_and_balanced_over_c_classes_scores_c(used_classes):
    labels = torch.arange(used_classes).repeat(30)[torch.randperm(30 * used_classes)]
    assert classifier_score(confident_logits(labels)) == pytest.approx(used_classes, rel=1e-9)


def test_identical_predictions_score_one_however_confident():
    row = torch.randn(10, generator=torch.Generator().manual_seed(1)) * 5
    assert classifier_score(row.expand(50, 10)) == pytest.approx(1.0, abs=1e-12)


def test_matches_the_definition_on_random_logits():
    logits = torch.randn(40, 10, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 3
    p = logits.softmax(1)
    marginal = p.mean(0)
    kl = (p * (p / marginal).log()).sum(1)  # KL(p(y|x) || p(y)) per sample
    assert classifier_score(logits) == pytest.approx(math.exp(kl.mean().item()), rel=1e-10)


def test_class_balance_of_known_histograms():
    balanced = class_balance(confident_logits(torch.arange(10).repeat(20)))
    assert balanced.entropy_ratio == pytest.approx(1.0)
    assert balanced.tv_from_uniform == pytest.approx(0.0, abs=1e-12)
    assert balanced.missing_classes == 0
    assert balanced.mean_confidence == pytest.approx(1.0)

    single = class_balance(confident_logits(torch.full((37,), 4)))
    assert single.entropy_ratio == pytest.approx(0.0, abs=1e-12)
    assert single.tv_from_uniform == pytest.approx(0.9)
    assert single.missing_classes == 9
    assert single.fractions[4] == 1.0

    labels = torch.tensor([0] * 6 + [1] * 3 + [2] * 1)
    partial = class_balance(confident_logits(labels))
    assert partial.fractions[:3] == pytest.approx((0.6, 0.3, 0.1))
    entropy = -(0.6 * math.log(0.6) + 0.3 * math.log(0.3) + 0.1 * math.log(0.1))
    assert partial.entropy_ratio == pytest.approx(entropy / math.log(10))
    assert partial.tv_from_uniform == pytest.approx(0.5 * (0.5 + 0.2 + 0.0 + 7 * 0.1))
    assert partial.missing_classes == 7


def test_uncertain_predictions_have_low_confidence():
    uniform = class_balance(torch.zeros(20, 10) + torch.rand(20, 10) * 1e-6)
    assert uniform.mean_confidence == pytest.approx(0.1, rel=1e-4)


@pytest.mark.parametrize(
    "logits, needle",
    [
        (torch.randn(5, 1), "at least 2 classes"),
        (torch.randn(5), "logits must have 2 dimensions"),
        (torch.empty(0, 10), "logits is empty"),
        (torch.tensor([[0.0, math.inf]]), "non-finite"),
    ],
)
def test_bad_logits_are_refused_by_name(logits, needle):
    with pytest.raises(QualityInputError, match=needle):
        classifier_score(logits)
    with pytest.raises(QualityInputError, match=needle):
        class_balance(logits)
