"""A family's whole sweep: its trained seeds, every point of its plan, and what only it measures.

    rows = sweeps.run_family(name, preset="cpu", backends=("eager", "compile", "triton"))

Besides the points of ``plan.points``, each family adds its ``extra_measurements`` (e.g. the
GAN's loss curves across seeds, the VAE's ELBO), every image family the evidence its claims need
(``claim_evidence``: each training seed's quality, the best point on fresh seeds, latent paths),
and every family its training compute (seconds and steps of each checkpoint's training run).
"""

from __future__ import annotations

import dataclasses

from tqdm.auto import tqdm

from genzoo import quality
from genzoo.harness import cost
from genzoo.harness.timing import benchmark_threads, default_device
from genzoo.measurement import Measurement
from genzoo.models import checkpoint, protocol
from genzoo.sweeps import plan
from genzoo.sweeps.claim_evidence import ImageEvidence
from genzoo.sweeps.runner import FamilySweep

COST_BATCH = 8  # samples generated at once where a family's cost per sample is counted


@dataclasses.dataclass(frozen=True)
class ExtraContext:
    """What a family's ``extra_measurements`` gets besides its trained seeds."""

    settings: plan.SweepSettings
    image_reference: quality.ImageQualityReference | None
    device: str


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
    sweep = FamilySweep(family, trained[0].model, preset, device, image_reference)
    rows = training_rows(trained)
    with benchmark_threads(device):
        for point in tqdm(plan.points(family, preset, backends), desc=f"sweep {name}", disable=not progress):
            rows += sweep.run(point)
        # timed too (the LLM's serving latency)
        extra = (
            family.extra_measurements(trained, ExtraContext(settings, image_reference, device))
            if family.extra_measurements is not None
            else []
        )
    # the claims' evidence times nothing: it samples and scores on every core
    model = trained[0].model
    chosen = None
    if image_reference is not None:
        evidence = ImageEvidence(family, settings, image_reference, device)
        rows += evidence.training_seeds(trained, preset, rows)
        best = evidence.best_point(rows)
        rows += evidence.best_point_on_fresh_seeds(model, best)
        rows += evidence.latent_paths(model)
        chosen = (best.case, best.knobs) if best is not None else None
    if chosen is None:  # the reference point, where the family has no chosen one
        point = plan.points(family, preset, ("eager",))[0]
        chosen = (point.case, point.knobs)
    # at one batch size for every family: weights are read once per batch, so bytes per sample
    # fall with the batch, and a family's chosen batch would decide the comparison
    knobs = dict(chosen[1], n=COST_BATCH)
    rows += cost.cost_rows(name, model, knobs, device, case=f"{chosen[0]} batch={COST_BATCH}")
    return _without_duplicate_anchors(rows + extra)


def training_rows(trained: list[checkpoint.Trained]) -> list[Measurement]:
    """Each training seed's compute (seconds, steps) and its held-out metrics at training end."""
    rows = []
    for run in trained:
        better = protocol.get(run.family).evaluation_better
        common = dict(
            kind="training",
            subject=run.family,
            backend="eager",
            dtype="float32",
            case=f"seed={run.config.seed}",
            knobs=(("train_seed", run.config.seed),),
        )
        rows += [
            Measurement(
                metric="train_seconds",
                value=run.log.seconds,
                unit="s",
                better="lower",
                note=f"preset {run.preset}",
                **common,
            ),
            Measurement(metric="train_steps", value=float(run.log.steps), unit="steps", **common),
        ]
        rows += [
            Measurement(
                metric=k,
                value=float(v),
                unit="",
                better=better.get(k, ""),
                note="held-out, at training end",
                **common,
            )
            for k, v in run.metrics.items()
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
