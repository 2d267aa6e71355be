"""The fused steps against diffusers' own schedulers, for the same scheduler state.

diffusers.DDPMScheduler.step and DDIMScheduler.step are the reference here (run in float32 on the
same inputs); the registry's float64 reference is checked against them too."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler

from genzoo import kernels
from genzoo.kernels.validation import KernelInputError
from genzoo.tolerance import relative_error

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
SHAPE = (2, 3, 7, 5)  # 210 elements: odd, not a multiple of the block
PREDICTION_TYPES = ("epsilon", "v_prediction", "sample")
BACKENDS = ("eager", "triton")


def _scheduler(cls, prediction_type, clip_sample, **extra):
    scheduler = cls(
        num_train_timesteps=1000,
        beta_schedule="scaled_linear",
        prediction_type=prediction_type,
        clip_sample=clip_sample,
        clip_sample_range=1.5,
        **extra,
    )
    scheduler.set_timesteps(20)
    return scheduler


def _timesteps(scheduler):
    """The first, a middle and the last timestep: the last has prev < 0 (final alpha)."""
    ts = scheduler.timesteps
    return [int(ts[0]), int(ts[len(ts) // 2]), int(ts[-1])]


def _random(seed, n=1):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(SHAPE, generator=g) * 1.3 for _ in range(n)]


def _run(backend, name, *args, dtype=torch.float32, **kwargs):
    cast = {k: v.to(DEVICE, dtype) if isinstance(v, torch.Tensor) else v for k, v in kwargs.items()}
    out = torch.full(SHAPE, float("nan"), dtype=dtype, device=DEVICE)
    if backend == "triton":
        cast["out"] = out
    args = [a.to(DEVICE, dtype) if isinstance(a, torch.Tensor) else a for a in args]
    with kernels.use(backend):
        return kernels.call(name, *args, **cast).float().cpu()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("clip_sample", [False, True])
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
@pytest.mark.parametrize("eta", [0.0, 0.4, 1.0])
@pytest.mark.parametrize("use_clipped_model_output", [False, True])
def test_ddim_step_matches_diffusers(backend, prediction_type, clip_sample, eta, use_clipped_model_output):
    scheduler = _scheduler(DDIMScheduler, prediction_type, clip_sample)
    for t in _timesteps(scheduler):
        seed = torch.randint(0, 2**31 - 1, ()).item()
        model_output, sample, noise = _random(seed, 3)
        expected = scheduler.step(
            model_output,
            t,
            sample,
            eta=eta,
            variance_noise=noise,
            use_clipped_model_output=use_clipped_model_output,
        ).prev_sample
        prev_t = t - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
        alpha_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
        result = _run(
            backend,
            "ddim_step",
            model_output,
            sample,
            float(scheduler.alphas_cumprod[t]),
            float(alpha_prev),
            eta=eta,
            noise=noise if eta > 0 else None,
            prediction_type=prediction_type,
            clip_sample=clip_sample,
            clip_sample_range=1.5,
            use_clipped_model_output=use_clipped_model_output,
        )
        assert relative_error(result, expected) <= 1e-5, f"t={t} seed={seed}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("variance_type", ["fixed_small", "fixed_small_log", "fixed_large"])
@pytest.mark.parametrize("clip_sample", [False, True])
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
def test_ddpm_step_matches_diffusers(backend, prediction_type, clip_sample, variance_type):
    scheduler = _scheduler(DDPMScheduler, prediction_type, clip_sample, variance_type=variance_type)
    for t in _timesteps(scheduler):
        seed = torch.randint(0, 2**31 - 1, ()).item()
        model_output, sample = _random(seed, 2)
        expected = scheduler.step(
            model_output, t, sample, generator=torch.Generator().manual_seed(seed)
        ).prev_sample
        # diffusers draws its noise with randn(shape, generator) and adds it only for t > 0
        noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed)) if t > 0 else None
        prev_t = int(scheduler.previous_timestep(t))
        alpha_prev = float(scheduler.alphas_cumprod[prev_t]) if prev_t >= 0 else 1.0
        result = _run(
            backend,
            "ddpm_step",
            model_output,
            sample,
            float(scheduler.alphas_cumprod[t]),
            alpha_prev,
            noise=noise,
            prediction_type=prediction_type,
            variance_type=variance_type,
            clip_sample=clip_sample,
            clip_sample_range=1.5,
        )
        assert relative_error(result, expected) <= 1e-5, f"t={t} seed={seed}"


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("sampler", ["ddim_step", "ddpm_step"])
def test_guidance_is_fused_into_the_step(backend, sampler):
    """Passing (cond, uncond, w) equals diffusers' step on the guided output m_u + w (m_c - m_u)."""
    cls = DDIMScheduler if sampler == "ddim_step" else DDPMScheduler
    scheduler = _scheduler(cls, "epsilon", False)
    t = _timesteps(scheduler)[1]
    seed = torch.randint(0, 2**31 - 1, ()).item()
    cond, uncond, sample = _random(seed, 3)
    guided = (uncond.double() + 7.5 * (cond.double() - uncond.double())).float()
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(seed))
    if sampler == "ddim_step":
        expected = scheduler.step(guided, t, sample, eta=0.5, variance_noise=noise).prev_sample
        alpha_prev = float(scheduler.alphas_cumprod[t - 50])
        extra = dict(eta=0.5)
    else:
        expected = scheduler.step(
            guided, t, sample, generator=torch.Generator().manual_seed(seed)
        ).prev_sample
        alpha_prev = float(scheduler.alphas_cumprod[int(scheduler.previous_timestep(t))])
        extra = {}
    result = _run(
        backend,
        sampler,
        cond,
        sample,
        float(scheduler.alphas_cumprod[t]),
        alpha_prev,
        noise=noise,
        model_output_uncond=uncond,
        guidance_scale=7.5,
        **extra,
    )
    assert relative_error(result, expected) <= 1e-5


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("prediction_type", PREDICTION_TYPES)
def test_low_precision_step_within_1e_2_of_diffusers(dtype, prediction_type):
    scheduler = _scheduler(DDIMScheduler, prediction_type, True)
    t = _timesteps(scheduler)[1]
    model_output, sample, noise = (x.to(dtype) for x in _random(torch.randint(0, 2**31 - 1, ()).item(), 3))
    expected = scheduler.step(model_output.float(), t, sample.float(), eta=0.7, variance_noise=noise.float())
    result = _run(
        "triton",
        "ddim_step",
        model_output,
        sample,
        float(scheduler.alphas_cumprod[t]),
        float(scheduler.alphas_cumprod[t - 50]),
        eta=0.7,
        noise=noise,
        prediction_type=prediction_type,
        clip_sample=True,
        clip_sample_range=1.5,
        dtype=dtype,
    )
    assert relative_error(result, expected.prev_sample) <= 1e-2


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_tensors_give_empty_output(backend):
    empty = torch.randn(0, 4, device=DEVICE)
    with kernels.use(backend):
        result = kernels.ops.ddim_step(empty, empty.clone(), 0.5, 0.7)
    assert result.shape == (0, 4)


# (changes to a valid call, the argument the error must name)
BAD_CALLS = [
    (dict(model_output=torch.randint(0, 5, SHAPE)), "model_output"),  # dtype
    (dict(sample=torch.randn(2, 3, 7, 4)), "sample"),  # shape
    (dict(sample=torch.randn(SHAPE, dtype=torch.float64)), "sample"),  # dtype
    (dict(model_output=torch.randn(5, 3, 7, 2).transpose(0, 3)), "model_output"),  # not contiguous
    (dict(alpha_prod_t=1.5), "alpha_prod_t"),
    (dict(alpha_prod_t_prev=float("nan")), "alpha_prod_t_prev"),
    (dict(prediction_type="x0"), "prediction_type"),
    (dict(eta=0.5), "noise"),  # eta > 0 draws noise
    (dict(eta=-0.1), "eta"),
    (dict(guidance_scale=3.0), "guidance_scale"),  # guidance without the unconditional output
    (dict(model_output_uncond=torch.randn(3, 3)), "model_output_uncond"),  # shape
    (dict(out=torch.empty(SHAPE, dtype=torch.float16)), "out"),  # dtype
    (dict(sample=torch.randn(SHAPE, device="meta")), "sample"),  # device
]


@pytest.mark.parametrize("changes, name", BAD_CALLS, ids=[f"{n}-{i}" for i, (_, n) in enumerate(BAD_CALLS)])
def test_triton_ddim_step_names_the_bad_argument(changes, name):
    arguments = dict(
        model_output=torch.randn(SHAPE), sample=torch.randn(SHAPE), alpha_prod_t=0.5, alpha_prod_t_prev=0.7
    )
    arguments.update(changes)
    positional = [arguments.pop(k) for k in ("model_output", "sample", "alpha_prod_t", "alpha_prod_t_prev")]
    positional = [
        p.to(DEVICE) if isinstance(p, torch.Tensor) and p.device.type != "meta" else p for p in positional
    ]
    with kernels.use("triton"), pytest.raises(KernelInputError, match=rf"^{name}\b"):
        kernels.ops.ddim_step(*positional, **arguments)


def test_triton_step_refuses_inputs_that_need_grad():
    x = torch.randn(SHAPE, device=DEVICE, requires_grad=True)
    with kernels.use("triton"), pytest.raises(KernelInputError, match=r"^model_output\b"):
        kernels.ops.ddim_step(x, torch.randn(SHAPE, device=DEVICE), 0.5, 0.7)
