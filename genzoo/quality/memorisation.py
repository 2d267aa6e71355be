"""Does a generator copy its training digits? Nearest-neighbour distances in pixel space.

A generator that reproduces the data distribution places its samples as far from the training
digits as fresh real digits lie; one that memorises places them closer. So, with d(x) the
Euclidean pixel distance from x to its nearest training digit:

    memorisation ratio = median d(generated) / median d(held-out real digits)

about 1 for a generator of new digits, towards 0 for one that copies (0 for the training digits
themselves), above 1 for samples further from the data than real digits are (noise, artefacts).
This is the held-out comparison of Meehan et al. 2020 ("A Non-Parametric Test to Detect
Data-Copying in Generative Models"), reduced to a ratio of medians; the median, not the mean,
because a few broken samples must not hide many copies. Pixel space, not the feature net's:
copies are close pixel by pixel, while features are invariant to exactly the small changes
(shifts, stroke width) that tell a copy from a new digit.

Its interval resamples both sets of distances (seeded, percentile): the training set is fixed.
"""

from __future__ import annotations

import numpy as np
import torch

from genzoo.stats.bootstrap import FIRST_SIDE, REFERENCE_SIDE, stream
from genzoo.stats.interval import Replicates

ROW_BLOCK = 512  # query rows per distance block: 512 x 4,500 float64 distances at once


def nearest_distances(images: torch.Tensor, training: torch.Tensor) -> torch.Tensor:
    """[N] Euclidean distance from each image [N, ...] to its nearest training image [T, ...]."""
    queries = images.reshape(images.shape[0], -1).double().cpu()
    train = training.reshape(training.shape[0], -1).double().cpu()
    train_norms = train.square().sum(1)
    nearest = []
    for block in queries.split(ROW_BLOCK):
        squared = block.square().sum(1, keepdim=True) + train_norms - 2 * block @ train.T
        nearest.append(squared.amin(dim=1).clamp(min=0).sqrt())
    return torch.cat(nearest)


def memorisation_replicates(
    generated: torch.Tensor,
    held_out: torch.Tensor,
    *,
    resamples: int,
    seed: int,
    sampling_seeds: tuple[int, ...] = (),
) -> Replicates:
    """The memorisation ratio of nearest-training distances ``generated`` [N] against
    ``held_out`` [M] (both from ``nearest_distances``), with its bootstrap replicates."""
    generated, held_out = generated.double().numpy(), held_out.double().numpy()
    if np.median(held_out) <= 0:
        raise ValueError("held-out digits coincide with training digits: the split leaks")
    generated_draws, held_out_draws = stream(seed, FIRST_SIDE), stream(seed, REFERENCE_SIDE)
    values = [
        np.median(generated[generated_draws.integers(0, len(generated), len(generated))])
        / np.median(held_out[held_out_draws.integers(0, len(held_out), len(held_out))])
        for _ in range(resamples)
    ]
    return Replicates(
        estimate=float(np.median(generated) / np.median(held_out)),
        values=np.array(values),
        n=len(generated),
        seeds=sampling_seeds,
    )
