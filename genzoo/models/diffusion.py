"""Diffusion: a class-conditional ``diffusers.UNet2DModel`` on MNIST, trained as DDPM (Ho et al.
2020) and sampled by DDPM or DDIM with classifier-free guidance (Ho & Salimans 2022).

The UNet works at 28x28 directly: three levels 28 -> 14 -> 7 (``cpu``), one attention block in
the middle at 7x7. Classes 0..9 are the digits, class 10 the null class: training replaces a
label by it with probability ``class_dropout`` so that the same net also predicts unconditionally.

Training, DDPM's "simple" loss (eq. 14) with x_0 in [-1, 1], on the v target of Salimans & Ho
(2022, sec. 4) by default: unlike e, v stays informative at t ~ T, where the cosine schedule puts
alpha_t ~ 0 and x_0 from e = (x_t - sqrt(1 - a_t) e) / sqrt(a_t) blows up (DDIM's greys):

    t ~ U{0..T-1},  e ~ N(0, I),  x_t = sqrt(a_t) x_0 + sqrt(1 - a_t) e
    v = sqrt(a_t) e - sqrt(1 - a_t) x_0,  loss = |v - v(x_t, t, y)|^2     ("epsilon": |e - eps|^2)

The registry runs the fused parts: ``group_norm_silu`` in every ResNet block (fused_group_norm),
``ddpm_step``/``ddim_step`` with guidance fused (diffusion_sampling) and, when its integration is
installed, the attention processor.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import UNet2DModel
from torch import nn

from genzoo.integrations import diffusers_attention
from genzoo.models import data as datasets
from genzoo.models import diffusion_sampling, previews, protocol, training
from genzoo.models.fused_group_norm import fuse_group_norm_silu

NUM_CLASSES = 10
NULL_CLASS = NUM_CLASSES  # the "no class" label of classifier-free guidance
IMAGE_SIZE = 28
EVAL_TIMESTEPS = (50, 250, 500, 750, 950)
EVAL_BATCH = 250


@dataclasses.dataclass(frozen=True)
class DiffusionConfig:
    # one level each at 28, 14, 7 pixels: as many FLOPs per level, the widest at the coarsest.
    # Chosen by measurement (2 cores; DDIM-50, guidance 2, 500 samples, FID against the 500
    # held-out digits with its 95% interval, the classifier's agreement with the asked label):
    # (8, 16, 32) trained 2,000 steps (141 s) scores 2.63 [1.85, 3.72] / 0.988, 3,000 steps (245 s)
    # 2.64 [1.85, 3.83] / 0.992, at 0.52 ms a sample and UNet call; (16, 32, 64), 2,000 steps
    # (280 s), 2.83 [2.08, 3.88] / 1.0 at 1.41 ms: no better at this n, for twice the time.
    # 1,500 steps (103-123 s in genzoo run) score 2.77 [1.91, 3.93] / 0.988: as good at this n,
    # and about 100 s less over the cpu preset's three seeds; 1,000 steps (70 s) 2.48 [1.81, 3.39] but agree only 0.968.
    # The quick preset trains 600
    block_out_channels: tuple[int, ...] = (8, 16, 32)
    layers_per_block: int = 1
    norm_num_groups: int = 4
    attention_head_dim: int = 8  # of the mid-block attention, at the lowest resolution
    num_train_timesteps: int = 1000
    beta_schedule: str = "squaredcos_cap_v2"  # Nichol & Dhariwal 2021: better at few sampling steps
    prediction_type: str = "v_prediction"  # or "epsilon", "sample"
    clip_sample: bool = True  # clip predicted x_0 to [-1, 1] while sampling
    class_dropout: float = 0.1
    batch_size: int = 32
    steps: int = 1500  # ~11 epochs of the 4,500 digits: about 0.07 s a step on 2 cores
    learning_rate: float = 2e-3
    warmup_steps: int = 50
    ema_decay: float = 0.995  # of the sampled weights; ~200 steps of memory for a short run
    autocast: str | None = None  # "bfloat16" on CUDA for the gpu preset
    seed: int = 0
    extra_seeds: tuple[int, ...] = ()
    eval_images: int = 500

    def __post_init__(self) -> None:
        if IMAGE_SIZE % 2 ** (len(self.block_out_channels) - 1):
            raise ValueError(
                f"{len(self.block_out_channels)} levels halve 28 pixels {len(self.block_out_channels) - 1} times: "
                f"use at most 3 levels (28, 14, 7)"
            )


PRESETS = {
    "tiny": DiffusionConfig(
        block_out_channels=(8, 8, 16),
        norm_num_groups=4,
        attention_head_dim=8,
        batch_size=8,
        steps=3,
        ema_decay=0.5,
        eval_images=16,
    ),
    "quick": DiffusionConfig(steps=600),
    # three training seeds in every image family: instability is their spread beyond sampling noise
    "cpu": DiffusionConfig(extra_seeds=(1, 2)),
    "gpu": DiffusionConfig(
        block_out_channels=(64, 128, 256),
        layers_per_block=2,
        norm_num_groups=32,
        attention_head_dim=32,
        batch_size=256,
        steps=20000,
        learning_rate=5e-4,
        warmup_steps=500,
        ema_decay=0.9995,
        autocast="bfloat16",
        extra_seeds=(1, 2),
    ),
}


class ClassConditionalUNet(nn.Module):
    """The denoiser m(x_t, t, y), m = v, eps or x_0 per ``prediction_type``: a UNet with its
    GroupNorm+SiLU pairs and its attention on the registry.

    ``unet`` holds the trained weights, ``ema_unet`` their exponential moving average (DDPM
    sec. 4 samples from EMA weights too): calling the model, as sampling and evaluation do,
    runs the average; the training step runs ``unet``.
    """

    def __init__(self, config: DiffusionConfig):
        super().__init__()
        self.config = config
        levels = len(config.block_out_channels)
        self.unet = UNet2DModel(
            sample_size=IMAGE_SIZE,
            in_channels=1,
            out_channels=1,
            block_out_channels=config.block_out_channels,
            layers_per_block=config.layers_per_block,
            down_block_types=("DownBlock2D",) * levels,
            up_block_types=("UpBlock2D",) * levels,
            norm_num_groups=config.norm_num_groups,
            attention_head_dim=config.attention_head_dim,
            num_class_embeds=NUM_CLASSES + 1,
        )
        fuse_group_norm_silu(self.unet)
        diffusers_attention.use_genzoo_attention(self.unet)  # the registry op "attention"
        self.ema_unet = copy.deepcopy(self.unet).requires_grad_(False)

    def forward(self, x: torch.Tensor, t: torch.Tensor | int, labels: torch.Tensor) -> torch.Tensor:
        return self.ema_unet(x, t, class_labels=labels).sample

    @torch.no_grad()
    def update_ema(self, step: int) -> None:
        """ema <- d ema + (1 - d) weights, with d warmed up as (1 + step) / (10 + step) so that
        the first steps' random weights fade quickly."""
        decay = min(self.config.ema_decay, (1 + step) / (10 + step))
        torch._foreach_lerp_(list(self.ema_unet.parameters()), list(self.unet.parameters()), 1 - decay)


def build(config: DiffusionConfig) -> ClassConditionalUNet:
    with training.seeded(config.seed):
        return ClassConditionalUNet(config).eval()


def _noised(scheduler, x0: torch.Tensor, timesteps: torch.Tensor, generator: torch.Generator):
    """(x_t, target): the DDPM forward process at ``timesteps`` and what the net must predict."""
    noise = torch.randn(x0.shape, generator=generator, device=x0.device)
    x_t = scheduler.add_noise(x0, noise, timesteps)
    prediction_type = scheduler.config.prediction_type
    if prediction_type == "epsilon":
        return x_t, noise
    if prediction_type == "sample":
        return x_t, x0
    return x_t, scheduler.get_velocity(x0, noise, timesteps)


def make_training_step(model: ClassConditionalUNet, data: datasets.Mnist, generator: torch.Generator):
    config = model.config
    device = protocol.device_of(model)
    images = data.train.images.to(device) * 2 - 1
    labels = data.train.labels.to(device)
    scheduler = diffusion_sampling.training_scheduler(config)
    batches = training.batches(len(data.train), config.batch_size, generator)
    optimizer = torch.optim.AdamW(model.unet.parameters(), lr=config.learning_rate, weight_decay=0.0)
    schedule = training.warmup_cosine(optimizer, config.warmup_steps, config.steps)
    step_count = itertools.count()

    def step() -> dict[str, torch.Tensor]:
        index = next(batches)
        timesteps = torch.randint(
            config.num_train_timesteps, (len(index),), generator=generator, device=device
        )
        x_t, target = _noised(scheduler, images[index], timesteps, generator)
        dropped = torch.rand(len(index), generator=generator, device=device) < config.class_dropout
        conditioning = torch.where(dropped, NULL_CLASS, labels[index])
        with training.autocast(device, config.autocast):
            loss = F.mse_loss(model.unet(x_t, timesteps, class_labels=conditioning).sample.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        model.update_ema(next(step_count))
        schedule.step()
        return {"loss": loss.detach()}

    return step


@torch.no_grad()
def sample(
    model: ClassConditionalUNet,
    n: int,
    seed: int,
    *,
    labels: torch.Tensor | None = None,
    sampler: str = "ddpm",
    steps: int = 50,
    guidance_scale: float = 2.0,
    eta: float = 0.0,
    timestep_spacing: str = "trailing",
    clipped_eps: bool = True,
    dtype: str | torch.dtype | None = None,
) -> torch.Tensor:
    """Digits of ``labels`` (default 0..9 repeated): [n, 1, 28, 28] float32 in [0, 1].
    ``eta`` and ``clipped_eps`` (the noise re-derived from the clipped x_0) are DDIM's; the DDPM
    sampler has neither and ignores them. ``timestep_spacing``: see ``sampling_scheduler``."""
    model = protocol.cast(model, dtype)
    device = protocol.device_of(model)
    generator = training.generator(seed, device)
    labels = previews.grid_labels(n, NUM_CLASSES, device) if labels is None else labels.to(device)
    scheduler = diffusion_sampling.sampling_scheduler(model.config, sampler, steps, timestep_spacing)
    x = torch.randn(n, 1, IMAGE_SIZE, IMAGE_SIZE, generator=generator, device=device).to(
        protocol.dtype_of(model)
    )
    x = diffusion_sampling.denoise(
        model,
        x * scheduler.init_noise_sigma,
        labels,
        NULL_CLASS,
        scheduler,
        generator,
        guidance_scale=guidance_scale,
        eta=eta,
        use_clipped_model_output=clipped_eps,
    )
    return ((x.float() + 1) / 2).clamp(0, 1)


@torch.no_grad()
def evaluate(model: ClassConditionalUNet, data: datasets.Mnist) -> dict[str, float]:
    """The training loss on held-out digits at fixed timesteps and noise: how well the net denoises."""
    device = protocol.device_of(model)
    images = data.test.images[: model.config.eval_images].to(device) * 2 - 1
    labels = data.test.labels[: model.config.eval_images].to(device)
    scheduler = diffusion_sampling.training_scheduler(model.config)
    generator = training.generator(0, device)
    total = 0.0
    for t in EVAL_TIMESTEPS:
        for x0, y in zip(images.split(EVAL_BATCH), labels.split(EVAL_BATCH)):
            timesteps = torch.full((len(x0),), t, device=device)
            x_t, target = _noised(scheduler, x0, timesteps, generator)
            total += F.mse_loss(model(x_t, timesteps, y), target, reduction="sum").item() / x0[0].numel()
    return {"test_denoising_mse": total / (len(images) * len(EVAL_TIMESTEPS))}


def write_preview(model: ClassConditionalUNet, directory: Path) -> list[Path]:
    images = sample(model, 40, seed=0)  # the default knobs: DDPM, 50 steps, guidance 2
    return [previews.write_image_grid(images, Path(directory) / "diffusion.png")]


# the sweep's knob values per preset: DDPM at its usual step count against DDIM's shorter paths,
# and the guidance scale; batch sizes are timed at DDIM's shortest path (they are about the UNet)
STEPS_KNOB = protocol.Knob("steps", diffusion_sampling.INFERENCE_STEPS, 50)  # UNet calls, x2 with guidance
# classifier-free guidance w; 1 skips the unconditional pass
GUIDANCE_KNOB = protocol.Knob("guidance_scale", (1.0, 2.0, 4.0), 2.0)
# longer paths are slow points: their quality sets are the preset's smaller one (sweeps.plan)
SLOW_STEPS = 50
# the tiny preset (tests of the plumbing) visits a few short paths instead of the knobs' values
TINY_SWEEP = dict(ddpm_steps=10, ddim_steps=(5, 2), guidance_scales=(1.0, 2.0))


def sweep_plan(preset: str) -> protocol.SweepPlan:
    """DDPM at its full step count (at w = 1) against DDIM's paths (at w = 2 and at w = 1) and the
    guidance scales, around DDIM-50 at w = 2, from the knobs' values; batch sizes are timed at
    DDIM's shortest path (they are about the UNet, not the steps)."""
    ddpm_steps, *ddim_steps = STEPS_KNOB.values
    knobs = dict(ddpm_steps=ddpm_steps, ddim_steps=tuple(ddim_steps), guidance_scales=GUIDANCE_KNOB.values)
    if preset == "tiny":
        knobs = TINY_SWEEP
    reference = dict(
        sampler="ddim",
        steps=STEPS_KNOB.default,
        guidance_scale=GUIDANCE_KNOB.default,
        eta=0.0,
        # recorded on every row: results of the old defaults (leading, eps unclipped) compare apart
        timestep_spacing="trailing",
        clipped_eps=True,
    )
    # DDPM at w = 1, beside DDIM's w = 1 curve (the DDIM paper compares the two unguided): its
    # 1,000 steps at w = 2 took 3.8-4.3 minutes of the cpu job's sweep, at w = 1 (one UNet call a
    # step, no unconditional pass) 2.2 (128 samples in both)
    variants = [dict(reference, sampler="ddpm", steps=knobs["ddpm_steps"], guidance_scale=1.0)]
    # the DDIM curve at the default guidance and at w = 1, the DDIM paper's setting
    variants += [
        dict(reference, guidance_scale=w, steps=steps)
        for w in (reference["guidance_scale"], 1.0)
        for steps in knobs["ddim_steps"]
    ]
    variants += [
        dict(reference, guidance_scale=w)
        for w in knobs["guidance_scales"]
        if w != reference["guidance_scale"]
    ]
    return protocol.SweepPlan(reference, tuple(variants), dict(reference, steps=min(knobs["ddim_steps"])))


FAMILY = protocol.Family(
    name="diffusion",
    unit="images",
    presets=PRESETS,
    knobs=(
        protocol.BATCH_KNOB,
        # DDPM by default: on these short-trained nets DDIM's deterministic path keeps the
        # errors that DDPM's fresh noise washes out, most under guidance (results/ grids)
        protocol.Knob("sampler", diffusion_sampling.SAMPLERS, "ddpm"),
        STEPS_KNOB,
        GUIDANCE_KNOB,
        protocol.Knob("eta", (0.0, 1.0), 0.0),  # DDIM's noise: 0 deterministic, 1 DDPM-like
        # where the timesteps start, and DDIM's eps from the clipped x_0 or from the model output.
        # Chosen by measurement (cpu checkpoint, 200 samples a point, guidance 2, FID against the
        # 500 held-out digits with its 95% interval, and the classifier's agreement with the asked
        # label): eps from the model output, leading: FID 7.8 [5.1, 10.9], agreement 0.87 at 10
        # steps, 17.8 [14.6, 21.6] and 0.29 at 50 (the inverted curve of results/cpu-reference); eps from the
        # clipped x_0: leading 4.9 [2.9, 7.5] / 0.975 at 10 steps, 5.1 [3.0, 7.7] / 1.0 at 50 and
        # 5.2 [3.0, 7.8] / 1.0 at 100 (flat), trailing 4.9 [2.8, 7.4] / 1.0 at 10 and 5.1 [3.0, 7.8]
        # / 1.0 at 50. Trailing starts at t = T from pure noise, as Lin et al. 2024 recommend.
        protocol.Knob("timestep_spacing", diffusion_sampling.TIMESTEP_SPACINGS, "trailing"),
        protocol.Knob("clipped_eps", (False, True), True),
    ),
    ops=("ddpm_step", "ddim_step", "group_norm_silu", "attention"),
    load_data=datasets.load_mnist,
    build=build,
    make_training_step=make_training_step,
    sample=sample,
    evaluate=evaluate,
    write_preview=write_preview,
    headline=protocol.Headline(
        "fid", "lower", window=0.10
    ),  # FID of a few dozen samples moves a few % with the seed
    sweep_plan=sweep_plan,
    benchmark_cases={
        "cpu": (dict(n=2, sampler="ddim", steps=10, guidance_scale=2.0),),
        "cuda": (dict(n=16, sampler="ddim", steps=50, guidance_scale=2.0),),
    },
    claims=(protocol.Claim("diffusion: best quality, slowest", ("best_quality", "slowest")),),
    evaluation_better={"test_denoising_mse": "lower"},
    slow_point=lambda knobs: knobs.get("steps", 0) > SLOW_STEPS,
)
