"""What swapping eager for another backend (triton, compile, sdpa) does to a model's outputs, for
identical seeds and noise: how far the outputs move, and how far the quality metric moves.

    max abs       = max_i |y_i - e_i|
    relative L2   = ||y - e||_2 / ||e||_2            (0/0 = 0; x/0 = inf)
    metric delta  = m(backend) - m(eager), and that over |m(eager)|

with e the eager output and y the backend's, both in float64. A non-finite backend output gives
inf for both distances, never NaN, so a row always has a number that sorts as "worst".
"""

from __future__ import annotations

import dataclasses
import math

import torch

from genzoo.measurement import Measurement
from genzoo.quality.inputs import QualityInputError


@dataclasses.dataclass(frozen=True)
class OutputDifference:
    max_abs: float
    relative_l2: float
    numel: int


@dataclasses.dataclass(frozen=True)
class MetricDelta:
    eager: float
    backend: float
    delta: float  # backend - eager
    relative: float  # delta / |eager|; inf when eager is 0 and delta is not


def output_difference(eager: torch.Tensor, backend: torch.Tensor) -> OutputDifference:
    """Distances between two backends' outputs of the same shape (any dtype, any device)."""
    for name, tensor in (("eager", eager), ("backend", backend)):
        if not isinstance(tensor, torch.Tensor):
            raise QualityInputError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.numel() == 0:
            raise QualityInputError(f"{name} is empty (shape {tuple(tensor.shape)})")
    if eager.shape != backend.shape:
        raise QualityInputError(
            f"backend has shape {tuple(backend.shape)} but eager has {tuple(eager.shape)}"
        )
    reference = eager.detach().double().cpu()
    if not torch.isfinite(reference).all():
        raise QualityInputError("eager has non-finite values: there is no reference to compare against")
    other = backend.detach().double().cpu()
    if not torch.isfinite(other).all():
        return OutputDifference(max_abs=math.inf, relative_l2=math.inf, numel=other.numel())
    difference = other - reference
    difference_norm, reference_norm = difference.norm().item(), reference.norm().item()
    if reference_norm > 0:
        relative = difference_norm / reference_norm
    else:
        relative = 0.0 if difference_norm == 0 else math.inf
    return OutputDifference(max_abs=difference.abs().max().item(), relative_l2=relative, numel=other.numel())


def metric_delta(eager: float, backend: float) -> MetricDelta:
    eager, backend = float(eager), float(backend)
    if not math.isfinite(eager):
        raise QualityInputError(f"eager metric must be finite, got {eager}")
    delta = backend - eager
    if eager != 0:
        relative = delta / abs(eager)
    else:
        relative = 0.0 if delta == 0 else math.inf
    return MetricDelta(eager=eager, backend=backend, delta=delta, relative=relative)


def kernel_swap_rows(
    *,
    subject: str,
    backend: str,
    dtype: str,
    case: str,
    outputs: OutputDifference,
    metric_name: str | None = None,
    metric: MetricDelta | None = None,
) -> list[Measurement]:
    """``Measurement`` rows (kind "quality") for one model, one backend, one case."""
    common = {
        "kind": "quality",
        "subject": subject,
        "backend": backend,
        "dtype": dtype,
        "case": case,
        "unit": "",
    }
    rows = [
        Measurement(
            metric="output_max_abs_diff",
            value=outputs.max_abs,
            better="lower",
            note="vs eager, same seeds",
            **common,
        ),
        Measurement(
            metric="output_rel_l2_diff",
            value=outputs.relative_l2,
            better="lower",
            note="vs eager, same seeds",
            **common,
        ),
    ]
    if metric is not None:
        if not metric_name:
            raise QualityInputError("metric_name must name the metric whose delta is given")
        note = f"{metric_name}: eager {metric.eager:.6g}, {backend} {metric.backend:.6g}"
        rows.append(
            Measurement(
                metric=f"{metric_name}_delta",
                value=metric.delta,
                quality_change=metric.relative,
                note=note,
                **common,
            )
        )
    return rows
