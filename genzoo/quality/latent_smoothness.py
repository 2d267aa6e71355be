"""Latent smoothness: does a decoder move evenly and directly along a straight line in latent space?

For latents z_0, z_1, decode x_i = D(z_0 + (i / S)(z_1 - z_0)) for i = 0..S, optionally map to
features phi_i = F(x_i), and with d_i = ||x_{i+1} - x_i||_2 (step change) and
L = ||x_S - x_0||_2 (endpoint distance):

    path ratio  = sum_i d_i / L = S * mean_i d_i / L    >= 1 (triangle inequality); 1 = straight
    jump ratio  = max_i d_i / mean_i d_i                 in [1, S]; 1 = even speed, S = one snap

The path ratio is the mean step change relative to the endpoint distance, times S so that it does
not depend on the number of steps: a decoder linear along the line scores exactly 1 at any S.

A smooth VAE decoder morphs one digit into another (path ratio near 1, jump ratio small); a
decoder with holes in its latent space detours through garbage (large path ratio) or snaps
(large jump ratio). Flat endpoints (L = 0, e.g. a collapsed decoder) give path ratio inf when
the path moves at all, 1 when it does not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import torch

from genzoo.quality.inputs import QualityInputError, check_positive_int

Decoder = Callable[[torch.Tensor], torch.Tensor]  # latents [B, *latent_shape] -> outputs [B, ...]


@dataclasses.dataclass(frozen=True)
class LatentSmoothness:
    path_ratio: float  # mean over pairs
    jump_ratio: float  # mean over pairs
    mean_step: float  # mean over pairs and steps of d_i
    endpoint_distance: float  # mean over pairs of L
    steps: int
    pairs: int
    pair_path_ratios: tuple[float, ...] = ()  # each pair's, for intervals over pairs
    pair_jump_ratios: tuple[float, ...] = ()


@torch.no_grad()
def latent_smoothness(
    decoder: Decoder,
    z_start: torch.Tensor,
    z_end: torch.Tensor,
    steps: int = 16,
    features: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> LatentSmoothness:
    """Smoothness of ``decoder`` along the lines from ``z_start`` to ``z_end`` ([B, *latent]).

    ``features`` (e.g. the feature net's ``features``) measures the steps in feature space instead
    of pixel space. The B * (steps + 1) latents are decoded in one call.
    """
    steps = check_positive_int("steps", steps, minimum=2)
    for name, z in (("z_start", z_start), ("z_end", z_end)):
        if not isinstance(z, torch.Tensor) or not z.is_floating_point() or z.ndim < 2 or z.shape[0] == 0:
            raise QualityInputError(f"{name} must be a non-empty floating point tensor [B, *latent_shape]")
        if not torch.isfinite(z).all():
            raise QualityInputError(f"{name} has non-finite values")
    if z_start.shape != z_end.shape:
        raise QualityInputError(f"z_start has shape {tuple(z_start.shape)} but z_end {tuple(z_end.shape)}")
    pairs = z_start.shape[0]
    t = torch.linspace(0, 1, steps + 1, device=z_start.device, dtype=z_start.dtype)
    t = t.reshape(1, -1, *([1] * (z_start.ndim - 1)))  # [1, S + 1, 1, ...]
    path = z_start.unsqueeze(1) + t * (z_end - z_start).unsqueeze(1)  # [B, S + 1, *latent]
    decoded = decoder(path.flatten(0, 1))
    if features is not None:
        decoded = features(decoded)
    if not isinstance(decoded, torch.Tensor) or decoded.shape[0] != pairs * (steps + 1):
        raise QualityInputError(f"decoder must return one output per latent ({pairs * (steps + 1)})")
    points = decoded.detach().double().reshape(pairs, steps + 1, -1)  # [B, S + 1, P]
    if not torch.isfinite(points).all():
        raise QualityInputError("decoder (or features) returned non-finite values along the path")
    step_change = (points[:, 1:] - points[:, :-1]).norm(dim=2)  # [B, S]: d_i
    endpoint = (points[:, -1] - points[:, 0]).norm(dim=1)  # [B]: L
    path_length = step_change.sum(dim=1)
    path_ratio = [
        length / span if span > 0 else (math.inf if length > 0 else 1.0)
        for length, span in zip(path_length.tolist(), endpoint.tolist())
    ]
    mean_step = step_change.mean(dim=1)
    jump_ratio = torch.where(mean_step > 0, step_change.max(dim=1).values / mean_step.clamp(min=1e-300), 1.0)
    return LatentSmoothness(
        path_ratio=sum(path_ratio) / pairs,
        jump_ratio=jump_ratio.mean().item(),
        mean_step=mean_step.mean().item(),
        endpoint_distance=endpoint.mean().item(),
        steps=steps,
        pairs=pairs,
        pair_path_ratios=tuple(path_ratio),
        pair_jump_ratios=tuple(jump_ratio.tolist()),
    )
