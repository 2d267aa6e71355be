"""The FID interval every image row carries (``quality.image_metrics.metric_replicates``), against
Gaussians whose FID is known in closed form, and the equal-n subsampling of the reference.

The coverage regime is chosen so that the finite-N bias matters: 8-D Gaussians, N = 100 per side,
FID 2.35, where the plug-in's bias (0.46) is over one standard error (0.38). There the plain
percentile interval misses the closed-form FID most of the time and the rows' "centred" interval,
of E[FID_N], misses it often (both asserted, so the test would notice if the regime stopped being
one where bias matters), while the centred interval covers E[FID_N] and the "debiased" reading of
the same replicates covers the closed-form FID, each in 90-99.5% of draws.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genzoo.quality.fid import frechet_distance, gaussian_frechet_distance
from genzoo.quality.image_metrics import ImageSet, metric_replicates

DIM, N, DRAWS, RESAMPLES = 8, 100, 150, 200


def gaussian_pair():
    """N(0, I) against N(mean_b, cov_b) with a non-diagonal cov_b, and their closed-form FID."""
    rng = np.random.default_rng(7)
    mean_b = np.zeros(DIM)
    mean_b[0] = 1.0
    root = np.eye(DIM) + 0.2 * rng.normal(size=(DIM, DIM))
    cov_b = root @ root.T
    closed_form = gaussian_frechet_distance(
        torch.zeros(DIM, dtype=torch.float64),
        torch.eye(DIM, dtype=torch.float64),
        torch.from_numpy(mean_b),
        torch.from_numpy(cov_b),
    )
    return mean_b, np.linalg.cholesky(cov_b), closed_form


def image_set(features: np.ndarray, rng: np.random.Generator) -> ImageSet:
    """Features as given; the classifier's and the sharpness' inputs are not what is tested."""
    logits = torch.from_numpy(rng.normal(size=(len(features), 10)))
    return ImageSet(
        torch.from_numpy(features), logits, torch.from_numpy(rng.uniform(0.1, 1.0, len(features)))
    )


def test_the_rows_fid_interval_covers_its_target_and_its_debiased_reading_the_closed_form():
    mean_b, chol_b, closed_form = gaussian_pair()
    rng = np.random.default_rng(11)

    def draw(count):
        return rng.normal(size=(count, N, DIM)), mean_b + rng.normal(size=(count, N, DIM)) @ chol_b.T

    # E[FID_N] by Monte Carlo, on independent draws
    expected_plug_in = np.mean(
        [frechet_distance(torch.from_numpy(a), torch.from_numpy(b)) for a, b in zip(*draw(3000))]
    )
    covered = {"centred": 0, "debiased": 0, "plain": 0, "centred_on_fid": 0}
    biases = []
    for index, (generated, reference) in enumerate(zip(*draw(DRAWS))):
        fid = metric_replicates(
            image_set(generated, rng), image_set(reference, rng), k=5, resamples=RESAMPLES, seed=index
        )["fid"]
        covered["centred"] += fid.interval().contains(expected_plug_in)
        covered["centred_on_fid"] += fid.interval().contains(closed_form)
        covered["debiased"] += fid.interval(method="debiased").contains(closed_form)
        covered["plain"] += fid.interval(method="percentile").contains(closed_form)
        biases.append(fid.bias)
    coverage = {name: count / DRAWS for name, count in covered.items()}
    assert fid.method == "centred"  # what the rows carry
    assert 0.9 <= coverage["centred"] <= 0.995, coverage
    assert 0.9 <= coverage["debiased"] <= 0.995, coverage
    assert coverage["plain"] < 0.6, coverage  # bias matters at this N: the plain interval is off
    assert coverage["centred_on_fid"] < 0.85, coverage  # and E[FID_N] is not FID
    # the bootstrap's bias is the real one: E[FID_N] - FID, to within 20%
    assert np.mean(biases) == pytest.approx(expected_plug_in - closed_form, rel=0.2)


def test_the_reference_is_subsampled_to_the_generated_sets_n_the_same_way_each_time():
    rng = np.random.default_rng(3)
    generated = image_set(rng.normal(size=(120, DIM)), rng)
    reference = image_set(rng.normal(size=(300, DIM)) + 0.3, rng)
    fid = metric_replicates(generated, reference, k=5, resamples=100, seed=5)["fid"]
    assert fid.n == 120
    # the estimate is the FID against 120 of the reference rows, not against all 300
    assert fid.estimate != pytest.approx(frechet_distance(generated.features, reference.features))
    again = metric_replicates(generated, reference, k=5, resamples=100, seed=5)["fid"]
    assert again.estimate == fid.estimate and np.array_equal(again.values, fid.values)  # seeded
    other = metric_replicates(generated, reference, k=5, resamples=100, seed=6)["fid"]
    assert other.estimate != fid.estimate
    with pytest.raises(ValueError, match="generated has 300 rows, the reference only 120"):
        metric_replicates(reference, generated, k=5, resamples=100, seed=5)
