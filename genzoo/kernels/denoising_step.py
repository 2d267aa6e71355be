"""Fused denoising steps: ``ddpm_step`` and ``ddim_step``, with classifier-free guidance fused in.

A sampler step in ``diffusers`` is a dozen elementwise torch ops, each reading and writing the
whole image batch. Fused, one launch reads x_t, the model output (cond and uncond under CFG) and
the noise once, and writes x_{t-1} once:

    bytes = elsize * numel * (reads: sample, output, [uncond], [noise] + 1 write)

Every step of both samplers is one affine form, with scalars computed once per step on the host
in float64 (``StepCoefficients``):

    m   = m_uncond + w (m_cond - m_uncond)              classifier-free guidance (w = 1: m_cond)
    x0  = a_x * x_t + a_m * m                           predicted x_0 (DDPM eq. 15, DDIM eq. 12)
    x0  = clamp(x0, -r, r)                              if clip_sample
    eps = e_x * x_t + e_m * m                           predicted noise (from unclipped m)
    out = c_0 * x0 + c_e * eps + c_x * x_t + c_n * z    DDPM eq. 7 / DDIM eq. 12 and 16

The eager functions below follow the diffusers schedulers line by line instead; the float64
reference is the eager code run on float64 inputs, and the tests check both against diffusers.
"""

from __future__ import annotations

import dataclasses
import math

import torch

from genzoo.kernels import bf16_rounding, registry, triton_mode
from genzoo.kernels.validation import (
    KernelInputError,
    check_choice,
    check_finite_scalar,
    check_like,
    check_no_grad,
    check_out,
    check_tensor,
)

PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
DDPM_VARIANCE_TYPES = ("fixed_small", "fixed_small_log", "fixed_large")

# ----------------------------------------------------------------------------------------------
# Host-side coefficients (float64)
# ----------------------------------------------------------------------------------------------


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


def _check_alphas(alpha_prod_t: float, alpha_prod_t_prev: float) -> tuple[float, float]:
    a_t = check_finite_scalar("alpha_prod_t", alpha_prod_t)
    a_prev = check_finite_scalar("alpha_prod_t_prev", alpha_prod_t_prev)
    if not 0.0 < a_t < 1.0:
        raise KernelInputError(f"alpha_prod_t must lie in (0, 1), got {a_t}")
    if not 0.0 < a_prev <= 1.0:
        raise KernelInputError(f"alpha_prod_t_prev must lie in (0, 1], got {a_prev}")
    return a_t, a_prev


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
    a_t, a_prev = _check_alphas(alpha_prod_t, alpha_prod_t_prev)
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


def ddim_coefficients(alpha_prod_t: float, alpha_prod_t_prev: float, eta: float, prediction_type: str) -> StepCoefficients:
    a_t, a_prev = _check_alphas(alpha_prod_t, alpha_prod_t_prev)
    a_x, a_m, e_x, e_m = _x0_and_eps_rows(a_t, prediction_type)
    # DDIM eq. 16: sigma_t = eta sqrt((1 - a_prev) / (1 - a_t)) sqrt(1 - a_t / a_prev)
    std = eta * math.sqrt((1.0 - a_prev) / (1.0 - a_t) * (1.0 - a_t / a_prev))
    # DDIM eq. 12: x_prev = sqrt(a_prev) x0 + sqrt(1 - a_prev - sigma^2) eps + sigma z
    direction = math.sqrt(max(1.0 - a_prev - std**2, 0.0))
    return StepCoefficients(a_x, a_m, e_x, e_m, math.sqrt(a_prev), direction, 0.0, std)


# ----------------------------------------------------------------------------------------------
# Triton kernel
# ----------------------------------------------------------------------------------------------

if triton_mode.triton_available():
    import triton
    import triton.language as tl

    from genzoo.kernels.bf16_rounding import round_to_bf16

    @triton.jit
    def denoising_step_kernel(
        out_ptr, sample_ptr, cond_ptr, uncond_ptr, noise_ptr, n_elements,
        guidance,
        x0_from_sample, x0_from_output, eps_from_sample, eps_from_output,
        out_from_x0, out_from_eps, out_from_sample, out_from_noise,
        clip_range,
        HAS_UNCOND: tl.constexpr, HAS_NOISE: tl.constexpr, CLIP: tl.constexpr, ROUND_BF16: tl.constexpr,
        BLOCK: tl.constexpr,
    ):  # fmt: skip
        # int64 offsets: batches of images pass 2^31 elements on large GPUs
        offsets = tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
        mask = offsets < n_elements
        x = tl.load(sample_ptr + offsets, mask=mask).to(tl.float32)
        m = tl.load(cond_ptr + offsets, mask=mask).to(tl.float32)
        if HAS_UNCOND:  # classifier-free guidance, never materialised in memory
            m_uncond = tl.load(uncond_ptr + offsets, mask=mask).to(tl.float32)
            m = m_uncond + guidance * (m - m_uncond)
        x0 = x0_from_sample * x + x0_from_output * m
        if CLIP:
            x0 = tl.minimum(tl.maximum(x0, -clip_range), clip_range)
        eps = eps_from_sample * x + eps_from_output * m
        result = out_from_x0 * x0 + out_from_eps * eps + out_from_sample * x
        if HAS_NOISE:
            result += out_from_noise * tl.load(noise_ptr + offsets, mask=mask).to(tl.float32)
        if ROUND_BF16:
            result = round_to_bf16(result)
        tl.store(out_ptr + offsets, result.to(out_ptr.dtype.element_ty), mask=mask)


BLOCK = 1024  # 4 KiB of fp32 per stream per program; enough bytes in flight for HBM


def _launch(
    coefficients: StepCoefficients,
    model_output: torch.Tensor,
    sample: torch.Tensor,
    noise: torch.Tensor | None,
    model_output_uncond: torch.Tensor | None,
    guidance_scale: float,
    clip_sample: bool,
    clip_sample_range: float,
    out: torch.Tensor | None,
) -> torch.Tensor:
    device = triton_mode.triton_device()
    check_tensor("model_output", model_output, device=device)
    check_no_grad("denoising step", model_output=model_output, sample=sample, model_output_uncond=model_output_uncond)
    check_tensor("sample", sample, dtypes=(model_output.dtype,), device=device)
    check_like("sample", sample, "model_output", model_output)
    for name, tensor in (("noise", noise), ("model_output_uncond", model_output_uncond)):
        if tensor is not None:
            check_tensor(name, tensor, dtypes=(model_output.dtype,), device=device)
            check_like(name, tensor, "model_output", model_output)
    out = check_out(out, "model_output", model_output)
    n = model_output.numel()
    if n == 0:
        return out
    c = coefficients
    denoising_step_kernel[(triton.cdiv(n, BLOCK),)](
        out, sample, model_output,
        model_output if model_output_uncond is None else model_output_uncond,
        sample if noise is None else noise,  # never read without HAS_NOISE
        n, guidance_scale,
        c.x0_from_sample, c.x0_from_output, c.eps_from_sample, c.eps_from_output,
        c.out_from_x0, c.out_from_eps, c.out_from_sample, c.out_from_noise,
        clip_sample_range,
        HAS_UNCOND=model_output_uncond is not None, HAS_NOISE=noise is not None,
        CLIP=clip_sample, ROUND_BF16=bf16_rounding.needs_rounding(out.dtype), BLOCK=BLOCK,
    )  # fmt: skip
    return out


def _check_guidance(model_output_uncond: torch.Tensor | None, guidance_scale: float) -> float:
    guidance_scale = check_finite_scalar("guidance_scale", guidance_scale)
    if model_output_uncond is None and guidance_scale != 1.0:
        raise KernelInputError(
            f"guidance_scale={guidance_scale} needs model_output_uncond (the unconditional output)"
        )
    return guidance_scale


def _check_clip(clip_sample: bool, clip_sample_range: float) -> float:
    clip_sample_range = check_finite_scalar("clip_sample_range", clip_sample_range)
    if clip_sample and clip_sample_range <= 0:
        raise KernelInputError(f"clip_sample_range must be positive, got {clip_sample_range}")
    return clip_sample_range


def ddpm_step_triton(
    model_output, sample, alpha_prod_t, alpha_prod_t_prev, *, noise=None, prediction_type="epsilon",
    variance_type="fixed_small", clip_sample=False, clip_sample_range=1.0, model_output_uncond=None,
    guidance_scale=1.0, out=None,
):  # fmt: skip
    check_choice("prediction_type", prediction_type, PREDICTION_TYPES)
    check_choice("variance_type", variance_type, DDPM_VARIANCE_TYPES)
    guidance_scale = _check_guidance(model_output_uncond, guidance_scale)
    clip_sample_range = _check_clip(clip_sample, clip_sample_range)
    coefficients = ddpm_coefficients(alpha_prod_t, alpha_prod_t_prev, prediction_type, variance_type)
    return _launch(
        coefficients, model_output, sample, noise, model_output_uncond, guidance_scale, clip_sample,
        clip_sample_range, out,
    )  # fmt: skip


def ddim_step_triton(
    model_output, sample, alpha_prod_t, alpha_prod_t_prev, *, eta=0.0, noise=None,
    prediction_type="epsilon", clip_sample=False, clip_sample_range=1.0, model_output_uncond=None,
    guidance_scale=1.0, out=None,
):  # fmt: skip
    check_choice("prediction_type", prediction_type, PREDICTION_TYPES)
    eta = _check_eta(eta, noise)
    guidance_scale = _check_guidance(model_output_uncond, guidance_scale)
    clip_sample_range = _check_clip(clip_sample, clip_sample_range)
    coefficients = ddim_coefficients(alpha_prod_t, alpha_prod_t_prev, eta, prediction_type)
    return _launch(
        coefficients, model_output, sample, noise if eta > 0 else None, model_output_uncond,
        guidance_scale, clip_sample, clip_sample_range, out,
    )  # fmt: skip


def _check_eta(eta: float, noise: torch.Tensor | None) -> float:
    eta = check_finite_scalar("eta", eta)
    if eta < 0:
        raise KernelInputError(f"eta must be >= 0, got {eta}")
    if eta > 0 and noise is None:
        raise KernelInputError(f"noise is required when eta > 0 (eta={eta})")
    return eta


# ----------------------------------------------------------------------------------------------
# Eager code, written as diffusers' schedulers are; run on float64 it is the reference
# ----------------------------------------------------------------------------------------------


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
    model_output, sample, alpha_prod_t, alpha_prod_t_prev, *, noise=None, prediction_type="epsilon",
    variance_type="fixed_small", clip_sample=False, clip_sample_range=1.0, model_output_uncond=None,
    guidance_scale=1.0, out=None,
):  # fmt: skip
    """diffusers.DDPMScheduler.step for one timestep, with the scheduler's alphas passed in."""
    check_choice("prediction_type", prediction_type, PREDICTION_TYPES)
    check_choice("variance_type", variance_type, DDPM_VARIANCE_TYPES)
    _check_alphas(alpha_prod_t, alpha_prod_t_prev)
    model_output = _guided(model_output, model_output_uncond, _check_guidance(model_output_uncond, guidance_scale))
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
    model_output, sample, alpha_prod_t, alpha_prod_t_prev, *, eta=0.0, noise=None,
    prediction_type="epsilon", clip_sample=False, clip_sample_range=1.0, model_output_uncond=None,
    guidance_scale=1.0, out=None,
):  # fmt: skip
    """diffusers.DDIMScheduler.step for one timestep, with the scheduler's alphas passed in."""
    check_choice("prediction_type", prediction_type, PREDICTION_TYPES)
    _check_alphas(alpha_prod_t, alpha_prod_t_prev)
    eta = _check_eta(eta, noise)
    model_output = _guided(model_output, model_output_uncond, _check_guidance(model_output_uncond, guidance_scale))
    # 3. predicted original sample and noise, formula (12) of DDIM
    x0, eps = _predict_x0_and_eps(model_output, sample, alpha_prod_t, prediction_type)
    # 4. clip "predicted x_0"
    if clip_sample:
        x0 = x0.clamp(-clip_sample_range, clip_sample_range)
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


# ----------------------------------------------------------------------------------------------
# Cost model, inputs and registration
# ----------------------------------------------------------------------------------------------

FLOPS_PER_ELEMENT = 16  # CFG 3, x0 3, clip 2, eps 3, combination 5: memory-bound by far


def step_cost(call: registry.Call) -> registry.Cost:
    model_output = call.args[0]
    streams = 3  # read sample and model output, write x_{t-1}
    streams += call.kwargs.get("model_output_uncond") is not None
    streams += call.kwargs.get("noise") is not None and call.kwargs.get("eta", 1.0) > 0
    n = model_output.numel()
    return registry.Cost(bytes_moved=streams * n * model_output.element_size(), flops=FLOPS_PER_ELEMENT * n)


def _make_step_call(sampler: str):
    def make_call(case: registry.Case, dtype: torch.dtype, device: str, generator: torch.Generator) -> registry.Call:
        p = case.params
        shape = p["shape"]

        def randn():
            return torch.randn(shape, generator=generator, dtype=torch.float32).to(device, dtype)

        uniform = torch.rand(2, generator=generator, dtype=torch.float64).tolist()
        alpha_prod_t = 0.02 + 0.96 * uniform[0]
        alpha_prod_t_prev = alpha_prod_t + (1 - alpha_prod_t) * uniform[1]
        kwargs = dict(
            prediction_type=p.get("prediction_type", "epsilon"),
            clip_sample=p.get("clip_sample", False),
            noise=randn(),
        )
        if p.get("guidance_scale") is not None:
            kwargs.update(model_output_uncond=randn(), guidance_scale=p["guidance_scale"])
        if sampler == "ddim":
            kwargs["eta"] = p.get("eta", 0.0)
            if kwargs["eta"] == 0:
                kwargs.pop("noise")
        return registry.Call((randn(), randn(), alpha_prod_t, alpha_prod_t_prev), kwargs)

    return make_call


def _cases(sampler: str) -> tuple[list[registry.Case], dict[str, list[registry.Case]]]:
    test_variants = [
        dict(shape=(1,), prediction_type="epsilon"),
        dict(shape=(7,), prediction_type="v_prediction", guidance_scale=3.0, clip_sample=True),
        dict(shape=(3, 1, 5, 7), prediction_type="sample", eta=1.0),
        dict(shape=(1000,), prediction_type="epsilon", guidance_scale=7.5, eta=0.3),
        dict(shape=(2, 3, 29, 31), prediction_type="v_prediction", clip_sample=True, eta=0.7),
    ]
    tests = [registry.Case(_label(v), v) for v in test_variants]
    # the sampling loop's hot case: epsilon prediction with CFG (DDPM always adds noise)
    bench = {
        device: [registry.Case(f"n=2^{k}", dict(shape=(2**k,), guidance_scale=3.0), quick=k in quick) for k in ks]
        for device, ks, quick in (
            ("cpu", (10, 16, 20, 22, 24), (10, 20, 22)),
            ("cuda", (12, 16, 20, 24, 26, 28), (16, 24, 26)),
        )
    }
    return tests, bench


def _label(params: dict) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items())


for _sampler, _eager, _triton in (
    ("ddpm", ddpm_step_eager, ddpm_step_triton),
    ("ddim", ddim_step_eager, ddim_step_triton),
):
    _test_cases, _bench_cases = _cases(_sampler)
    registry.register(
        registry.Op(
            name=f"{_sampler}_step",
            eager=_eager,
            reference=registry.float64_reference(_eager),
            cost=step_cost,
            make_call=_make_step_call(_sampler),
            metric="GB/s",
            test_cases=_test_cases,
            bench_cases=_bench_cases,
            backends={"triton": _triton} if triton_mode.triton_available() else {},
        )
    )
