"""One entry point for the quality of generated MNIST-like images: ``evaluate_images``.

Given generated images [N, 1, 28, 28] in [0, 1], it computes, against the 4,500 training digits:

    fid, kid_mean, kid_std            distribution distance (fid.py), on the feature net
    precision, recall, density, coverage     fidelity / diversity on k-NN balls (precision_recall.py),
                                      the real side subsampled to N (seeded), as the papers compare
    classifier_score                  inception-score analogue (classifier_scores.py)
    class_entropy_ratio, class_tv_from_uniform, missing_classes, mean_confidence   class balance
    hf_fraction, sharpness_ratio      high-frequency energy, and its ratio to the training digits'

and the same metrics for the two anchors of anchors.py (held-out real digits, uniform noise) at
the same N, returned as a dict each and as ``Measurement`` rows (kind "quality").

Everything about the real side (feature net, real FID/KID statistics, real features, real
sharpness) lives in an ``ImageQualityReference``, built once and reused across generated sets;
anchors are cached in it per N. The feature net runs once per image set: every metric reads the
features and logits of that one pass.
"""

from __future__ import annotations

import dataclasses
from functools import lru_cache

import torch

from genzoo.measurement import Measurement
from genzoo.models.data import load_mnist
from genzoo.quality import anchors
from genzoo.quality.classifier_scores import class_balance, classifier_score
from genzoo.quality.feature_net import PRESETS, FeatureNetConfig, load_or_train_feature_net, read_images
from genzoo.quality.fid import feature_fid, feature_kid, fid_metric, kid_metric
from genzoo.quality.inputs import check_images
from genzoo.quality.precision_recall import DEFAULT_K, precision_recall
from genzoo.quality.sharpness import DEFAULT_CUTOFF, high_frequency_fraction


@dataclasses.dataclass(frozen=True)
class ImageQualityConfig:
    feature_net: FeatureNetConfig = PRESETS["cpu"]
    kid_subsets: int = 50  # torchmetrics' default is 100; 50 puts the std of the mean at ~1/7 of kid_std
    kid_subset_size: int = 1000  # Bińkowski et al.'s; shrinks to N for smaller sets
    k: int = DEFAULT_K  # neighbours for precision, recall, density, coverage
    sharpness_cutoff: float = DEFAULT_CUTOFF
    seed: int = 0  # KID subsets, the real subsample of precision / recall, the noise anchor


# N >= 4 so that every sample has k = 3 neighbours besides itself, and covariances exist
MIN_SAMPLES = DEFAULT_K + 1


class ImageQualityReference:
    """The real side of every metric, computed once on ``device``."""

    def __init__(self, config: ImageQualityConfig = ImageQualityConfig(), device: torch.device | str = "cpu"):
        self.config = config
        self.mnist = load_mnist()
        self.trained = load_or_train_feature_net(config.feature_net, device)
        real = self.mnist.train.images
        self.real_features = read_images(self.trained.net, real).features  # [4500, feature_dim]
        self.fid = fid_metric(self.real_features)
        self.kid = kid_metric(self.real_features, config.kid_subsets, config.kid_subset_size)
        self.real_hf = high_frequency_fraction(real, config.sharpness_cutoff).mean().item()
        self._anchor_cache: dict[int, tuple[dict[str, float], dict[str, float]]] = {}

    @property
    def device(self) -> torch.device:
        return self.trained.device

    def _real_subset(self, count: int) -> torch.Tensor:
        """``count`` real feature rows drawn without replacement, the same for every call."""
        generator = torch.Generator().manual_seed(self.config.seed)
        order = torch.randperm(self.real_features.shape[0], generator=generator)
        return self.real_features[order[:count].to(self.real_features.device)]

    @torch.no_grad()
    def metrics(self, images: torch.Tensor) -> dict[str, float]:
        """Every metric of one image set [N >= 4, 1, 28, 28] in [0, 1]."""
        images = check_images("images", images, min_count=MIN_SAMPLES).to(self.device, torch.float32)
        readout = read_images(self.trained.net, images)
        kid_mean, kid_std = feature_kid(self.kid, readout.features, seed=self.config.seed)
        pr = precision_recall(self._real_subset(images.shape[0]), readout.features, self.config.k)
        balance = class_balance(readout.logits)
        hf = high_frequency_fraction(images, self.config.sharpness_cutoff).mean().item()
        return {
            "fid": feature_fid(self.fid, readout.features),
            "kid_mean": kid_mean,
            "kid_std": kid_std,
            "precision": pr.precision,
            "recall": pr.recall,
            "density": pr.density,
            "coverage": pr.coverage,
            "classifier_score": classifier_score(readout.logits),
            "class_entropy_ratio": balance.entropy_ratio,
            "class_tv_from_uniform": balance.tv_from_uniform,
            "missing_classes": float(balance.missing_classes),
            "mean_confidence": balance.mean_confidence,
            "hf_fraction": hf,
            "sharpness_ratio": hf / self.real_hf,
        }

    def anchors(self, count: int) -> tuple[dict[str, float], dict[str, float]]:
        """(real anchor, noise anchor) metrics at sample count ``count``, cached per count."""
        if count not in self._anchor_cache:
            real = anchors.real_anchor_images(self.mnist, count)
            noise = anchors.noise_anchor_images(count, seed=self.config.seed)
            self._anchor_cache[count] = (self.metrics(real), self.metrics(noise))
        return self._anchor_cache[count]


@lru_cache(maxsize=4)
def default_reference(device: str = "cpu") -> ImageQualityReference:
    """The reference of the default config on ``device``, built once per process."""
    return ImageQualityReference(ImageQualityConfig(), device)


@dataclasses.dataclass(frozen=True)
class ImageQualityReport:
    metrics: dict[str, float]  # of the generated set
    real_anchor: dict[str, float]  # held-out real digits, at min(N, 500)
    noise_anchor: dict[str, float]  # uniform noise, at N
    rows: tuple[Measurement, ...]
    samples: int

    def position(self, metric: str) -> float | None:
        """0 = as good as held-out real data, 1 = as bad as noise (anchors.scale_position)."""
        return anchors.scale_position(
            self.metrics[metric], self.real_anchor[metric], self.noise_anchor[metric]
        )


# which way each metric of ``ImageQualityReference.metrics`` is better; "" where the real digits'
# value is the target rather than a direction (KID's spread, high-frequency energy, sharpness)
BETTER = {
    "fid": "lower",
    "kid_mean": "lower",
    "kid_std": "",
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


def _rows(values: dict[str, float], samples: int, note: str, **key: str) -> list[Measurement]:
    return [
        Measurement(
            kind="quality",
            metric=name,
            value=value,
            unit="",
            better=BETTER[name],
            samples=samples,
            note=note,
            **key,
        )
        for name, value in values.items()
    ]


def evaluate_images(
    generated: torch.Tensor,
    reference: ImageQualityReference | None = None,
    *,
    subject: str = "-",
    backend: str = "-",
    dtype: str = "-",
    case: str = "-",
) -> ImageQualityReport:
    """All image metrics of ``generated`` [N >= 4, 1, 28, 28] in [0, 1], with both anchors at N.

    ``reference`` defaults to ``default_reference`` on CPU; build one on CUDA for GPU runs. The
    anchor rows carry the anchor as subject and ``n=<count>`` as case: every call at the same N
    repeats the same keys and values, so a results table may drop duplicates by key.
    """
    generated = check_images("generated", generated, min_count=MIN_SAMPLES)
    reference = reference if reference is not None else default_reference()
    samples = generated.shape[0]
    metrics = reference.metrics(generated)
    real_anchor, noise_anchor = reference.anchors(samples)
    real_count = anchors.real_anchor_images(reference.mnist, samples).shape[0]
    rows = _rows(metrics, samples, "vs MNIST train", subject=subject, backend=backend, dtype=dtype, case=case)
    rows += _rows(
        real_anchor,
        real_count,
        "held-out real vs MNIST train",
        subject=anchors.REAL_ANCHOR,
        backend="-",
        dtype="-",
        case=f"n={real_count}",
    )
    rows += _rows(
        noise_anchor,
        samples,
        "uniform noise vs MNIST train",
        subject=anchors.NOISE_ANCHOR,
        backend="-",
        dtype="-",
        case=f"n={samples}",
    )
    return ImageQualityReport(metrics, real_anchor, noise_anchor, tuple(rows), samples)
