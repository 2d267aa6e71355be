"""Input checks of the quality metrics, so that bad input fails with a ``ValueError`` that names the
argument instead of a NaN or a silently wrong number.

Images are ``[N, 1, 28, 28]`` floating point in ``[0, 1]``, the layout of ``load_mnist()``. Values
outside ``[0, 1]`` are refused, never clamped: a generator with a ``tanh`` head (``[-1, 1]``) would
otherwise be scored on a mangled picture. Map such outputs with ``(x + 1) / 2`` first.
"""

from __future__ import annotations

import torch

IMAGE_SHAPE = (1, 28, 28)


class QualityInputError(ValueError):
    """An argument of a quality metric is unfit: the message names it."""


def _check_float_tensor(name: str, tensor: object, ndim: int, min_count: int) -> torch.Tensor:
    if not isinstance(tensor, torch.Tensor):
        raise QualityInputError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if not tensor.is_floating_point():
        raise QualityInputError(f"{name} must be floating point, got dtype {tensor.dtype}")
    if tensor.ndim != ndim:
        raise QualityInputError(f"{name} must have {ndim} dimensions, got shape {tuple(tensor.shape)}")
    if tensor.shape[0] == 0:
        raise QualityInputError(f"{name} is empty (shape {tuple(tensor.shape)})")
    if tensor.shape[0] < min_count:
        raise QualityInputError(
            f"{name} has {tensor.shape[0]} samples; this metric needs at least {min_count}"
        )
    if not torch.isfinite(tensor).all():
        bad = (~torch.isfinite(tensor)).sum().item()
        raise QualityInputError(f"{name} has {bad} non-finite values (NaN or inf)")
    return tensor


def check_images(name: str, images: object, min_count: int = 1) -> torch.Tensor:
    """``images``: [N, 1, 28, 28] floating point in [0, 1] with N >= ``min_count``."""
    images = _check_float_tensor(name, images, 4, min_count)
    if tuple(images.shape[1:]) != IMAGE_SHAPE:
        raise QualityInputError(
            f"{name} must be [N, 1, 28, 28] MNIST-like images, got shape {tuple(images.shape)}"
        )
    low, high = images.min().item(), images.max().item()
    if low < 0.0 or high > 1.0:
        raise QualityInputError(
            f"{name} has values in [{low:.4g}, {high:.4g}]; images must lie in [0, 1] "
            f"(map tanh outputs with (x + 1) / 2, clamp diffusion outputs before scoring)"
        )
    return images


def check_features(name: str, features: object, min_count: int = 1) -> torch.Tensor:
    """``features``: [N, D] floating point, finite, with N >= ``min_count``."""
    features = _check_float_tensor(name, features, 2, min_count)
    if features.shape[1] == 0:
        raise QualityInputError(f"{name} has no feature columns (shape {tuple(features.shape)})")
    return features


def check_same_width(name_a: str, a: torch.Tensor, name_b: str, b: torch.Tensor) -> None:
    if a.shape[1] != b.shape[1]:
        raise QualityInputError(
            f"{name_a} has {a.shape[1]} features per sample but {name_b} has {b.shape[1]}"
        )


def check_positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise QualityInputError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value
