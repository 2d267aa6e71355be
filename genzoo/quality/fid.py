"""FID and KID: distances between the feature distributions of generated and real images.

FID (Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule", eq. 6) is the Fréchet
(Wasserstein-2) distance between Gaussians fitted to the two feature sets (Dowson & Landau 1982):

    FID = ||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))

KID (Bińkowski et al. 2018, "Demystifying MMD GANs", eq. 3 and Sec. 4) is the unbiased estimate of
the squared MMD with the cubic polynomial kernel k(x, y) = (x.y / d + 1)^3:

    MMD^2_u = sum_{i!=j} k(a_i, a_j) / (m(m-1)) + sum_{i!=j} k(b_i, b_j) / (n(n-1))
              - 2 sum_{i,j} k(a_i, b_j) / (mn)

Both are computed here in float64 on feature vectors that the feature net computed beforehand
(``feature_net.read_images``: one pass per image set, shared with every other metric), and tested
against closed forms and against ``torchmetrics``' ``FrechetInceptionDistance`` and
``KernelInceptionDistance`` (KID with one subset of all rows, where torchmetrics' subset mean is
exactly this full-set estimate). Plain functions of two feature sets, because every bootstrap
replicate of an interval (``image_metrics``) evaluates them on resampled rows.

FID is biased upward at small sample counts (Chong & Forsyth 2020): compare numbers only at equal
N, which is why the anchors of ``anchors.py`` use the generated set's N.
"""

from __future__ import annotations

import torch

from genzoo.quality.inputs import check_features, check_same_width

KID_DEGREE = 3  # Bińkowski et al.: cubic, so that the kernel matches up to the third moments


def gaussian_frechet_distance(
    mean_a: torch.Tensor, cov_a: torch.Tensor, mean_b: torch.Tensor, cov_b: torch.Tensor
) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a) + Tr(S_b) - 2 Tr((S_a S_b)^(1/2)), in float64.

    Tr((S_a S_b)^(1/2)) = Tr((S_a^(1/2) S_b S_a^(1/2))^(1/2)): the second matrix is symmetric PSD,
    so both roots come from ``eigvalsh``, with roundoff's tiny negative eigenvalues clipped to 0.
    """
    mean_a, cov_a, mean_b, cov_b = (t.detach().double().cpu() for t in (mean_a, cov_a, mean_b, cov_b))
    eigenvalues_a, eigenvectors_a = torch.linalg.eigh(cov_a)
    root_a = eigenvectors_a @ torch.diag(eigenvalues_a.clamp(min=0).sqrt()) @ eigenvectors_a.T
    middle = root_a @ cov_b @ root_a
    trace_root = torch.linalg.eigvalsh((middle + middle.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mean_a - mean_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_root
    return distance.item()


def frechet_distance(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """FID on raw feature vectors [N, D] and [M, D] (N, M >= 2): unbiased covariances, as torchmetrics."""
    features_a = check_features("features_a", features_a, min_count=2).detach().double().cpu()
    features_b = check_features("features_b", features_b, min_count=2).detach().double().cpu()
    check_same_width("features_a", features_a, "features_b", features_b)
    return gaussian_frechet_distance(
        features_a.mean(0),
        torch.cov(features_a.T, correction=1).reshape(features_a.shape[1], -1),
        features_b.mean(0),
        torch.cov(features_b.T, correction=1).reshape(features_b.shape[1], -1),
    )


def polynomial_mmd2(features_a: torch.Tensor, features_b: torch.Tensor) -> float:
    """KID on raw feature vectors [N, D] and [M, D] (N, M >= 2): the unbiased MMD^2 above, float64."""
    a = check_features("features_a", features_a, min_count=2).detach().double().cpu()
    b = check_features("features_b", features_b, min_count=2).detach().double().cpu()
    check_same_width("features_a", a, "features_b", b)
    m, n, d = a.shape[0], b.shape[0], a.shape[1]
    k_aa, k_bb, k_ab = ((x @ y.T / d + 1) ** KID_DEGREE for x, y in ((a, a), (b, b), (a, b)))
    within_a = (k_aa.sum() - k_aa.diagonal().sum()) / (m * (m - 1))
    within_b = (k_bb.sum() - k_bb.diagonal().sum()) / (n * (n - 1))
    return (within_a + within_b - 2 * k_ab.mean()).item()
