"""Precision and recall of a generated set, in the sense of Kynkäänniemi et al. 2019,
"Improved Precision and Recall Metric for Assessing Generative Models" (Sec. 2), with the
density and coverage of Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for
Generative Models", from the same balls.

Each set's manifold is the union of balls around its feature vectors, each ball's radius being the
distance to that vector's k-th nearest neighbour in the same set (itself excluded):

    f(phi, Phi) = 1 if ||phi - phi'|| <= NND_k(phi') for some phi' in Phi, else 0
    precision   = mean over generated phi_g of f(phi_g, Phi_real)             fidelity
    recall      = mean over real phi_r of f(phi_r, Phi_generated)             diversity
    density     = sum_g (number of real balls containing phi_g) / (k M)       fidelity, ~1 if real
    coverage    = share of real balls that contain at least one generated phi_g    diversity

A sharp but mode-collapsed generator has high precision and low recall; a blurry or noisy one low
precision. One real outlier's wide ball can take in a whole cluster of bad samples: precision
counts them all as real, density only as 1/k each, and coverage barely moves. That is what
Naeem et al. designed the two for, and what the noise anchor shows on MNIST (precision of uniform
noise ~0.9 at N = 500, density ~0.45, coverage ~0.01). The radii shrink as a set grows, so compare
sets of equal size, as both papers do (``image_quality`` subsamples the real side to the
generated count). Kynkäänniemi et al. use k = 3, Naeem et al. k = 5; one k serves all four here.
"""

from __future__ import annotations

import dataclasses

import torch

from genzoo.quality.inputs import QualityInputError, check_features, check_positive_int, check_same_width

DEFAULT_K = 3  # Kynkäänniemi et al.'s choice
ROW_BLOCK = 1024  # rows of the distance matrix held at once: 1024 x N floats


@dataclasses.dataclass(frozen=True)
class PrecisionRecall:
    precision: float  # share of generated samples inside the real manifold
    recall: float  # share of real samples inside the generated manifold
    density: float  # real balls per generated sample, over k: ~1 for a sample of the real distribution
    coverage: float  # share of real balls holding at least one generated sample
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


def ball_membership(
    queries: torch.Tensor, centres: torch.Tensor, radii: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """For balls (centres_j, radii_j), boundary included: how many balls hold each query
    ([len(queries)] int64), and whether each ball holds some query ([len(centres)] bool)."""
    counts, occupied = [], torch.zeros(centres.shape[0], dtype=torch.bool, device=centres.device)
    for start in range(0, queries.shape[0], ROW_BLOCK):
        inside = _distances(queries[start : start + ROW_BLOCK], centres) <= radii  # [block, N]
        counts.append(inside.sum(dim=1))
        occupied |= inside.any(dim=0)
    return torch.cat(counts), occupied


def precision_recall(
    real_features: torch.Tensor, generated_features: torch.Tensor, k: int = DEFAULT_K
) -> PrecisionRecall:
    """Precision, recall, density and coverage of ``generated_features`` [M, D] against
    ``real_features`` [N, D]. Both sets need more than ``k`` samples, for each sample to have k
    neighbours besides itself."""
    k = check_positive_int("k", k)
    real = check_features("real_features", real_features, min_count=k + 1).detach().double()
    generated = check_features("generated_features", generated_features, min_count=k + 1).detach().double()
    check_same_width("real_features", real, "generated_features", generated)
    if real.device != generated.device:
        raise QualityInputError(
            f"real_features is on {real.device} but generated_features on {generated.device}"
        )
    real_balls_per_sample, real_balls_occupied = ball_membership(generated, real, knn_radii(real, k))
    generated_balls_per_real, _ = ball_membership(real, generated, knn_radii(generated, k))
    return PrecisionRecall(
        precision=(real_balls_per_sample > 0).double().mean().item(),
        recall=(generated_balls_per_real > 0).double().mean().item(),
        density=real_balls_per_sample.sum().item() / (k * generated.shape[0]),
        coverage=real_balls_occupied.double().mean().item(),
        k=k,
    )
