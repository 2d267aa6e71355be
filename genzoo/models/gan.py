"""GAN: a class-conditional DCGAN on MNIST (Radford, Metz & Chintala 2016), written here.

DCGAN's rules (sec. 3): strided (transposed) convolutions instead of pooling, BatchNorm in both
nets except the generator's output and the discriminator's input, ReLU in the generator with
Tanh at its output, LeakyReLU(0.2) in the discriminator, weights from N(0, 0.02), Adam with
lr 2e-4 and beta1 0.5. Conditioning: the generator sees its class one-hot beside z (Mirza &
Osindero 2014); the discriminator adds a class projection to its logit (Miyato & Koyama 2018,
eq. 3): D(x, y) = w . h(x) + embed(y) . h(x).

Loss: the non-saturating GAN loss (Goodfellow et al. 2014, sec. 3):

    L_D = softplus(-D(x, y)) + softplus(D(G(z, y'), y'))       = -log s(D(x)) - log(1 - s(D(G(z))))
    L_G = softplus(-D(G(z, y'), y'))                           = -log s(D(G(z)))

GANs are unstable: the ``cpu`` preset trains three seeds and keeps every step's losses.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.measurement import Measurement
from genzoo.models import data as datasets
from genzoo.models import previews, protocol, training

NUM_CLASSES = 10
EVAL_BATCH = 250


@dataclasses.dataclass(frozen=True)
class GANConfig:
    latent_dim: int = 64
    width: int = 32  # G: 2w channels at 7x7, w at 14x14; D: w at 14x14, 2w at 7x7
    batch_size: int = 64
    steps: int = 1500  # ~20 epochs of the 4,500 digits: about 30 ms a step on 2 cores
    learning_rate: float = 2e-4
    beta1: float = 0.5
    seed: int = 0
    extra_seeds: tuple[int, ...] = ()
    eval_images: int = 500


PRESETS = {
    "tiny": GANConfig(latent_dim=8, width=8, batch_size=16, steps=4, eval_images=32),
    "quick": GANConfig(steps=600),
    "cpu": GANConfig(extra_seeds=(1, 2)),
    "gpu": GANConfig(latent_dim=100, width=128, batch_size=128, steps=10000, extra_seeds=(1, 2, 3, 4)),
}


class Generator(nn.Module):
    def __init__(self, config: GANConfig):
        super().__init__()
        w = config.width
        self.project = nn.Sequential(
            nn.Linear(config.latent_dim + NUM_CLASSES, 2 * w * 7 * 7, bias=False),
            nn.BatchNorm1d(2 * w * 7 * 7),
            nn.ReLU(),
            nn.Unflatten(1, (2 * w, 7, 7)),
        )
        self.upsample = nn.Sequential(
            nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1, bias=False),  # [B, w, 14, 14]
            nn.BatchNorm2d(w),
            nn.ReLU(),
            nn.ConvTranspose2d(w, 1, 4, stride=2, padding=1),  # [B, 1, 28, 28]
            nn.Tanh(),
        )

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        one_hot = F.one_hot(labels, NUM_CLASSES).to(z.dtype)
        return self.from_inputs(torch.cat([z, one_hot], dim=1))

    def from_inputs(self, inputs: torch.Tensor) -> torch.Tensor:
        """Images of generator inputs [B, latent_dim + 10]: z beside a one-hot label, or any point
        between two such inputs (a soft label), as latent interpolations walk them."""
        return self.upsample(self.project(inputs))


class Discriminator(nn.Module):
    def __init__(self, config: GANConfig):
        super().__init__()
        w = config.width
        self.features = nn.Sequential(
            nn.Conv2d(1, w, 4, stride=2, padding=1),  # [B, w, 14, 14]
            nn.LeakyReLU(0.2),
            nn.Conv2d(w, 2 * w, 4, stride=2, padding=1, bias=False),  # [B, 2w, 7, 7]
            nn.BatchNorm2d(2 * w),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
        )
        self.logit = nn.Linear(2 * w * 7 * 7, 1)
        self.class_projection = nn.Embedding(NUM_CLASSES, 2 * w * 7 * 7)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        h = self.features(images)
        return self.logit(h).squeeze(1) + (self.class_projection(labels) * h).sum(1)


class ConditionalDCGAN(nn.Module):
    def __init__(self, config: GANConfig):
        super().__init__()
        self.config = config
        self.generator = Generator(config)
        self.discriminator = Discriminator(config)
        for module in self.modules():  # DCGAN sec. 4: all weights from N(0, 0.02)
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, 0.0, 0.02)
            elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                nn.init.normal_(module.weight, 1.0, 0.02)
                nn.init.zeros_(module.bias)


def build(config: GANConfig) -> ConditionalDCGAN:
    with training.seeded(config.seed):
        return ConditionalDCGAN(config).eval()


def _latents(
    n: int, config: GANConfig, generator: torch.Generator, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    z = torch.randn(n, config.latent_dim, generator=generator, device=device)
    labels = torch.randint(NUM_CLASSES, (n,), generator=generator, device=device)
    return z, labels


def make_training_step(model: ConditionalDCGAN, data: datasets.Mnist, generator: torch.Generator):
    config = model.config
    device = protocol.device_of(model)
    images = data.train.images.to(device) * 2 - 1  # Tanh range
    labels = data.train.labels.to(device)
    batches = training.batches(len(data.train), config.batch_size, generator)
    adam = {"lr": config.learning_rate, "betas": (config.beta1, 0.999)}
    g_optimizer = torch.optim.Adam(model.generator.parameters(), **adam)
    d_optimizer = torch.optim.Adam(model.discriminator.parameters(), **adam)
    G, D = model.generator, model.discriminator

    def step() -> dict[str, torch.Tensor]:
        index = next(batches)
        z, fake_labels = _latents(config.batch_size, config, generator, device)
        fake = G(z, fake_labels)
        # 1. discriminator: real up, fake down (fake detached: no generator gradient here)
        d_loss = (
            F.softplus(-D(images[index], labels[index])).mean()
            + F.softplus(D(fake.detach(), fake_labels)).mean()
        )
        d_optimizer.zero_grad(set_to_none=True)
        d_loss.backward()
        d_optimizer.step()
        # 2. generator: the non-saturating loss against the updated discriminator
        g_loss = F.softplus(-D(fake, fake_labels)).mean()
        g_optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        g_optimizer.step()
        return {"d_loss": d_loss.detach(), "g_loss": g_loss.detach()}

    return step


@torch.no_grad()
def sample(
    model: ConditionalDCGAN,
    n: int,
    seed: int,
    *,
    labels: torch.Tensor | None = None,
    dtype: str | torch.dtype | None = None,
) -> torch.Tensor:
    """Generated digits of ``labels`` (default 0..9 repeated): [n, 1, 28, 28] float32 in [0, 1]."""
    model = protocol.cast(model, dtype)
    device = protocol.device_of(model)
    z = torch.randn(n, model.config.latent_dim, generator=training.generator(seed, device), device=device)
    labels = previews.grid_labels(n, NUM_CLASSES, device) if labels is None else labels.to(device)
    images = model.generator(z.to(protocol.dtype_of(model)), labels)
    return ((images.float() + 1) / 2).clamp(0, 1)


@torch.no_grad()
def evaluate(model: ConditionalDCGAN, data: datasets.Mnist) -> dict[str, float]:
    """The discriminator's losses and accuracies on held-out digits and on fresh fakes."""
    device = protocol.device_of(model)
    config = model.config
    images = data.test.images[: config.eval_images].to(device) * 2 - 1
    labels = data.test.labels[: config.eval_images].to(device)
    generator = training.generator(0, device)
    sums = {"d_loss_real": 0.0, "d_loss_fake": 0.0, "d_accuracy_real": 0.0, "d_accuracy_fake": 0.0}
    for real, real_labels in zip(images.split(EVAL_BATCH), labels.split(EVAL_BATCH)):
        z, fake_labels = _latents(len(real), config, generator, device)
        real_logits = model.discriminator(real, real_labels)
        fake_logits = model.discriminator(model.generator(z, fake_labels), fake_labels)
        sums["d_loss_real"] += F.softplus(-real_logits).sum().item()
        sums["d_loss_fake"] += F.softplus(fake_logits).sum().item()
        sums["d_accuracy_real"] += (real_logits > 0).sum().item()
        sums["d_accuracy_fake"] += (fake_logits < 0).sum().item()
    return {f"test_{name}": total / len(images) for name, total in sums.items()}


def write_preview(model: ConditionalDCGAN, directory: Path) -> list[Path]:
    return [previews.write_image_grid(sample(model, 80, seed=0), Path(directory) / "gan.png")]


def draw_latents(model: ConditionalDCGAN, n: int, generator: torch.Generator) -> torch.Tensor:
    """The generator's whole input as its latent: z ~ N(0, I) beside a one-hot label drawn
    uniformly, so that interpolations cross classes as the VAE's do."""
    device = protocol.device_of(model)
    z = torch.randn(n, model.config.latent_dim, generator=generator, device=device)
    labels = torch.randint(0, NUM_CLASSES, (n,), generator=generator, device=device)
    return torch.cat([z, F.one_hot(labels, NUM_CLASSES).to(z.dtype)], dim=1)


def decode_latents(model: ConditionalDCGAN, latents: torch.Tensor) -> torch.Tensor:
    return ((model.generator.from_inputs(latents).float() + 1) / 2).clamp(0, 1)


def loss_curve_spread(trained: list, context) -> list[Measurement]:
    """How the generator's loss curves oscillate and spread across training seeds (``trained``: a
    ``checkpoint.Trained`` per seed); each seed's sample quality is measured for every image family
    alike (``genzoo.sweeps.claim_evidence``)."""
    from genzoo import quality

    if len(trained) < 2:
        return []
    common = dict(
        kind="quality",
        subject="gan",
        backend="eager",
        dtype="float32",
        case=f"seeds={len(trained)}",
        unit="",
        better="lower",
        samples=len(trained),
        seeds=",".join(str(run.config.seed) for run in trained),
        note="training seeds",
    )
    curves = quality.loss_curve_spread([run.log.losses["g_loss"] for run in trained])
    return [
        Measurement(metric="g_loss_oscillation_mean", value=curves.oscillation.mean, **common),
        Measurement(metric="g_loss_across_seed_std", value=curves.across_seed_std, **common),
    ]


FAMILY = protocol.Family(
    name="gan",
    unit="images",
    presets=PRESETS,
    knobs=(protocol.BATCH_KNOB,),
    ops=(),  # DCGAN's BatchNorm+ReLU has no fused op: only compile changes its computation
    load_data=datasets.load_mnist,
    build=build,
    make_training_step=make_training_step,
    sample=sample,
    evaluate=evaluate,
    write_preview=write_preview,
    headline=protocol.Headline("fid", "lower", window=0.10),
    sweep_plan=lambda preset: protocol.SweepPlan(reference={}),
    benchmark_cases={"cpu": (dict(n=16),), "cuda": (dict(n=256),)},
    extra_measurements=loss_curve_spread,
    latent_space=protocol.LatentSpace(draw_latents, decode_latents),
    claims=(protocol.Claim("GANs: fastest, unstable", ("fastest", "unstable")),),
)
