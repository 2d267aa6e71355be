"""Fused denoising steps: ``ddpm_step`` and ``ddim_step``, with classifier-free guidance fused in.

A sampler step in ``diffusers`` is a dozen elementwise torch ops, each reading and writing the
whole image batch. Fused, one launch reads x_t, the model output (cond and uncond under CFG) and
the noise once, and writes x_{t-1} once:

    bytes = elsize * numel * (reads: sample, output, [uncond], [noise] + 1 write)

Every step of both samplers is one affine form, with scalars computed once per step on the host
in float64 (``denoising_coefficients.py``):

    m   = m_uncond + w (m_cond - m_uncond)              classifier-free guidance (w = 1: m_cond)
    x0  = a_x * x_t + a_m * m                           predicted x_0 (DDPM eq. 15, DDIM eq. 12)
    x0  = clamp(x0, -r, r)                              if clip_sample
    eps = e_x * x_t + e_m * m                           predicted noise (from unclipped m)
    out = c_0 * x0 + c_e * eps + c_x * x_t + c_n * z    DDPM eq. 7 / DDIM eq. 12 and 16

The eager steps (``denoising_eager.py``) follow the diffusers schedulers line by line instead;
the float64 reference is the eager code run on float64 inputs, and the tests check both against
diffusers. The two ops share this kernel, their cost model and their inputs, and are registered
here together.
"""

from __future__ import annotations

import torch

from genzoo.kernels import bf16_rounding, registry, triton_mode
from genzoo.kernels.denoising_coefficients import (
    DDPM_VARIANCE_TYPES,
    PREDICTION_TYPES,
    StepCoefficients,
    check_clip,
    check_eta,
    check_guidance,
    ddim_coefficients,
    ddpm_coefficients,
)
from genzoo.kernels.denoising_eager import ddim_step_eager, ddpm_step_eager
from genzoo.kernels.validation import check_choice, check_like, check_no_grad, check_out, check_tensor

if triton_mode.triton_available():
    import triton
    import triton.language as tl

    from genzoo.kernels.bf16_rounding import round_to_bf16

    @triton.jit
    def denoising_step_kernel(
        out_ptr,
        sample_ptr,
        cond_ptr,
        uncond_ptr,
        noise_ptr,
        n_elements,
        guidance,
        x0_from_sample,
        x0_from_output,
        eps_from_sample,
        eps_from_output,
        out_from_x0,
        out_from_eps,
        out_from_sample,
        out_from_noise,
        clip_range,
        HAS_UNCOND: tl.constexpr,
        HAS_NOISE: tl.constexpr,
        CLIP: tl.constexpr,
        ROUND_BF16: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
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
    check_no_grad(
        "denoising step", model_output=model_output, sample=sample, model_output_uncond=model_output_uncond
    )
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
        out,
        sample,
        model_output,
        model_output if model_output_uncond is None else model_output_uncond,
        sample if noise is None else noise,  # never read without HAS_NOISE
        n,
        guidance_scale,
        c.x0_from_sample,
        c.x0_from_output,
        c.eps_from_sample,
        c.eps_from_output,
        c.out_from_x0,
        c.out_from_eps,
        c.out_from_sample,
        c.out_from_noise,
        clip_sample_range,
        HAS_UNCOND=model_output_uncond is not None,
        HAS_NOISE=noise is not None,
        CLIP=clip_sample,
        ROUND_BF16=bf16_rounding.needs_rounding(out.dtype),
        BLOCK=BLOCK,
    )
    return out


def ddpm_step_triton(
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
    check_choice("prediction_type", prediction_type, PREDICTION_TYPES)
    check_choice("variance_type", variance_type, DDPM_VARIANCE_TYPES)
    guidance_scale = check_guidance(model_output_uncond, guidance_scale)
    clip_sample_range = check_clip(clip_sample, clip_sample_range)
    coefficients = ddpm_coefficients(alpha_prod_t, alpha_prod_t_prev, prediction_type, variance_type)
    return _launch(
        coefficients,
        model_output,
        sample,
        noise,
        model_output_uncond,
        guidance_scale,
        clip_sample,
        clip_sample_range,
        out,
    )


def ddim_step_triton(
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
    check_choice("prediction_type", prediction_type, PREDICTION_TYPES)
    eta = check_eta(eta, noise)
    guidance_scale = check_guidance(model_output_uncond, guidance_scale)
    clip_sample_range = check_clip(clip_sample, clip_sample_range)
    coefficients = ddim_coefficients(
        alpha_prod_t, alpha_prod_t_prev, eta, prediction_type, bool(use_clipped_model_output)
    )
    return _launch(
        coefficients,
        model_output,
        sample,
        noise if eta > 0 else None,
        model_output_uncond,
        guidance_scale,
        clip_sample,
        clip_sample_range,
        out,
    )


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
    def make_call(
        case: registry.Case, dtype: torch.dtype, device: str, generator: torch.Generator
    ) -> registry.Call:
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
            kwargs["use_clipped_model_output"] = p.get("use_clipped_model_output", False)
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
    if sampler == "ddim":  # eps re-derived from the clipped x0
        test_variants.append(
            dict(shape=(5, 33), guidance_scale=2.0, clip_sample=True, use_clipped_model_output=True)
        )
    tests = [registry.Case(_label(v), v) for v in test_variants]
    # the sampling loop's hot case: epsilon prediction with CFG (DDPM always adds noise)
    bench = {
        device: [
            registry.Case(f"n=2^{k}", dict(shape=(2**k,), guidance_scale=3.0), quick=k in quick) for k in ks
        ]
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
