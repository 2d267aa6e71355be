"""What the feature net's classifier says about a set of samples: the inception-score analogue
and the balance of the classes it sees.

Classifier score (the Inception Score of Salimans et al. 2016, "Improved Techniques for Training
GANs", Sec. 4, with our MNIST classifier in Inception's place):

    CS = exp( E_x KL( p(y|x) || p(y) ) ),   p(y) = E_x p(y|x)

It lies in [1, K] for K classes: K when every sample is classified with certainty and the classes
are used equally, 1 when every sample gets the same distribution. Computed over the whole set
(no splits), so it is deterministic and its small-N bias is the same for the anchors.

Class balance looks at the predicted labels' histogram h over K classes:

    entropy ratio  = H(h) / log K                    1 = all classes equally often, 0 = one class
    TV to uniform  = 1/2 sum_c |h_c - 1/K|           0 = uniform, 1 - 1/K = a single class
"""

from __future__ import annotations

import dataclasses
import math

import torch

from genzoo.quality.inputs import QualityInputError, check_features


@dataclasses.dataclass(frozen=True)
class ClassBalance:
    fractions: tuple[float, ...]  # h_c: share of samples predicted as class c
    entropy_ratio: float
    tv_from_uniform: float
    missing_classes: int  # classes no sample was predicted as
    mean_confidence: float  # mean of max_c p(c|x): how sure the classifier is, a fidelity signal


def _log_probabilities(name: str, logits: torch.Tensor) -> torch.Tensor:
    """log p(y|x) [N, K] in float64, from ``logits`` [N, K >= 2]."""
    logits = check_features(name, logits).detach().double()
    if logits.shape[1] < 2:
        raise QualityInputError(f"{name} must have at least 2 classes, got shape {tuple(logits.shape)}")
    return logits.log_softmax(dim=1)


def classifier_score(logits: torch.Tensor) -> float:
    """exp(E_x KL(p(y|x) || p(y))) from classifier ``logits`` [N, K]."""
    log_p_y_given_x = _log_probabilities("logits", logits)
    # log p(y) = log mean_x p(y|x), by logsumexp so that no probability underflows to log 0
    log_p_y = torch.logsumexp(log_p_y_given_x, dim=0) - math.log(log_p_y_given_x.shape[0])
    kl = (log_p_y_given_x.exp() * (log_p_y_given_x - log_p_y)).sum(dim=1)
    return math.exp(kl.mean().item())


def class_balance(logits: torch.Tensor) -> ClassBalance:
    """Histogram statistics of the predicted classes argmax_c logits [N, K]."""
    probabilities = _log_probabilities("logits", logits).exp()
    num_classes = probabilities.shape[1]
    counts = torch.bincount(probabilities.argmax(dim=1).cpu(), minlength=num_classes).double()
    fractions = counts / counts.sum()
    nonzero = fractions[fractions > 0]
    entropy = -(nonzero * nonzero.log()).sum().item()
    return ClassBalance(
        fractions=tuple(fractions.tolist()),
        entropy_ratio=entropy / math.log(num_classes),
        tv_from_uniform=0.5 * (fractions - 1 / num_classes).abs().sum().item(),
        missing_classes=int((counts == 0).sum().item()),
        mean_confidence=probabilities.max(dim=1).values.mean().item(),
    )
