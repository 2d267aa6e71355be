"""Quality metrics of the four families, each tested on cases whose answer is known.

Images: ``image_quality.evaluate_images`` (FID, KID, precision/recall, classifier score, class
balance, sharpness, with real and noise anchors) on the feature net of ``feature_net``.
Text: ``text.bits_per_byte`` (with ``text.unigram_logits_fn`` as a reference),
``text.held_out_bits_per_byte`` (every byte of held-out modules, with an interval over modules;
``compressors.compressor_anchors``: gzip and xz on the same bytes), ``text.greedy_agreement``.
VAE: ``latent_smoothness``. GAN: ``seed_spread``. Backends: ``kernel_swap``. Bad input raises ``inputs.QualityInputError``, a
``ValueError`` that names the argument.
"""

from genzoo.quality.anchors import NOISE_ANCHOR, REAL_ANCHOR, scale_position
from genzoo.quality.classifier_scores import ClassBalance, class_balance, classifier_score
from genzoo.quality.compressors import CompressorAnchor, compressor_anchors
from genzoo.quality.feature_net import (
    PRESETS as FEATURE_NET_PRESETS,
)
from genzoo.quality.feature_net import (
    FeatureNet,
    FeatureNetConfig,
    TrainedFeatureNet,
    load_or_train_feature_net,
)
from genzoo.quality.fid import frechet_distance, gaussian_frechet_distance, polynomial_mmd2
from genzoo.quality.image_quality import (
    ImageQualityConfig,
    ImageQualityReference,
    ImageQualityReport,
    default_reference,
    evaluate_images,
)
from genzoo.quality.inputs import QualityInputError
from genzoo.quality.kernel_swap import kernel_swap_rows, metric_delta, output_difference
from genzoo.quality.latent_smoothness import LatentSmoothness, latent_smoothness
from genzoo.quality.precision_recall import PrecisionRecall, precision_recall
from genzoo.quality.seed_spread import LossCurveSpread, Spread, loss_curve_spread, oscillation, spread
from genzoo.quality.sharpness import high_frequency_fraction, sharpness_ratio
from genzoo.quality.text import (
    HeldOutBitsPerByte,
    bits_per_byte,
    greedy_agreement,
    greedy_continuation_agreement,
    held_out_bits_per_byte,
    sequence_nats,
    unigram_logits_fn,
)

__all__ = [
    "FEATURE_NET_PRESETS",
    "NOISE_ANCHOR",
    "REAL_ANCHOR",
    "ClassBalance",
    "CompressorAnchor",
    "FeatureNet",
    "FeatureNetConfig",
    "HeldOutBitsPerByte",
    "ImageQualityConfig",
    "ImageQualityReference",
    "ImageQualityReport",
    "LatentSmoothness",
    "LossCurveSpread",
    "PrecisionRecall",
    "QualityInputError",
    "Spread",
    "TrainedFeatureNet",
    "bits_per_byte",
    "class_balance",
    "classifier_score",
    "compressor_anchors",
    "default_reference",
    "evaluate_images",
    "frechet_distance",
    "gaussian_frechet_distance",
    "greedy_agreement",
    "greedy_continuation_agreement",
    "held_out_bits_per_byte",
    "high_frequency_fraction",
    "kernel_swap_rows",
    "latent_smoothness",
    "load_or_train_feature_net",
    "loss_curve_spread",
    "metric_delta",
    "oscillation",
    "output_difference",
    "polynomial_mmd2",
    "precision_recall",
    "scale_position",
    "sequence_nats",
    "sharpness_ratio",
    "spread",
    "unigram_logits_fn",
]
