"""Sharpness: how much of an image's energy sits at high spatial frequencies, relative to real data.

The claim under test is that VAE samples are blurry. Blur is a low-pass filter, so it shows as a
smaller share of high-frequency energy in the power spectrum. Per image x [28, 28]:

    X = FFT2(x - mean(x))                     mean removed: the DC term says nothing about blur
    P(u, v) = |X(u, v)|^2                     power at frequency (u, v), in cycles per pixel
    HF(x) = sum_{|f| > f_c} P / sum P         share of energy above the radial cutoff f_c

with |f| = sqrt(u^2 + v^2) and f_c = 0.25 cycles/pixel, half the Nyquist frequency: MNIST strokes
are 2 to 3 pixels wide, so their edges, not their bodies, live above it. A blank image has no
energy at all and counts as HF = 0 (nothing sharp in it). The ratio is invariant to contrast
(x -> a x), so a faint sample is not called blurry for being faint.

    sharpness ratio = mean HF(generated) / mean HF(real)

About 1 for real held-out digits; below 1 means blurrier than real data, above 1 means more
high-frequency content than real digits have (noise, speckle, checkerboard artefacts).
"""

from __future__ import annotations

import torch

from genzoo.quality.inputs import QualityInputError, check_images

DEFAULT_CUTOFF = 0.25  # cycles per pixel; Nyquist is 0.5


def _radial_frequency(height: int, width: int, device: torch.device) -> torch.Tensor:
    """[H, W] |f| in cycles per pixel, laid out as torch.fft.fft2's output."""
    fy = torch.fft.fftfreq(height, device=device, dtype=torch.float64)
    fx = torch.fft.fftfreq(width, device=device, dtype=torch.float64)
    return torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def high_frequency_fraction(images: torch.Tensor, cutoff: float = DEFAULT_CUTOFF) -> torch.Tensor:
    """[N] share HF(x) of each image's (mean-removed) spectral energy above ``cutoff``."""
    images = check_images("images", images).detach().double()
    if not 0.0 < cutoff < 0.5:
        raise QualityInputError(f"cutoff must be in (0, 0.5) cycles per pixel, got {cutoff}")
    centered = images[:, 0] - images[:, 0].mean(dim=(1, 2), keepdim=True)  # [N, 28, 28]
    power = torch.fft.fft2(centered).abs().square()
    high = _radial_frequency(*centered.shape[1:], device=images.device) > cutoff
    total = power.sum(dim=(1, 2))
    above = (power * high).sum(dim=(1, 2))
    return torch.where(total > 0, above / total.clamp(min=torch.finfo(torch.float64).tiny), 0.0)


def sharpness_ratio(generated: torch.Tensor, real: torch.Tensor, cutoff: float = DEFAULT_CUTOFF) -> float:
    """mean HF(generated) / mean HF(real); below 1 is blurrier than real data."""
    generated_hf = high_frequency_fraction(check_images("generated", generated), cutoff).mean().item()
    real_hf = high_frequency_fraction(check_images("real", real), cutoff).mean().item()
    if real_hf == 0.0:
        raise QualityInputError(
            "real has no high-frequency energy at all (blank images?): no scale to compare to"
        )
    return generated_hf / real_hf
