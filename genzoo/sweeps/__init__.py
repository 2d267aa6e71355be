"""Speed/quality sweeps of the four families: every speed figure beside the quality it keeps.

    rows = sweeps.run_family("diffusion", preset="cpu", backends=("eager", "compile", "triton"))

Besides the points of ``plan.points``, each family adds what only it has: the GAN's spread of
FID and loss curves across training seeds, the VAE's ELBO and latent smoothness, and every
family's training compute (seconds and steps of the checkpoint's training run).
"""

from __future__ import annotations

import torch
from tqdm.auto import tqdm

from genzoo import quality
from genzoo.measurement import Measurement
from genzoo.models import checkpoint, protocol
from genzoo.quality.feature_net import extract_features
from genzoo.sweeps import plan
from genzoo.sweeps.runner import FamilySweep
from genzoo.timing import benchmark_threads, default_device

# backends that change a family's computation: "sdpa" only exists for attention
FAMILY_BACKENDS = {
    "llm": ("eager", "sdpa", "compile", "triton"),
    "diffusion": ("eager", "sdpa", "compile", "triton"),
    "gan": ("eager", "compile"),
    "vae": ("eager", "compile", "triton"),
}


def run_family(
    name: str,
    preset: str = "cpu",
    backends: tuple[str, ...] = ("eager", "sdpa", "compile", "triton"),
    device: str | None = None,
    progress: bool = True,
) -> list[Measurement]:
    device = default_device(device)
    settings = plan.SETTINGS[preset]
    trained = checkpoint.ensure_trained_seeds(name, preset, device=device, progress=progress)
    family = protocol.get(name)
    image_reference = None
    if family.unit == "images":
        config = quality.ImageQualityConfig(feature_net=quality.FEATURE_NET_PRESETS[settings.feature_net])
        image_reference = quality.ImageQualityReference(config, device)
    sweep = FamilySweep(family, trained[0].model, settings, device, image_reference)
    rows = _training_rows(trained)
    points = plan.points(name, settings, backends, FAMILY_BACKENDS[name])
    with benchmark_threads(device):
        for point in tqdm(points, desc=f"sweep {name}", disable=not progress):
            rows += sweep.run(point)
    if name == "gan":
        rows += _seed_spread_rows(family, trained, settings, image_reference)
    if name == "vae":
        rows += _vae_rows(trained[0], image_reference)
    return _without_duplicate_anchors(rows)


def _training_rows(trained: list[checkpoint.Trained]) -> list[Measurement]:
    rows = []
    for run in trained:
        common = dict(kind="model", subject=run.family, backend="eager", dtype="float32", case=f"seed={run.config.seed}")
        rows += [
            Measurement(metric="train_seconds", value=run.log.seconds, unit="s", note=f"preset {run.preset}", **common),
            Measurement(metric="train_steps", value=float(run.log.steps), unit="steps", **common),
        ]
        rows += [Measurement(metric=k, value=float(v), unit="", note="held-out, at training end", **common)
                 for k, v in run.metrics.items()]  # fmt: skip
    return rows


def _seed_spread_rows(family, trained, settings, reference) -> list[Measurement]:
    """FID of each training seed's generator, and the spread of FIDs and loss curves."""
    fids = []
    rows = []
    for run in trained:
        images = family.sample(run.model, settings.quality_samples, 1000)
        fid = quality.evaluate_images(images, reference).metrics["fid"]
        fids.append(fid)
        rows.append(Measurement("quality", run.family, "eager", "float32", f"seed={run.config.seed}", "fid", fid, "",
                                samples=settings.quality_samples, note="one training seed"))  # fmt: skip
    if len(trained) < 2:
        return rows
    common = dict(kind="quality", subject=trained[0].family, backend="eager", dtype="float32",
                  case=f"seeds={len(trained)}", unit="")  # fmt: skip
    fid_spread = quality.spread(fids, "fid")
    curves = quality.loss_curve_spread([run.log.losses["g_loss"] for run in trained])
    return rows + [
        Measurement(metric="fid_seed_std", value=fid_spread.std, **common),
        Measurement(metric="fid_seed_cv", value=fid_spread.cv, **common),
        Measurement(metric="g_loss_oscillation_mean", value=curves.oscillation.mean, **common),
        Measurement(metric="g_loss_across_seed_std", value=curves.across_seed_std, **common),
    ]


def _vae_rows(run: checkpoint.Trained, reference) -> list[Measurement]:
    common = dict(kind="quality", subject="vae", backend="eager", dtype="float32", case="held-out", unit="")
    rows = [Measurement(metric="elbo", value=run.metrics["test_elbo"], note="nats per image, held-out", **common)]
    model = run.model
    generator = torch.Generator(device=protocol.device_of(model)).manual_seed(0)
    z = torch.randn(2, 8, model.config.latent_dim, generator=generator, device=protocol.device_of(model))
    with torch.no_grad():
        smooth = quality.latent_smoothness(
            model.decode, z[0], z[1], features=lambda images: extract_features(reference.trained.net, images)
        )
    rows += [
        Measurement(metric="latent_path_ratio", value=smooth.path_ratio, note="1 = straight path in feature space", **common),
        Measurement(metric="latent_jump_ratio", value=smooth.jump_ratio, note="largest step / mean step", **common),
    ]
    return rows


def _without_duplicate_anchors(rows: list[Measurement]) -> list[Measurement]:
    """evaluate_images repeats the anchors' rows at every point of the same size: keep one."""
    seen, kept = set(), []
    for row in rows:
        if row.key() in seen:
            continue
        seen.add(row.key())
        kept.append(row)
    return kept
