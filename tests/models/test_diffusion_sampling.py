"""The diffusion sampling loop (registry steps, CFG fused) equals diffusers' own scheduler loop."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch
from diffusers import DDIMScheduler

from genzoo.models import diffusion, diffusion_sampling
from genzoo.tolerance import relative_error

SHAPE = (3, 1, 5, 7)  # odd on purpose
NULL = 10


def toy_unet(x: torch.Tensor, t: int, labels: torch.Tensor) -> torch.Tensor:
    """A deterministic stand-in for the UNet whose output depends on x, t and the label."""
    scale = 0.3 + 0.05 * labels.float().view(-1, 1, 1, 1)
    return torch.tanh(scale * x + 1e-3 * t) + 0.1 * torch.sin(3 * x)


def diffusers_loop(scheduler, x, labels, guidance_scale, eta, noises, use_clipped_model_output=False):
    """The textbook diffusers loop: CFG combined by hand, then ``scheduler.step``."""
    noises = iter(noises)
    for t in scheduler.timesteps:
        t = int(t)
        cond = toy_unet(x, t, labels)
        uncond = toy_unet(x, t, torch.full_like(labels, NULL))
        guided = uncond + guidance_scale * (cond - uncond)
        if isinstance(scheduler, DDIMScheduler):
            noise = next(noises) if eta > 0 else None
            x = scheduler.step(
                guided, t, x, eta=eta, variance_noise=noise, use_clipped_model_output=use_clipped_model_output
            ).prev_sample
        else:
            x = scheduler.step(guided, t, x).prev_sample
    return x


@pytest.mark.parametrize(
    "sampler, steps, eta, guidance_scale, prediction_type, spacing, clipped_eps",
    [
        ("ddim", 10, 0.0, 3.0, "epsilon", "leading", False),
        ("ddim", 10, 0.0, 3.0, "epsilon", "trailing", True),
        ("ddim", 10, 0.0, 2.0, "v_prediction", "leading", True),
        ("ddim", 7, 0.6, 1.0, "v_prediction", "trailing", False),
        ("ddim", 20, 1.0, 2.0, "epsilon", "leading", False),
        ("ddpm", 10, 0.0, 2.5, "epsilon", "leading", False),
        ("ddpm", 12, 0.0, 2.0, "v_prediction", "trailing", False),
        ("ddpm", 13, 0.0, 1.0, "sample", "leading", False),
    ],
)
def test_loop_matches_diffusers_scheduler_step(
    sampler, steps, eta, guidance_scale, prediction_type, spacing, clipped_eps, monkeypatch
):
    config = dataclasses.replace(diffusion.PRESETS["tiny"], prediction_type=prediction_type)
    x_T = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    labels = torch.tensor([0, 4, 9])

    ours = diffusion_sampling.sampling_scheduler(config, sampler, steps, spacing)
    seed = 123
    result = diffusion_sampling.denoise(
        toy_unet,
        x_T,
        labels,
        NULL,
        ours,
        torch.Generator().manual_seed(seed),
        guidance_scale=guidance_scale,
        eta=eta,
        use_clipped_model_output=clipped_eps,
    )

    # the same noise, in the order our loop draws it (float32, then cast)
    reference = diffusion_sampling.sampling_scheduler(config, sampler, steps, spacing)
    draws = torch.Generator().manual_seed(seed)
    noisy_steps = [int(t) for t in reference.timesteps if (int(t) > 0 if sampler == "ddpm" else eta > 0)]
    noises = [torch.randn(SHAPE, generator=draws, dtype=torch.float32).double() for _ in noisy_steps]
    if sampler == "ddpm":  # DDPMScheduler draws its own noise: hand it ours, in order
        queue = iter(noises)
        monkeypatch.setattr(
            "diffusers.schedulers.scheduling_ddpm.randn_tensor",
            lambda shape, **kw: next(queue).to(kw.get("dtype")),
        )
    expected = diffusers_loop(reference, x_T, labels, guidance_scale, eta, noises, clipped_eps)

    # diffusers forms the step's scalars from float32 alphas in float32, we in float64
    assert relative_error(result, expected) < 1e-6


@pytest.mark.parametrize("sampler", diffusion_sampling.SAMPLERS)
@pytest.mark.parametrize("steps", [1, 10, 1000])
@pytest.mark.parametrize("spacing", diffusion_sampling.TIMESTEP_SPACINGS)
def test_step_alphas_follow_each_schedulers_rule(sampler, steps, spacing):
    config = diffusion.PRESETS["cpu"]
    scheduler = diffusion_sampling.sampling_scheduler(config, sampler, steps, spacing)
    timesteps = [int(t) for t in scheduler.timesteps]
    assert len(timesteps) == steps
    if spacing == "trailing":  # starts from pure noise, at the last training timestep
        assert timesteps[0] == config.num_train_timesteps - 1
    alphas = [diffusion_sampling.step_alphas(scheduler, t) for t in timesteps]
    for (a_t, a_prev), t in zip(alphas, timesteps):
        assert 0 < a_t < a_prev <= 1, (t, a_t, a_prev)
    # the last step ends at alpha = 1: x_0 itself (DDIM's final_alpha_cumprod, DDPM's "one")
    assert alphas[-1][1] == 1.0
    # each step's alpha_prev is the next step's alpha_t
    for (_, a_prev), (a_next, _) in itertools.pairwise(alphas):
        assert a_prev == a_next


def test_scheduler_rejects_unknown_sampler_and_step_counts():
    config = diffusion.PRESETS["tiny"]
    with pytest.raises(ValueError, match="sampler must be one of"):
        diffusion_sampling.sampling_scheduler(config, "euler", 10)
    with pytest.raises(ValueError, match="steps must lie in"):
        diffusion_sampling.sampling_scheduler(config, "ddim", 0)
    with pytest.raises(ValueError, match="timestep_spacing must be one of"):
        diffusion_sampling.sampling_scheduler(config, "ddim", 10, "linspace")
