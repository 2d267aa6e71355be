"""The eager denoising steps, written as diffusers' schedulers are, line by line (not as the
fused kernel's affine form): run on float64 inputs they are the ops' reference, and the tests
check them against diffusers itself."""

from __future__ import annotations

from genzoo.kernels.denoising_coefficients import (
    DDPM_VARIANCE_TYPES,
    PREDICTION_TYPES,
    check_alphas,
    check_eta,
    check_guidance,
)
from genzoo.kernels.validation import check_choice


def _guided(model_output, model_output_uncond, guidance_scale):
    # classifier-free guidance (Ho & Salimans 2022, eq. 6): m = m_uncond + w (m_cond - m_uncond)
    if model_output_uncond is None:
        return model_output
    return model_output_uncond + guidance_scale * (model_output - model_output_uncond)


def _predict_x0_and_eps(model_output, sample, alpha_prod_t, prediction_type):
    beta_prod_t = 1 - alpha_prod_t
    if prediction_type == "epsilon":
        x0 = (sample - beta_prod_t**0.5 * model_output) / alpha_prod_t**0.5
        eps = model_output
    elif prediction_type == "sample":
        x0 = model_output
        eps = (sample - alpha_prod_t**0.5 * x0) / beta_prod_t**0.5
    else:  # v_prediction
        x0 = alpha_prod_t**0.5 * sample - beta_prod_t**0.5 * model_output
        eps = alpha_prod_t**0.5 * model_output + beta_prod_t**0.5 * sample
    return x0, eps


def _written(out, result):
    return result if out is None else out.copy_(result)


def ddpm_step_eager(
    model_output,
    sample,
    alpha_prod_t,
    alpha_prod_t_prev,
    *,
    noise=None,
    prediction_type="epsilon",
    variance_type="fixed_small",
    clip_sample=False,
    clip_sample_range=1.0,
    model_output_uncond=None,
    guidance_scale=1.0,
    out=None,
):
    """diffusers.DDPMScheduler.step for one timestep, with the scheduler's alphas passed in."""
    check_choice("prediction_type", prediction_type, PREDICTION_TYPES)
    check_choice("variance_type", variance_type, DDPM_VARIANCE_TYPES)
    check_alphas(alpha_prod_t, alpha_prod_t_prev)
    model_output = _guided(
        model_output, model_output_uncond, check_guidance(model_output_uncond, guidance_scale)
    )
    # 1. compute alphas, betas
    beta_prod_t, beta_prod_t_prev = 1 - alpha_prod_t, 1 - alpha_prod_t_prev
    current_alpha_t = alpha_prod_t / alpha_prod_t_prev
    current_beta_t = 1 - current_alpha_t
    # 2. predicted original sample, formula (15) of DDPM
    x0, _ = _predict_x0_and_eps(model_output, sample, alpha_prod_t, prediction_type)
    # 3. clip "predicted x_0"
    if clip_sample:
        x0 = x0.clamp(-clip_sample_range, clip_sample_range)
    # 4./5. posterior mean, formula (7) of DDPM
    x0_coeff = alpha_prod_t_prev**0.5 * current_beta_t / beta_prod_t
    sample_coeff = current_alpha_t**0.5 * beta_prod_t_prev / beta_prod_t
    prev_sample = x0_coeff * x0 + sample_coeff * sample
    # 6. add noise: sigma^2 = beta_tilde (fixed_small) or beta_t (fixed_large)
    if noise is not None:
        variance = max(beta_prod_t_prev / beta_prod_t * current_beta_t, 1e-20)
        std = (current_beta_t if variance_type == "fixed_large" else variance) ** 0.5
        prev_sample = prev_sample + std * noise
    return _written(out, prev_sample)


def ddim_step_eager(
    model_output,
    sample,
    alpha_prod_t,
    alpha_prod_t_prev,
    *,
    eta=0.0,
    noise=None,
    prediction_type="epsilon",
    clip_sample=False,
    clip_sample_range=1.0,
    model_output_uncond=None,
    guidance_scale=1.0,
    use_clipped_model_output=False,
    out=None,
):
    """diffusers.DDIMScheduler.step for one timestep, with the scheduler's alphas passed in."""
    check_choice("prediction_type", prediction_type, PREDICTION_TYPES)
    check_alphas(alpha_prod_t, alpha_prod_t_prev)
    eta = check_eta(eta, noise)
    model_output = _guided(
        model_output, model_output_uncond, check_guidance(model_output_uncond, guidance_scale)
    )
    # 3. predicted original sample and noise, formula (12) of DDIM
    x0, eps = _predict_x0_and_eps(model_output, sample, alpha_prod_t, prediction_type)
    # 4. clip "predicted x_0"
    if clip_sample:
        x0 = x0.clamp(-clip_sample_range, clip_sample_range)
    if use_clipped_model_output:  # eps re-derived from the clipped x0, as diffusers' step offers
        eps = (sample - alpha_prod_t**0.5 * x0) / (1 - alpha_prod_t) ** 0.5
    # 5. sigma_t(eta), formula (16) of DDIM
    variance = (1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
    std_dev_t = eta * variance**0.5
    # 6. "direction pointing to x_t", formula (12) of DDIM
    direction = max(1 - alpha_prod_t_prev - std_dev_t**2, 0.0) ** 0.5 * eps
    # 7. x_{t-1} without, then with random noise, formula (12) of DDIM
    prev_sample = alpha_prod_t_prev**0.5 * x0 + direction
    if eta > 0:
        prev_sample = prev_sample + std_dev_t * noise
    return _written(out, prev_sample)
