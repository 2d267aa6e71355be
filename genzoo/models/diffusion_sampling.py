"""The sampling loop of the diffusion family: diffusers' schedulers give the timesteps and the
alphas, the registry's fused ``ddpm_step``/``ddim_step`` (with classifier-free guidance fused in)
moves x_t to x_{t-1}.

Per step, with w the guidance scale (Ho & Salimans 2022, eq. 6):

    eps_c, eps_u = unet([x_t, x_t], t, [y, null]).chunk(2)      one batched UNet call (w != 1)
    x_{t-1} = step(eps_c, x_t, alpha_prod_t, alpha_prod_t_prev, model_output_uncond=eps_u, guidance_scale=w)

``step_alphas`` reproduces each scheduler's own rule for alpha_prod_t_prev, so the loop equals
``scheduler.step`` (tests/models/test_diffusion_sampling.py holds it to that).
"""

from __future__ import annotations

import torch
from diffusers import DDIMScheduler, DDPMScheduler

from genzoo import kernels

SAMPLERS = ("ddpm", "ddim")
# DDIM-250 is left out: in results/cpu-reference (n = 128) it scored 4.43 against DDIM-100's 4.42
# at w = 2 and 4.27 against 4.28 at w = 1, and cost 1.7 of the cpu job's 46 minutes
INFERENCE_STEPS = (1000, 100, 50, 20, 10)
TIMESTEP_SPACINGS = ("leading", "trailing")


def training_scheduler(config) -> DDPMScheduler:
    """The forward (noising) process the model is trained for."""
    return DDPMScheduler(
        num_train_timesteps=config.num_train_timesteps,
        beta_schedule=config.beta_schedule,
        prediction_type=config.prediction_type,
        clip_sample=config.clip_sample,
        clip_sample_range=1.0,
    )


def sampling_scheduler(
    config, sampler: str, steps: int, timestep_spacing: str = "leading"
) -> DDPMScheduler | DDIMScheduler:
    """DDPM (ancestral, Ho et al. 2020) or DDIM (Song et al. 2021) over ``steps`` of the
    training schedule's timesteps. ``timestep_spacing``: diffusers' default "leading" (DDIM-10
    starts at t = 900 of 1000) or "trailing", which starts at t = T - 1 from pure noise (Lin et
    al. 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed", Table 2)."""
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
    if timestep_spacing not in TIMESTEP_SPACINGS:
        raise ValueError(f"timestep_spacing must be one of {TIMESTEP_SPACINGS}, got {timestep_spacing!r}")
    if not 1 <= steps <= config.num_train_timesteps:
        raise ValueError(f"steps must lie in 1..{config.num_train_timesteps}, got {steps}")
    settings = {
        "num_train_timesteps": config.num_train_timesteps,
        "beta_schedule": config.beta_schedule,
        "prediction_type": config.prediction_type,
        "clip_sample": config.clip_sample,
        "clip_sample_range": 1.0,
        "timestep_spacing": timestep_spacing,
    }
    scheduler = DDPMScheduler(**settings) if sampler == "ddpm" else DDIMScheduler(**settings)
    scheduler.set_timesteps(steps)
    return scheduler


def step_alphas(scheduler: DDPMScheduler | DDIMScheduler, t: int) -> tuple[float, float]:
    """(alpha_prod_t, alpha_prod_t_prev) exactly as ``scheduler.step(..., t, ...)`` takes them."""
    if isinstance(scheduler, DDIMScheduler):
        # DDIMScheduler.step, 1.: prev = t - T / steps; the last step lands on final_alpha_cumprod
        prev_t = t - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
        alpha_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
    else:
        prev_t = scheduler.previous_timestep(t)
        alpha_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.one
    return float(scheduler.alphas_cumprod[t]), float(alpha_prev)


def _gaussian(shape: torch.Size, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    # drawn in float32 then cast: every dtype sees the same noise for the same seed
    return torch.randn(shape, generator=generator, device=like.device, dtype=torch.float32).to(like.dtype)


@torch.no_grad()
def denoise(
    unet_forward,
    x: torch.Tensor,
    labels: torch.Tensor,
    null_label: int,
    scheduler: DDPMScheduler | DDIMScheduler,
    generator: torch.Generator,
    *,
    guidance_scale: float,
    eta: float,
    use_clipped_model_output: bool = False,
) -> torch.Tensor:
    """Run the reverse process from ``x`` = x_T to x_0 with ``unet_forward(x, t, labels) -> output``.
    ``use_clipped_model_output`` (DDIM): the step's noise re-derived from the clipped x_0, as
    diffusers' ``DDIMScheduler.step`` offers; else from the model output, whose clipping error
    then enters every step (DDPM uses only x_0 and x_t, so it does not apply there)."""
    config = scheduler.config
    is_ddpm = isinstance(scheduler, DDPMScheduler)
    guided = guidance_scale != 1.0
    both_labels = torch.cat([labels, torch.full_like(labels, null_label)]) if guided else labels
    for t in scheduler.timesteps:
        t = int(t)
        if guided:
            output, output_uncond = unet_forward(torch.cat([x, x]), t, both_labels).chunk(2)
        else:
            output, output_uncond = unet_forward(x, t, labels), None
        alpha_prod_t, alpha_prod_t_prev = step_alphas(scheduler, t)
        common = {
            "prediction_type": config.prediction_type,
            "clip_sample": config.clip_sample,
            "clip_sample_range": config.clip_sample_range,
            "model_output_uncond": None if output_uncond is None else output_uncond.contiguous(),
            "guidance_scale": guidance_scale,
        }
        output = output.contiguous()
        if is_ddpm:  # DDPM adds noise on every step but the last (t = 0)
            noise = _gaussian(x.shape, generator, x) if t > 0 else None
            x = kernels.ops.ddpm_step(
                output,
                x,
                alpha_prod_t,
                alpha_prod_t_prev,
                noise=noise,
                variance_type=config.variance_type,
                **common,
            )
        else:
            noise = _gaussian(x.shape, generator, x) if eta > 0 else None
            x = kernels.ops.ddim_step(
                output,
                x,
                alpha_prod_t,
                alpha_prod_t_prev,
                eta=eta,
                noise=noise,
                use_clipped_model_output=use_clipped_model_output,
                **common,
            )
    return x
