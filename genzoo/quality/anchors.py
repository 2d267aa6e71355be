"""The two ends of every quality metric's scale, computed in the same run as the number they frame.

- Real anchor (the floor): real digits scored against the held-out reference exactly as a generated
  set is, drawn class-balanced as the generators draw their labels (0, 1, ..., 9, 0, ...: the
  same count of each class), so that a class imbalance of the floor's draw cannot lift it above a
  balanced generator. No generator can be expected to beat it by more than noise. They are
  training digits, the only real digits outside the reference: a perfect generator's samples are
  new digits of the same distribution, which these are to the reference. The feature net was
  trained on them, which if anything makes the floor better than fresh digits would score (a
  conservative floor for the "beats real data" flag); their memorisation ratio is 0 by construction.
- Noise anchor (the ceiling): images of i.i.d. uniform pixels U(0, 1), seeded.

Both are scored at the generated set's sample count n, since FID, KID, precision and recall all
depend on N. A metric value v then reads as its position on the scale:

    position = (v - v_real) / (v_noise - v_real)      0 = as good as real data, 1 = as bad as noise

which holds whichever direction the metric improves in (precision falls from real to noise, FID
rises; both give 0 at the real end).
"""

from __future__ import annotations

import math

import torch

from genzoo.models.data import Mnist
from genzoo.quality.inputs import QualityInputError, check_positive_int

REAL_ANCHOR = "anchor_real_balanced"  # the Measurement subject of the real anchor's rows
NOISE_ANCHOR = "anchor_uniform_noise"  # and of the noise anchor's


def real_anchor_images(mnist: Mnist, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` training digits, the i-th of class i mod 10 as the generators' labels go, each
    class's digits drawn without replacement in a seeded order."""
    count = check_positive_int("count", count)
    generator = torch.Generator().manual_seed(seed)
    labels = mnist.train.labels
    wanted = torch.arange(count) % mnist.num_classes
    chosen = torch.empty(count, dtype=torch.long)
    for digit in range(mnist.num_classes):
        members = (labels == digit).nonzero().squeeze(1)
        slots = (wanted == digit).nonzero().squeeze(1)
        if len(slots) > len(members):
            raise QualityInputError(
                f"count={count} needs {len(slots)} digits of class {digit}, there are {len(members)}"
            )
        chosen[slots] = members[torch.randperm(len(members), generator=generator)[: len(slots)]]
    return mnist.train.images[chosen]


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
