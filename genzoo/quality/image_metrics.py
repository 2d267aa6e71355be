"""Every image metric of one generated set against one reference set, and their bootstrap replicates.

``set_metrics`` is the one definition of the metrics: the figure of a set and each of its bootstrap
replicates are the same function of (generated rows, reference rows). Both sides always have the
same number of rows n (the larger is subsampled without replacement first, seeded): FID, KID,
precision / recall and the classifier score all depend on N, so a figure compares only with figures
at the same n, the anchors' included.

Intervals (``metric_replicates``): each replicate resamples the generated rows and, independently,
the reference rows, with replacement (a two-sample bootstrap, Efron & Tibshirani 1993, Sec. 8.3),
and every metric reads the same replicate. They are read as "centred" percentile intervals
(``genzoo.stats.interval``): they cover each metric's expected value at this n. Resampling with
replacement repeats rows, which shortens the k-NN radii of precision / recall / density / coverage
and raises KID's self-similarity: a shift of the replicates' location that the centring removes, as
it removes FID's upward bias.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from genzoo.quality.classifier_scores import class_balance, classifier_score
from genzoo.quality.fid import frechet_distance, polynomial_mmd2
from genzoo.quality.precision_recall import precision_recall
from genzoo.stats.bootstrap import FIRST_SIDE, REFERENCE_SIDE, SUBSAMPLE, stream
from genzoo.stats.interval import Replicates

# which way each metric is better; "" where the reference's value is the target rather than a
# direction (high-frequency energy, sharpness)
BETTER = {
    "fid": "lower",
    "kid": "lower",
    "precision": "higher",
    "recall": "higher",
    "density": "higher",
    "coverage": "higher",
    "classifier_score": "higher",
    "class_entropy_ratio": "higher",
    "class_tv_from_uniform": "lower",
    "missing_classes": "lower",
    "mean_confidence": "higher",
    "hf_fraction": "",
    "sharpness_ratio": "",
}


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """What the metrics read of one image set: the feature net's single pass and each image's
    high-frequency energy, on the CPU in float64 (rows are indexed many times over)."""

    features: torch.Tensor  # [N, D]
    logits: torch.Tensor  # [N, classes]
    hf: torch.Tensor  # [N], high_frequency_fraction of each image

    def __len__(self) -> int:
        return self.features.shape[0]

    def take(self, index: np.ndarray | torch.Tensor) -> ImageSet:
        index = torch.as_tensor(index)
        return ImageSet(self.features[index], self.logits[index], self.hf[index])


def set_metrics(generated: ImageSet, reference: ImageSet, k: int) -> dict[str, float]:
    """The metrics of ``generated`` against ``reference`` (module docstring), keyed as ``BETTER``."""
    pr = precision_recall(reference.features, generated.features, k)
    balance = class_balance(generated.logits)
    hf, reference_hf = generated.hf.mean().item(), reference.hf.mean().item()
    return {
        "fid": frechet_distance(generated.features, reference.features),
        "kid": polynomial_mmd2(generated.features, reference.features),
        "precision": pr.precision,
        "recall": pr.recall,
        "density": pr.density,
        "coverage": pr.coverage,
        "classifier_score": classifier_score(generated.logits),
        "class_entropy_ratio": balance.entropy_ratio,
        "class_tv_from_uniform": balance.tv_from_uniform,
        "missing_classes": float(balance.missing_classes),
        "mean_confidence": balance.mean_confidence,
        "hf_fraction": hf,
        "sharpness_ratio": hf / reference_hf,
    }


def equal_size(reference: ImageSet, count: int, seed: int) -> ImageSet:
    """``count`` reference rows without replacement (all of them when it has no more), seeded:
    the same subset for every generated set of that size."""
    if len(reference) <= count:
        return reference
    keep = np.sort(stream(seed, SUBSAMPLE, count).permutation(len(reference))[:count])
    return reference.take(keep)


def metric_replicates(
    generated: ImageSet,
    reference: ImageSet,
    *,
    k: int,
    resamples: int,
    seed: int,
    sampling_seeds: tuple[int, ...] = (),
) -> dict[str, Replicates]:
    """Each metric's figure and ``resamples`` bootstrap replicates, at n = min(N, M) rows a side.
    The generated set must not be larger than the reference (subsample it first, as the caller
    decides which of its rows to keep)."""
    if len(generated) > len(reference):
        raise ValueError(f"generated has {len(generated)} rows, the reference only {len(reference)}")
    reference = equal_size(reference, len(generated), seed)
    n = len(generated)
    estimates = set_metrics(generated, reference, k)
    generated_draws, reference_draws = stream(seed, FIRST_SIDE), stream(seed, REFERENCE_SIDE)
    values = [
        set_metrics(
            generated.take(generated_draws.integers(0, n, n)),
            reference.take(reference_draws.integers(0, n, n)),
            k,
        )
        for _ in range(resamples)
    ]
    return {
        name: Replicates(
            estimate=estimate,
            values=np.array([replicate[name] for replicate in values]),
            n=n,
            method="centred",
            seeds=sampling_seeds,
        )
        for name, estimate in estimates.items()
    }
