"""The scalars of one sampler step, computed once per step on the host in float64, and the checks
of the scheduler arguments they come from (shared by the Triton and the eager steps).

Every step of both samplers is one affine form of x_t, the guided model output m and the noise z
(``denoising_step.py`` fuses it into one kernel):

    x0  = a_x * x_t + a_m * m                           predicted x_0 (DDPM eq. 15, DDIM eq. 12)
    eps = e_x * x_t + e_m * m                           predicted noise (from unclipped m; DDIM may
                                                        re-derive it from the clipped x0 instead)
    out = c_0 * x0 + c_e * eps + c_x * x_t + c_n * z    DDPM eq. 7 / DDIM eq. 12 and 16
"""

from __future__ import annotations

import dataclasses
import math

from genzoo.kernels.validation import KernelInputError, check_finite_scalar

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
DDPM_VARIANCE_TYPES = ("fixed_small", "fixed_small_log", "fixed_large")


@dataclasses.dataclass(frozen=True)
class StepCoefficients:
    x0_from_sample: float
    x0_from_output: float
    eps_from_sample: float
    eps_from_output: float
    out_from_x0: float
    out_from_eps: float
    out_from_sample: float
    out_from_noise: float


def check_alphas(alpha_prod_t: float, alpha_prod_t_prev: float) -> tuple[float, float]:
    a_t = check_finite_scalar("alpha_prod_t", alpha_prod_t)
    a_prev = check_finite_scalar("alpha_prod_t_prev", alpha_prod_t_prev)
    if not 0.0 < a_t < 1.0:
        raise KernelInputError(f"alpha_prod_t must lie in (0, 1), got {a_t}")
    if not 0.0 < a_prev <= 1.0:
        raise KernelInputError(f"alpha_prod_t_prev must lie in (0, 1], got {a_prev}")
    return a_t, a_prev


def check_guidance(model_output_uncond, guidance_scale: float) -> float:
    guidance_scale = check_finite_scalar("guidance_scale", guidance_scale)
    if model_output_uncond is None and guidance_scale != 1.0:
        raise KernelInputError(
            f"guidance_scale={guidance_scale} needs model_output_uncond (the unconditional output)"
        )
    return guidance_scale


def check_clip(clip_sample: bool, clip_sample_range: float) -> float:
    clip_sample_range = check_finite_scalar("clip_sample_range", clip_sample_range)
    if clip_sample and clip_sample_range <= 0:
        raise KernelInputError(f"clip_sample_range must be positive, got {clip_sample_range}")
    return clip_sample_range


def check_eta(eta: float, noise) -> float:
    eta = check_finite_scalar("eta", eta)
    if eta < 0:
        raise KernelInputError(f"eta must be >= 0, got {eta}")
    if eta > 0 and noise is None:
        raise KernelInputError(f"noise is required when eta > 0 (eta={eta})")
    return eta


def _x0_and_eps_rows(a_t: float, prediction_type: str) -> tuple[float, float, float, float]:
    """(a_x, a_m, e_x, e_m): x0 and eps as linear forms of x_t and the model output m."""
    sqrt_a, sqrt_b = math.sqrt(a_t), math.sqrt(1.0 - a_t)
    # 1. x0 from the model output (DDIM eq. 12; v-prediction: Salimans & Ho 2022, sec. 4)
    a_x, a_m = {
        "epsilon": (1.0 / sqrt_a, -sqrt_b / sqrt_a),
        "sample": (0.0, 1.0),
        "v_prediction": (sqrt_a, -sqrt_b),
    }[prediction_type]
    # 2. eps from the model output, before any clipping of x0 (as diffusers' DDIM step does):
    #    "sample": eps = (x_t - sqrt(a) m) / sqrt(1-a); v: eps = sqrt(a) v + sqrt(1-a) x_t
    e_x, e_m = {
        "epsilon": (0.0, 1.0),
        "sample": (1.0 / sqrt_b, -sqrt_a / sqrt_b),
        "v_prediction": (sqrt_b, sqrt_a),
    }[prediction_type]
    return a_x, a_m, e_x, e_m


def ddpm_coefficients(
    alpha_prod_t: float, alpha_prod_t_prev: float, prediction_type: str, variance_type: str
) -> StepCoefficients:
    a_t, a_prev = check_alphas(alpha_prod_t, alpha_prod_t_prev)
    a_x, a_m, e_x, e_m = _x0_and_eps_rows(a_t, prediction_type)
    beta_t, beta_prev = 1.0 - a_t, 1.0 - a_prev
    current_alpha = a_t / a_prev
    current_beta = 1.0 - current_alpha
    # DDPM eq. 7: mu = sqrt(a_prev) beta_t / (1 - a_t) x0 + sqrt(alpha_t) (1 - a_prev) / (1 - a_t) x_t
    c_0 = math.sqrt(a_prev) * current_beta / beta_t
    c_x = math.sqrt(current_alpha) * beta_prev / beta_t
    # DDPM sec. 3.2: sigma^2 = beta_tilde (fixed_small, clamped as diffusers does) or beta (fixed_large)
    variance = max(beta_prev / beta_t * current_beta, 1e-20)
    std = math.sqrt(current_beta if variance_type == "fixed_large" else variance)
    return StepCoefficients(a_x, a_m, e_x, e_m, c_0, 0.0, c_x, std)


def ddim_coefficients(
    alpha_prod_t: float,
    alpha_prod_t_prev: float,
    eta: float,
    prediction_type: str,
    use_clipped_model_output: bool = False,
) -> StepCoefficients:
    a_t, a_prev = check_alphas(alpha_prod_t, alpha_prod_t_prev)
    a_x, a_m, e_x, e_m = _x0_and_eps_rows(a_t, prediction_type)
    # DDIM eq. 16: sigma_t = eta sqrt((1 - a_prev) / (1 - a_t)) sqrt(1 - a_t / a_prev)
    std = eta * math.sqrt((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))
    # DDIM eq. 12: x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps + sigma z
    direction = math.sqrt(max(1.0 - a_prev - std**2, 0.0))
    if not use_clipped_model_output:
        return StepCoefficients(a_x, a_m, e_x, e_m, math.sqrt(a_prev), direction, 0.0, std)
    # diffusers' use_clipped_model_output: eps re-derived from the (clipped) x0,
    # eps = (x_t - sqrt(a_t) x0) / sqrt(1 - a_t), folded into the x0 and x_t coefficients
    sqrt_a, sqrt_b = math.sqrt(a_t), math.sqrt(1.0 - a_t)
    c_0 = math.sqrt(a_prev) - direction * sqrt_a / sqrt_b
    return StepCoefficients(a_x, a_m, 0.0, 0.0, c_0, 0.0, direction / sqrt_b, std)
