"""DCGAN specifics: conditioning, the non-saturating loss, and the seeds of the cpu preset."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genzoo.models import gan


def test_cpu_preset_trains_several_seeds():
    config = gan.PRESETS["cpu"]
    assert len({config.seed, *config.extra_seeds}) >= 3


def test_generator_output_depends_on_the_label():
    model = gan.build(gan.PRESETS["tiny"])
    z = torch.randn(4, model.config.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        threes = model.generator(z, torch.full((4,), 3))
        sevens = model.generator(z, torch.full((4,), 7))
    assert threes.shape == (4, 1, 28, 28)
    assert (threes - sevens).abs().max() > 1e-4
    assert threes.min() >= -1 and threes.max() <= 1  # Tanh


def test_discriminator_projection_uses_the_label():
    model = gan.build(gan.PRESETS["tiny"])
    images = torch.rand(3, 1, 28, 28, generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        assert not torch.allclose(
            model.discriminator(images, torch.tensor([0, 1, 2])),
            model.discriminator(images, torch.tensor([5, 6, 7])),
        )


def test_non_saturating_losses_are_the_log_sigmoid_forms():
    logits = torch.linspace(-6, 6, 13)
    torch.testing.assert_close(F.softplus(-logits), -torch.log(torch.sigmoid(logits)))
    torch.testing.assert_close(
        F.softplus(logits), -torch.log(1 - torch.sigmoid(logits)), atol=1e-5, rtol=1e-5
    )


def test_losses_of_every_step_are_kept_for_both_players(tiny):
    family, _model, data = tiny("gan")
    log = family.train(gan.build(gan.PRESETS["tiny"]), data, steps=3, progress=False)
    assert set(log.losses) == {"d_loss", "g_loss"} and all(len(v) == 3 for v in log.losses.values())
