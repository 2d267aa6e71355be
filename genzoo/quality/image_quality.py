"""One entry point for the quality of generated MNIST-like images: ``evaluate_images``.

Given generated images [N, 1, 28, 28] in [0, 1] (and the sampling seeds that drew them), it scores
them against the **500 held-out digits** (50 per class), which no generator and no feature net has
trained on; a generator that memorised its training digits gains nothing there. Every figure comes
with its 95% bootstrap interval at n = min(N, 500) rows a side (``image_metrics``):

    fid, kid                          distribution distance (fid.py), on the feature net
    precision, recall, density, coverage     fidelity / diversity on k-NN balls (precision_recall.py)
    classifier_score                  inception-score analogue (classifier_scores.py)
    class_entropy_ratio, class_tv_from_uniform, missing_classes, mean_confidence   class balance
    hf_fraction, sharpness_ratio      high-frequency energy, and its ratio to the reference digits'
    memorisation_ratio                nearest-training-digit distance against real digits' (memorisation.py)

and the same figures for the two anchors of anchors.py at the same n: the real floor (training
digits drawn class-balanced as the generators draw their labels) and uniform noise. A generator
whose interval lies wholly on the better side of the floor's is beating real data, which no
generator can do beyond noise: ``beats_real_floor`` names those metrics, and the report flags them.

Everything about the real side (feature net, reference set, nearest-neighbour distances of the
held-out digits to the training set) lives in an ``ImageQualityReference``, built once and reused
across generated sets; anchors are cached in it per n.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import torch

from genzoo.measurement import Measurement
from genzoo.models.data import load_mnist
from genzoo.quality import anchors
from genzoo.quality.feature_net import PRESETS, FeatureNetConfig, load_or_train_feature_net, read_images
from genzoo.quality.image_metrics import BETTER as SET_BETTER
from genzoo.quality.image_metrics import ImageSet, metric_replicates
from genzoo.quality.inputs import check_images
from genzoo.quality.memorisation import memorisation_replicates, nearest_distances
from genzoo.quality.precision_recall import DEFAULT_K
from genzoo.quality.sharpness import DEFAULT_CUTOFF, high_frequency_fraction
from genzoo.stats.interval import Interval, Replicates, measurement_fields

# memorisation's target is the real digits' 1, not a direction
BETTER = {**SET_BETTER, "memorisation_ratio": ""}
ROW_BETTER = {**BETTER, "fid_equal_n": "lower", "kid_equal_n": "lower"}


@dataclasses.dataclass(frozen=True)
class ImageQualityConfig:
    feature_net: FeatureNetConfig = PRESETS["cpu"]
    k: int = DEFAULT_K  # neighbours for precision, recall, density, coverage
    sharpness_cutoff: float = DEFAULT_CUTOFF
    resamples: int = 200  # bootstrap replicates per set: the 2.5% / 97.5% points from 5 replicates each
    seed: int = 0  # the bootstrap, the reference subsample at n < 500, the anchors' draws


# N >= 4 so that every sample has k = 3 neighbours besides itself, and covariances exist
MIN_SAMPLES = DEFAULT_K + 1


@dataclasses.dataclass(frozen=True)
class ScoredSet:
    """Every figure of one image set, with the replicates its intervals and differences come from."""

    replicates: dict[str, Replicates]

    @property
    def metrics(self) -> dict[str, float]:
        return {name: r.estimate for name, r in self.replicates.items()}

    def intervals(self, level: float = 0.95) -> dict[str, Interval]:
        return {name: r.interval(level) for name, r in self.replicates.items()}


class ImageQualityReference:
    """The real side of every metric, computed once on ``device``."""

    def __init__(self, config: ImageQualityConfig = ImageQualityConfig(), device: torch.device | str = "cpu"):
        self.config = config
        self.mnist = load_mnist()
        self.trained = load_or_train_feature_net(config.feature_net, device)
        self.reference = self.image_set(self.mnist.test.images)
        self.held_out_nearest = nearest_distances(self.mnist.test.images, self.mnist.train.images)
        self._anchor_cache: dict[int, tuple[ScoredSet, ScoredSet]] = {}

    @property
    def device(self) -> torch.device:
        return self.trained.device

    @property
    def reference_size(self) -> int:
        return len(self.reference)

    @torch.no_grad()
    def image_set(self, images: torch.Tensor) -> ImageSet:
        images = images.to(self.device, torch.float32)
        readout = read_images(self.trained.net, images)
        hf = high_frequency_fraction(images, self.config.sharpness_cutoff)
        return ImageSet(*(t.detach().double().cpu() for t in (readout.features, readout.logits, hf)))

    def score(self, images: torch.Tensor, sampling_seeds: tuple[int, ...] = ()) -> ScoredSet:
        """Every figure of one image set [N >= 4, 1, 28, 28] in [0, 1], at n = min(N, 500): a larger
        set keeps its first 500 images (its first sampling seeds)."""
        images = check_images("images", images, min_count=MIN_SAMPLES)[: self.reference_size]
        config = self.config
        options = dict(resamples=config.resamples, seed=config.seed, sampling_seeds=sampling_seeds)
        replicates = metric_replicates(self.image_set(images), self.reference, k=config.k, **options)
        nearest = nearest_distances(images, self.mnist.train.images)
        replicates["memorisation_ratio"] = memorisation_replicates(nearest, self.held_out_nearest, **options)
        return ScoredSet(replicates)

    def anchors(self, count: int) -> tuple[ScoredSet, ScoredSet]:
        """(real floor, noise) scored at sample count ``count``, cached per count."""
        if count not in self._anchor_cache:
            real = anchors.real_anchor_images(self.mnist, count, seed=self.config.seed)
            noise = anchors.noise_anchor_images(count, seed=self.config.seed)
            self._anchor_cache[count] = (self.score(real), self.score(noise))
        return self._anchor_cache[count]


@lru_cache(maxsize=4)
def default_reference(device: str = "cpu") -> ImageQualityReference:
    """The reference of the default config on ``device``, built once per process."""
    return ImageQualityReference(ImageQualityConfig(), device)


@dataclasses.dataclass(frozen=True)
class ImageQualityReport:
    generated: ScoredSet
    real_anchor: ScoredSet  # training digits, class-balanced, at n
    noise_anchor: ScoredSet  # uniform noise, at n
    rows: tuple[Measurement, ...]
    samples: int  # n, rows a side behind every figure

    @property
    def metrics(self) -> dict[str, float]:
        return self.generated.metrics

    def position(self, metric: str) -> float | None:
        """0 = as good as real data, 1 = as bad as noise (anchors.scale_position)."""
        return anchors.scale_position(
            self.metrics[metric], self.real_anchor.metrics[metric], self.noise_anchor.metrics[metric]
        )

    def beats_real_floor(self) -> tuple[str, ...]:
        """Metrics with a direction on which the generated set's interval lies wholly on the better
        side of the real floor's: better than real digits beyond the noise of both."""
        generated, floor = self.generated.intervals(), self.real_anchor.intervals()
        beaten = []
        for name, better in BETTER.items():
            if better == "lower" and generated[name].high < floor[name].low:
                beaten.append(name)
            elif better == "higher" and generated[name].low > floor[name].high:
                beaten.append(name)
        return tuple(beaten)


def _rows(scored: ScoredSet, note: str, **key: str) -> list[Measurement]:
    return [
        Measurement(
            kind="quality",
            metric=name,
            unit="",
            better=ROW_BETTER[name],
            note=note,
            **measurement_fields(interval),
            **key,
        )
        for name, interval in scored.intervals().items()
    ]


# the figures a set repeats at the equal n, as "<name>_equal_n": the distances that depend on N
EQUAL_N_METRICS = ("fid", "kid")


def _note(reference: ImageQualityReference, samples: int) -> str:
    method = f"95% bootstrap interval ({reference.config.resamples} resamples, centred)"
    return f"vs {reference.reference_size} held-out MNIST digits at n={samples}; {method}"


def _anchor_rows(reference: ImageQualityReference, samples: int) -> list[Measurement]:
    real_anchor, noise_anchor = reference.anchors(samples)
    against, key = _note(reference, samples), dict(backend="-", dtype="-", case=f"n={samples}")
    rows = _rows(
        real_anchor, f"training digits, class-balanced, {against}", subject=anchors.REAL_ANCHOR, **key
    )
    return rows + _rows(noise_anchor, f"uniform noise {against}", subject=anchors.NOISE_ANCHOR, **key)


def evaluate_images(
    generated: torch.Tensor,
    reference: ImageQualityReference | None = None,
    *,
    sampling_seeds: tuple[int, ...] = (),
    equal_n: int | None = None,
    subject: str = "-",
    backend: str = "-",
    dtype: str = "-",
    case: str = "-",
) -> ImageQualityReport:
    """All image figures of ``generated`` [N >= 4, 1, 28, 28] in [0, 1], with both anchors at n.

    ``equal_n``: the n at which every set of a sweep compares (its slow points' n); the first
    ``equal_n`` images are scored again for ``EQUAL_N_METRICS`` (rows "fid_equal_n", ...), with
    the anchors at that n. ``reference`` defaults to ``default_reference`` on CPU; build one on
    CUDA for GPU runs. The anchor rows carry the anchor as subject and ``n=<count>`` as case: every
    call at the same n repeats the same keys and values, so a results table may drop duplicates by key."""
    generated = check_images("generated", generated, min_count=MIN_SAMPLES)
    reference = reference if reference is not None else default_reference()
    scored = reference.score(generated, sampling_seeds)
    samples = next(iter(scored.replicates.values())).n
    key = dict(subject=subject, backend=backend, dtype=dtype, case=case)
    rows = _rows(scored, _note(reference, samples), **key) + _anchor_rows(reference, samples)
    if equal_n is not None and equal_n < generated.shape[0]:
        small = reference.score(generated[:equal_n], sampling_seeds).replicates
        renamed = ScoredSet({f"{name}_equal_n": small[name] for name in EQUAL_N_METRICS})
        rows += _rows(renamed, _note(reference, equal_n), **key) + _anchor_rows(reference, equal_n)
    elif equal_n is not None:
        renamed = ScoredSet({f"{name}_equal_n": scored.replicates[name] for name in EQUAL_N_METRICS})
        rows += _rows(renamed, _note(reference, samples), **key)
    real_anchor, noise_anchor = reference.anchors(samples)
    report = ImageQualityReport(scored, real_anchor, noise_anchor, tuple(rows), samples)
    beaten = report.beats_real_floor()
    if beaten:
        flag = f"; BEATS THE REAL FLOOR beyond both intervals on {', '.join(beaten)}"
        rows = tuple(
            dataclasses.replace(row, note=row.note + flag) if row.subject == subject else row for row in rows
        )
        report = dataclasses.replace(report, rows=rows)
    return report
