"""The two ends of every quality metric's scale, computed in the same run as the number they frame.

- Real anchor (the floor of FID and KID): held-out real digits scored against the training digits
  exactly as a generated set is. No generator can be expected to beat it by more than noise.
- Noise anchor (their ceiling): images of i.i.d. uniform pixels U(0, 1), seeded.

Both are scored at the generated set's sample count N (the real anchor at min(N, 500), the size
of the held-out split), since FID, KID, precision and recall all depend on N. A metric value v
then reads as its position on the scale:

    position = (v - v_real) / (v_noise - v_real)      0 = as good as real data, 1 = as bad as noise

which holds whichever direction the metric improves in (precision falls from real to noise, FID
rises; both give 0 at the real end).
"""

from __future__ import annotations

import math

import torch

from genzoo.models.data import Mnist
from genzoo.quality.inputs import QualityInputError, check_positive_int

REAL_ANCHOR = "anchor_real_held_out"  # the Measurement subject of the real anchor's rows
NOISE_ANCHOR = "anchor_uniform_noise"  # and of the noise anchor's


def real_anchor_images(mnist: Mnist, count: int) -> torch.Tensor:
    """The first min(count, 500) held-out digits (the split is shuffled with a fixed seed)."""
    count = check_positive_int("count", count)
    return mnist.test.images[: min(count, len(mnist.test))]


def noise_anchor_images(count: int, seed: int = 0) -> torch.Tensor:
    """[count, 1, 28, 28] i.i.d. U(0, 1) pixels, from a generator seeded with ``seed``."""
    count = check_positive_int("count", count)
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(count, 1, 28, 28, generator=generator)


def scale_position(value: float, real: float, noise: float) -> float | None:
    """Where ``value`` sits between the real anchor (0) and the noise anchor (1); None when the
    anchors coincide, i.e. the metric cannot tell real data from noise."""
    for name, number in (("value", value), ("real", real), ("noise", noise)):
        if not math.isfinite(number):
            raise QualityInputError(f"{name} must be finite, got {number}")
    if noise == real:
        return None
    return (value - real) / (noise - real)
