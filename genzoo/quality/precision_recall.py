"""Precision and recall of a generated set, in the sense of Kynkäänniemi et al. 2019,
"Improved Precision and Recall Metric for Assessing Generative Models" (Sec. 2, eq. 1-2).

Each set's manifold is the union of balls around its feature vectors, each ball's radius being the
distance to that vector's k-th nearest neighbour in the same set (itself excluded):

    f(phi, Phi) = 1 if ||phi - phi'|| <= NND_k(phi') for some phi' in Phi, else 0     (eq. 1)
    precision   = mean over generated phi_g of f(phi_g, Phi_real)      fidelity     (eq. 2)
    recall      = mean over real phi_r of f(phi_r, Phi_generated)      diversity

A sharp but mode-collapsed generator has high precision and low recall; a blurry or noisy one low
precision. The radii shrink as a set grows, so compare sets of equal size, as the paper does
(``image_quality`` subsamples the real side to the generated count). The paper uses k = 3.
"""

from __future__ import annotations

import dataclasses

import torch

from genzoo.quality.inputs import QualityInputError, check_features, check_positive_int, check_same_width

DEFAULT_K = 3  # Kynkäänniemi et al., Sec. 3: k = 3 balances the two failure modes
ROW_BLOCK = 1024  # rows of the distance matrix held at once: 1024 x N floats


@dataclasses.dataclass(frozen=True)
class PrecisionRecall:
    precision: float  # fraction of generated samples inside the real manifold
    recall: float  # fraction of real samples inside the generated manifold
    k: int


def _distances(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Euclidean distances [len(x), len(y)] from ||x||^2 + ||y||^2 - 2 x.y, in float64."""
    squared = x.square().sum(1, keepdim=True) + y.square().sum(1) - 2 * x @ y.T
    return squared.clamp(min=0).sqrt()


def knn_radii(features: torch.Tensor, k: int) -> torch.Tensor:
    """[N] distance of each row to its k-th nearest other row (the radius of its ball)."""
    radii = []
    for start in range(0, features.shape[0], ROW_BLOCK):
        block = _distances(features[start : start + ROW_BLOCK], features)
        # k + 1 smallest: the first is the row itself at distance 0 (or a duplicate of it)
        radii.append(block.topk(k + 1, dim=1, largest=False).values[:, k])
    return torch.cat(radii)


def inside_manifold(queries: torch.Tensor, support: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """[len(queries)] bool: whether each query lies in some ball (support_j, radii_j), eq. 1."""
    inside = []
    for start in range(0, queries.shape[0], ROW_BLOCK):
        block = _distances(queries[start : start + ROW_BLOCK], support)
        inside.append((block <= radii).any(dim=1))
    return torch.cat(inside)


def precision_recall(
    real_features: torch.Tensor, generated_features: torch.Tensor, k: int = DEFAULT_K
) -> PrecisionRecall:
    """Precision and recall of ``generated_features`` [M, D] against ``real_features`` [N, D].

    Both sets need more than ``k`` samples, for each sample to have k neighbours besides itself.
    """
    k = check_positive_int("k", k)
    real = check_features("real_features", real_features, min_count=k + 1).detach().double()
    generated = check_features("generated_features", generated_features, min_count=k + 1).detach().double()
    check_same_width("real_features", real, "generated_features", generated)
    if real.device != generated.device:
        raise QualityInputError(f"real_features is on {real.device} but generated_features on {generated.device}")
    precision = inside_manifold(generated, real, knn_radii(real, k)).double().mean().item()
    recall = inside_manifold(real, generated, knn_radii(generated, k)).double().mean().item()
    return PrecisionRecall(precision=precision, recall=recall, k=k)
