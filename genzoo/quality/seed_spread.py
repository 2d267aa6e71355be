"""Training instability across seeds: the spread of a final metric (a GAN's FID per training seed)
and of the loss curves.

Spread of values v_1..v_n over seeds (n >= 2):

    std    = sqrt( sum (v_i - mean)^2 / (n - 1) )     sample standard deviation
    range  = max v - min v
    CV     = std / |mean|                              coefficient of variation (inf if mean = 0)

Oscillation of one loss curve l_0..l_T (how much it travels beyond what its range requires):

    oscillation = sum_t |l_{t+1} - l_t| / (max l - min l) - 1

0 for a monotone curve, 2k - 1 for k full periods of a sine wave (total variation 4kA over a
range of 2A), 0 for a flat one. Scale-free, so discriminator and generator losses compare.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch

from genzoo.quality.inputs import QualityInputError


@dataclasses.dataclass(frozen=True)
class Spread:
    mean: float
    std: float
    range: float
    cv: float
    n: int


@dataclasses.dataclass(frozen=True)
class LossCurveSpread:
    oscillation: Spread  # of the per-seed oscillation values
    final_loss: Spread  # of the per-seed last values
    across_seed_std: float  # per-step std across seeds, averaged over steps (equal-length curves)


def _values(name: str, values: Sequence[float], min_count: int) -> torch.Tensor:
    try:
        tensor = torch.as_tensor([float(v) for v in values], dtype=torch.float64)
    except (TypeError, ValueError):
        raise QualityInputError(f"{name} must be a sequence of numbers") from None
    if tensor.numel() < min_count:
        raise QualityInputError(f"{name} has {tensor.numel()} values; at least {min_count} are needed")
    if not torch.isfinite(tensor).all():
        raise QualityInputError(f"{name} has non-finite values: {tensor.tolist()}")
    return tensor


def spread(values: Sequence[float], name: str = "values") -> Spread:
    """Spread statistics of per-seed values (e.g. FIDs), n >= 2."""
    v = _values(name, values, min_count=2)
    mean, std = v.mean().item(), v.std(correction=1).item()
    cv = std / abs(mean) if mean != 0 else (0.0 if std == 0 else math.inf)
    return Spread(mean=mean, std=std, range=(v.max() - v.min()).item(), cv=cv, n=v.numel())


def oscillation(curve: Sequence[float]) -> float:
    """Total variation over range, minus 1, of one loss curve (>= 2 points)."""
    losses = _values("curve", curve, min_count=2)
    span = (losses.max() - losses.min()).item()
    if span == 0:
        return 0.0
    return (losses.diff().abs().sum().item() / span) - 1.0


def loss_curve_spread(curves: Sequence[Sequence[float]]) -> LossCurveSpread:
    """Spread over seeds of loss curves (one per seed, >= 2 seeds, all of the same length)."""
    if len(curves) < 2:
        raise QualityInputError(f"curves has {len(curves)} loss curves; at least 2 seeds are needed")
    tensors = [_values(f"curves[{i}]", c, min_count=2) for i, c in enumerate(curves)]
    lengths = {t.numel() for t in tensors}
    if len(lengths) != 1:
        raise QualityInputError(
            f"curves must all have the same length (steps), got lengths {sorted(lengths)}"
        )
    stacked = torch.stack(tensors)  # [seeds, steps]
    return LossCurveSpread(
        oscillation=spread([oscillation(t.tolist()) for t in tensors], name="oscillation"),
        final_loss=spread(stacked[:, -1].tolist(), name="final_loss"),
        across_seed_std=stacked.std(dim=0, correction=1).mean().item(),
    )
