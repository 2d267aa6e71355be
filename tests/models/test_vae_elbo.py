"""The VAE's ELBO is the textbook one: checked term by term against torch.distributions."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.distributions import Bernoulli, Independent, Normal, kl_divergence

from genzoo.models import vae


def images(n: int = 5) -> torch.Tensor:
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("likelihood", vae.LIKELIHOODS)
def test_elbo_terms_match_torch_distributions(likelihood):
    config = dataclasses.replace(vae.PRESETS["tiny"], likelihood=likelihood)
    model = vae.build(config)
    with torch.no_grad():
        model.log_sigma.fill_(-1.3)  # away from its initial value, so a mix-up of sigma shows
    x = images()
    terms = vae.elbo(model, x, torch.Generator().manual_seed(4))

    # the same z: redraw the reparameterisation noise from the same seed
    mu, log_var = model.encode(x)
    z = mu + (0.5 * log_var).exp() * torch.randn(mu.shape, generator=torch.Generator().manual_seed(4))
    q = Independent(Normal(mu, (0.5 * log_var).exp()), 1)
    prior = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    logits = model.decoder(z)
    if likelihood == "bernoulli":
        # intensities in [0, 1] as Bernoulli "probabilities": outside its {0, 1} support, hence no validation
        log_px = Independent(Bernoulli(logits=logits, validate_args=False), 3).log_prob(x)
    else:
        log_px = Independent(Normal(torch.sigmoid(logits), model.log_sigma.exp()), 3).log_prob(x)
    torch.testing.assert_close(terms.kl, kl_divergence(q, prior))
    torch.testing.assert_close(terms.reconstruction_nll, -log_px)
    torch.testing.assert_close(terms.elbo, log_px - kl_divergence(q, prior))
    assert (terms.kl >= 0).all()


def test_only_the_gaussian_decoder_learns_its_sigma():
    assert not vae.build(vae.PRESETS["tiny"]).log_sigma.requires_grad
    gaussian = dataclasses.replace(vae.PRESETS["tiny"], likelihood="gaussian")
    assert vae.build(gaussian).log_sigma.requires_grad


def test_reconstruction_error_is_the_per_image_mse_of_the_posterior_mean():
    model = vae.build(vae.PRESETS["tiny"])
    x = images(3)
    with torch.no_grad():
        expected = ((model.decode(model.encode(x)[0]) - x) ** 2).mean(dim=(1, 2, 3))
        torch.testing.assert_close(vae.reconstruction_error(model, x), expected)


def test_config_rejects_unknown_likelihood_and_bad_groups():
    with pytest.raises(ValueError, match="likelihood"):
        vae.VAEConfig(likelihood="poisson")
    with pytest.raises(ValueError, match="groups"):
        vae.VAEConfig(width=12, groups=8)
