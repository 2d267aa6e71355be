"""VAE: a convolutional variational autoencoder on MNIST (Kingma & Welling 2014).

Gaussian encoder q(z|x) = N(mu(x), diag sigma(x)^2); prior p(z) = N(0, I); decoder p(x|z)
Bernoulli (pixel intensities as probabilities, the usual MNIST choice) or Gaussian with one
learned standard deviation. Trained by maximising the ELBO (eq. 3 of the paper), one z sample
per image with the reparameterisation z = mu + sigma * e:

    ELBO(x) = E_q[log p(x|z)] - KL(q(z|x) || N(0, I))      in nats per image
    KL      = 1/2 sum_j (mu_j^2 + sigma_j^2 - 1 - log sigma_j^2)     (appendix B)

Conv blocks normalise with GroupNorm+SiLU, the registry's fused ``group_norm_silu``; generation
decodes prior samples: 28x28 -> 14x14 -> 7x7 and back.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from genzoo.measurement import Measurement
from genzoo.models import data as datasets
from genzoo.models import previews, protocol, training
from genzoo.models.fused_group_norm import GroupNormSiLU

LIKELIHOODS = ("bernoulli", "gaussian")
EVAL_BATCH = 250


@dataclasses.dataclass(frozen=True)
class VAEConfig:
    width: int = 16  # channels at 28x28; 2x at 14x14 and 7x7
    latent_dim: int = 16
    groups: int = 4  # GroupNorm groups; divides width
    likelihood: str = "bernoulli"
    batch_size: int = 64
    steps: int = 2000  # ~28 epochs of the 4,500 digits: about 25 ms a step on 2 cores
    learning_rate: float = 2e-3
    warmup_steps: int = 50
    seed: int = 0
    extra_seeds: tuple[int, ...] = ()
    eval_images: int = 500  # held-out images the metrics average over

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {LIKELIHOODS}, got {self.likelihood!r}")
        if self.width % self.groups:
            raise ValueError(f"groups={self.groups} must divide width={self.width}")


PRESETS = {
    "tiny": VAEConfig(width=8, latent_dim=4, groups=2, batch_size=16, steps=4, eval_images=32),
    "quick": VAEConfig(steps=600),
    # three training seeds in every image family: instability is their spread beyond sampling noise
    "cpu": VAEConfig(extra_seeds=(1, 2)),
    "gpu": VAEConfig(
        width=64, latent_dim=32, groups=16, batch_size=256, steps=5000, learning_rate=1e-3, extra_seeds=(1, 2)
    ),
}


def _conv_block(conv: nn.Module, channels: int, groups: int) -> nn.Sequential:
    return nn.Sequential(conv, GroupNormSiLU(groups, channels))


class ConvVAE(nn.Module):
    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config
        w, g, latent = config.width, config.groups, config.latent_dim
        self.encoder = nn.Sequential(
            _conv_block(nn.Conv2d(1, w, 3, padding=1), w, g),  # [B, w, 28, 28]
            _conv_block(nn.Conv2d(w, 2 * w, 4, stride=2, padding=1), 2 * w, g),  # [B, 2w, 14, 14]
            _conv_block(nn.Conv2d(2 * w, 2 * w, 4, stride=2, padding=1), 2 * w, g),  # [B, 2w, 7, 7]
            nn.Flatten(),
            nn.Linear(2 * w * 7 * 7, 2 * latent),  # mu and log sigma^2
        )
        self.decoder = nn.Sequential(
            nn.Linear(latent, 2 * w * 7 * 7),
            nn.Unflatten(1, (2 * w, 7, 7)),
            GroupNormSiLU(g, 2 * w),
            _conv_block(nn.ConvTranspose2d(2 * w, w, 4, stride=2, padding=1), w, g),  # [B, w, 14, 14]
            _conv_block(nn.ConvTranspose2d(w, w, 4, stride=2, padding=1), w, g),  # [B, w, 28, 28]
            nn.Conv2d(w, 1, 3, padding=1),  # logits of p(x|z) (Bernoulli) or of its mean (Gaussian)
        )
        # Gaussian decoder: one learned log sigma for all pixels; unused (and untrained) for Bernoulli
        self.log_sigma = nn.Parameter(
            torch.tensor(math.log(0.1)), requires_grad=config.likelihood == "gaussian"
        )

    def encode(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, log_var = self.encoder(images).chunk(2, dim=1)
        return mu, log_var

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel means in [0, 1], [B, 1, 28, 28]."""
        return torch.sigmoid(self.decoder(z))


@dataclasses.dataclass(frozen=True)
class ElboTerms:
    """Per image, in nats: ELBO = -reconstruction_nll - kl."""

    elbo: torch.Tensor
    reconstruction_nll: torch.Tensor
    kl: torch.Tensor


def elbo(model: ConvVAE, images: torch.Tensor, generator: torch.Generator) -> ElboTerms:
    """The one-sample ELBO of each image (``images`` [B, 1, 28, 28] in [0, 1])."""
    mu, log_var = model.encode(images)
    noise = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    z = mu + torch.exp(0.5 * log_var) * noise  # reparameterisation (sec. 2.4)
    logits = model.decoder(z)
    if model.config.likelihood == "bernoulli":
        nll = F.binary_cross_entropy_with_logits(logits, images, reduction="none")
    else:  # -log N(x; mean, sigma^2)
        sigma = model.log_sigma.exp()
        nll = (
            0.5 * ((images - torch.sigmoid(logits)) / sigma) ** 2
            + model.log_sigma
            + 0.5 * math.log(2 * math.pi)
        )
    reconstruction_nll = nll.flatten(1).sum(1)
    kl = 0.5 * (mu**2 + log_var.exp() - 1 - log_var).sum(1)
    return ElboTerms(elbo=-(reconstruction_nll + kl), reconstruction_nll=reconstruction_nll, kl=kl)


def reconstruction_error(model: ConvVAE, images: torch.Tensor) -> torch.Tensor:
    """Per-image mean squared error of the reconstruction from the posterior mean."""
    mu, _ = model.encode(images)
    return ((model.decode(mu) - images) ** 2).flatten(1).mean(1)


def build(config: VAEConfig) -> ConvVAE:
    with training.seeded(config.seed):
        return ConvVAE(config).eval()


def make_training_step(model: ConvVAE, data: datasets.Mnist, generator: torch.Generator):
    config = model.config
    device = protocol.device_of(model)
    images = data.train.images.to(device)
    batches = training.batches(len(data.train), config.batch_size, generator)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=config.learning_rate)
    schedule = training.warmup_cosine(optimizer, config.warmup_steps, config.steps)

    def step() -> dict[str, torch.Tensor]:
        terms = elbo(model, images[next(batches)], generator)
        loss = -terms.elbo.mean()  # nats per image
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        return {"loss": loss.detach(), "kl": terms.kl.mean().detach()}

    return step


@torch.no_grad()
def sample(model: ConvVAE, n: int, seed: int, *, dtype: str | torch.dtype | None = None) -> torch.Tensor:
    """Decoded prior samples z ~ N(0, I): [n, 1, 28, 28] float32 in [0, 1]."""
    model = protocol.cast(model, dtype)
    device = protocol.device_of(model)
    z = torch.randn(n, model.config.latent_dim, generator=training.generator(seed, device), device=device)
    return model.decode(z.to(protocol.dtype_of(model))).float()


@torch.no_grad()
def evaluate(model: ConvVAE, data: datasets.Mnist) -> dict[str, float]:
    device = protocol.device_of(model)
    images = data.test.images[: model.config.eval_images].to(device)
    generator = training.generator(0, device)
    sums = {"test_elbo": 0.0, "test_reconstruction_nll": 0.0, "test_kl": 0.0, "test_reconstruction_mse": 0.0}
    for chunk in images.split(EVAL_BATCH):
        terms = elbo(model, chunk, generator)
        sums["test_elbo"] += terms.elbo.sum().item()
        sums["test_reconstruction_nll"] += terms.reconstruction_nll.sum().item()
        sums["test_kl"] += terms.kl.sum().item()
        sums["test_reconstruction_mse"] += reconstruction_error(model, chunk).sum().item()
    return {name: total / len(images) for name, total in sums.items()}


def write_preview(model: ConvVAE, directory: Path) -> list[Path]:
    return [previews.write_image_grid(sample(model, 80, seed=0), Path(directory) / "vae.png")]


@torch.no_grad()
def held_out_elbo(trained: list, context) -> list[Measurement]:
    """The held-out ELBO of each training seed's model (nats per image), with a 95% bootstrap
    interval over the held-out digits (each image's one-sample ELBO, the noise seeded)."""
    from genzoo.stats import bootstrap
    from genzoo.stats.interval import measurement_fields

    data = datasets.load_mnist()
    rows = []
    for run in trained:
        model, device = run.model.eval(), protocol.device_of(run.model)
        images = data.test.images[: model.config.eval_images].to(device)
        generator = training.generator(0, device)
        per_image = torch.cat([elbo(model, chunk, generator).elbo for chunk in images.split(EVAL_BATCH)])
        interval = bootstrap(lambda x: float(x.mean()), per_image.double().cpu().numpy(), seed=0)
        rows.append(
            Measurement(
                kind="quality",
                subject="vae",
                backend="eager",
                dtype="float32",
                case=f"held-out train_seed={run.config.seed}",
                metric="elbo",
                unit="",
                better="higher",
                knobs=(("train_seed", run.config.seed),),
                note="nats per image, held-out digits; 95% bootstrap interval over images",
                **measurement_fields(interval),
            )
        )
    return rows


FAMILY = protocol.Family(
    name="vae",
    unit="images",
    presets=PRESETS,
    knobs=(protocol.BATCH_KNOB,),
    ops=("group_norm_silu",),
    load_data=datasets.load_mnist,
    build=build,
    make_training_step=make_training_step,
    sample=sample,
    evaluate=evaluate,
    write_preview=write_preview,
    headline=protocol.Headline("fid", "lower", window=0.10),
    sweep_plan=lambda preset: protocol.SweepPlan(reference={}),
    benchmark_cases={"cpu": (dict(n=16),), "cuda": (dict(n=256),)},
    extra_measurements=held_out_elbo,
    latent_space=protocol.LatentSpace(
        lambda model, n, generator: torch.randn(
            n, model.config.latent_dim, generator=generator, device=protocol.device_of(model)
        ),
        lambda model, latents: model.decode(latents).float(),
    ),
    claims=(protocol.Claim("VAEs: smooth but blurry", ("smooth", "blurriest")),),
    evaluation_better={
        "test_elbo": "higher",
        "test_reconstruction_nll": "lower",
        "test_reconstruction_mse": "lower",
    },
)
