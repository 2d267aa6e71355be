"""FID intervals against Gaussians whose FID is known in closed form, and equal-N subsampling.

The coverage regime is chosen so that the finite-N bias matters: 8-D Gaussians, N = 100 per side,
FID 2.35, where the plug-in's bias (0.46) is over one standard error (0.38). There the plain percentile
interval misses the closed-form FID most of the time, and the interval of E[FID_N] misses it often
(both asserted, so the test would notice if the regime stopped being one where bias matters), while
each of the two intervals covers its own target in 90-99.5% of draws (97% and 98% at these seeds).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genzoo.quality.fid import frechet_distance, gaussian_frechet_distance
from genzoo.stats.fid_interval import fid_interval, fid_interval_over_seeds, plug_in_fid

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


def test_plug_in_fid_is_frechet_distance():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 3, 50, DIM))
    expected = [frechet_distance(torch.from_numpy(x), torch.from_numpy(y)) for x, y in zip(a, b)]
    assert plug_in_fid(a, b) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def test_intervals_cover_their_targets_at_a_biased_n():
    mean_b, chol_b, closed_form = gaussian_pair()
    rng = np.random.default_rng(11)

    def draw(count):
        return rng.normal(size=(count, N, DIM)), mean_b + rng.normal(size=(count, N, DIM)) @ chol_b.T

    expected_plug_in = plug_in_fid(*draw(3000)).mean()  # E[FID_N] by Monte Carlo, independent draws
    covered = {"population": 0, "interval": 0, "plain": 0, "interval_on_fid": 0}
    biases = []
    for index, (generated, reference) in enumerate(zip(*draw(DRAWS))):
        result = fid_interval(generated, reference, resamples=RESAMPLES, seed=index)
        covered["population"] += result.population.contains(closed_form)
        covered["interval"] += result.interval.contains(expected_plug_in)
        covered["interval_on_fid"] += result.interval.contains(closed_form)
        covered["plain"] += result.replicates.interval(method="percentile").contains(closed_form)
        biases.append(result.bias)
    coverage = {name: count / DRAWS for name, count in covered.items()}
    assert 0.9 <= coverage["population"] <= 0.995, coverage
    assert 0.9 <= coverage["interval"] <= 0.995, coverage
    assert coverage["plain"] < 0.6, coverage  # bias matters at this N: the plain interval is off
    assert coverage["interval_on_fid"] < 0.85, coverage  # and E[FID_N] is not FID
    # the stated bias is the real one: E[FID_N] - FID, to within 20%
    assert np.mean(biases) == pytest.approx(expected_plug_in - closed_form, rel=0.2)


def test_equal_n_subsampling_is_done_and_reported():
    rng = np.random.default_rng(3)
    generated, reference = rng.normal(size=(120, DIM)), rng.normal(size=(300, DIM)) + 0.3
    result = fid_interval(generated, reference, resamples=100, seed=5)
    assert (result.n, result.n_generated, result.n_reference) == (120, 120, 300)
    assert result.interval.n == result.population.n == result.replicates.n_reference == 120
    assert result.subsampled == "reference 300 -> 120 rows without replacement (seed 5)"
    # the estimate is the FID against 120 of the reference rows, not against all 300
    assert result.interval.estimate != pytest.approx(
        frechet_distance(torch.from_numpy(generated), torch.from_numpy(reference))
    )
    again = fid_interval(generated, reference, resamples=100, seed=5)
    assert again.interval == result.interval  # seeded
    assert (
        fid_interval(generated, reference, resamples=100, seed=6).interval.estimate
        != result.interval.estimate
    )

    swapped = fid_interval(reference, generated, resamples=100, seed=5)
    assert swapped.n == 120 and swapped.subsampled == "generated 300 -> 120 rows without replacement (seed 5)"

    same_size = fid_interval(generated, reference[:120], resamples=100)
    assert same_size.subsampled == ""
    assert same_size.interval.estimate == pytest.approx(
        frechet_distance(torch.from_numpy(generated), torch.from_numpy(reference[:120]))
    )


def test_over_seeds_subsamples_to_the_smallest_set_and_carries_the_seeds():
    rng = np.random.default_rng(4)
    per_seed = {
        1000: rng.normal(size=(80, DIM)),
        1001: rng.normal(size=(90, DIM)),
        1002: rng.normal(size=(80, DIM)),
    }
    result = fid_interval_over_seeds(per_seed, rng.normal(size=(200, DIM)), resamples=100)
    assert result.n == 80 and result.n_generated == 250 and result.interval.seeds == (1000, 1001, 1002)
    assert result.subsampled == (
        "seed 1001 90 -> 80 rows without replacement (seed 0); "
        "reference 200 -> 80 rows without replacement (seed 0)"
    )
    assert result.population.low <= result.population.estimate <= result.population.high
    assert result.interval.low <= result.interval.estimate <= result.interval.high


@pytest.mark.slow
def test_the_pipelines_own_interval_covers_the_expected_fid_at_this_n():
    """The interval every image row carries (``quality.image_metrics.metric_replicates``, read
    "centred"), in the same regime: it covers E[FID_N] in 90-99.5% of draws."""
    from genzoo.quality.image_metrics import ImageSet, metric_replicates

    mean_b, chol_b, _ = gaussian_pair()
    rng = np.random.default_rng(13)

    def draw(count):
        return rng.normal(size=(count, N, DIM)), mean_b + rng.normal(size=(count, N, DIM)) @ chol_b.T

    def image_set(features):  # the classifier's and the sharpness' inputs are not what is tested
        logits = torch.from_numpy(rng.normal(size=(N, 10)))
        return ImageSet(torch.from_numpy(features), logits, torch.from_numpy(rng.uniform(0.1, 1.0, N)))

    expected_plug_in = plug_in_fid(*draw(3000)).mean()
    covered = 0
    for index, (generated, reference) in enumerate(zip(*draw(DRAWS))):
        replicates = metric_replicates(
            image_set(generated), image_set(reference), k=5, resamples=RESAMPLES, seed=index
        )
        covered += replicates["fid"].interval().contains(expected_plug_in)
    assert 0.9 <= covered / DRAWS <= 0.995, covered / DRAWS
