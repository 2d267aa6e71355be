"""What the folk claims need beyond the sweep's points, measured alike for every image family:

- each training seed's quality at the family's reference point, on the same sampling seeds, for
  instability (the spread over training seeds beyond the sampling spread);
- the family's best point (by its headline at the equal n, among eager float32 points) scored again
  on fresh sampling seeds, and what one sample costs there (``harness.cost``): chosen on one seed set, reported on another, so that the family with the
  most candidates gains nothing from picking the luckiest draw (the winner's curse);
- latent interpolations (``quality.latent_smoothness`` in the feature net's space) of every family
  with a ``LatentSpace``, over ``latent_pairs`` pairs, with intervals over the pairs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from genzoo import quality
from genzoo.measurement import Measurement
from genzoo.models import checkpoint, protocol
from genzoo.quality.feature_net import extract_features
from genzoo.results.schema import FRESH_SEEDS
from genzoo.stats import bootstrap
from genzoo.stats.interval import measurement_fields
from genzoo.sweeps.plan import SweepPoint, SweepSettings
from genzoo.sweeps.runner import QUALITY_SEED, quality_set

FRESH_SEED = 2000  # the first sampling seed of the confirmation set: no quality set of a sweep uses it
LATENT_SEED = 0


@dataclasses.dataclass(frozen=True)
class ImageEvidence:
    family: protocol.Family
    settings: SweepSettings
    reference: quality.ImageQualityReference
    device: str

    def _scored_rows(
        self, model: torch.nn.Module, knobs: tuple, case: str, first_seed: int, extra_knobs: tuple
    ) -> list[Measurement]:
        """The quality rows of ``model`` at sweep knobs ``knobs`` (n included), sampled from
        ``first_seed`` on, as ``case``; generated rows carry ``knobs + extra_knobs``."""
        sampling = dict(knobs)
        batch = sampling.pop("n")
        slow = self.family.slow_point(sampling)
        count = self.settings.slow_quality_samples if slow else self.settings.quality_samples
        _, images, seeds = quality_set(
            self.family, model.eval(), sampling, count, batch, first_seed, self.device
        )
        report = quality.evaluate_images(
            images,
            self.reference,
            sampling_seeds=seeds,
            equal_n=self.settings.slow_quality_samples,
            subject=self.family.name,
            backend="eager",
            dtype="float32",
            case=case,
        )
        tagged = tuple(sorted(knobs + extra_knobs))
        return [
            dataclasses.replace(row, knobs=tagged) if row.subject == self.family.name else row
            for row in report.rows
        ]

    def training_seeds(
        self, trained: list[checkpoint.Trained], preset: str, sweep_rows: list[Measurement]
    ) -> list[Measurement]:
        """Every training seed's quality at the reference point, on the sweep's sampling seeds.
        The first seed is the sweep's own model: its reference point's rows (``sweep_rows``) are
        that seed's, relabelled, not sampled a second time."""
        if len(trained) < 2:
            return []
        point = SweepPoint.make(
            self.family.name,
            "eager",
            "float32",
            {"n": self.settings.batch, **self.family.sweep_plan(preset).reference},
            quality=True,
        )
        swept = [
            row
            for row in sweep_rows
            if row.kind == "quality"
            and (row.subject, row.backend, row.dtype, row.case)
            == (self.family.name, "eager", "float32", point.case)
        ]
        rows = []
        for index, run in enumerate(trained):
            seed = run.config.seed
            case, extra = f"{point.case} train_seed={seed}", (("train_seed", seed),)
            if index == 0 and swept:
                rows += [
                    dataclasses.replace(r, case=case, knobs=tuple(sorted(r.knobs + extra))) for r in swept
                ]
            else:
                rows += self._scored_rows(run.model, point.knobs, case, QUALITY_SEED, extra)
        return rows

    def best_point(self, rows: list[Measurement]) -> Measurement | None:
        """The eager float32 sweep point with the best headline at the equal n (its quality row)."""
        metric = f"{self.family.headline.metric}_equal_n"
        candidates = [
            row
            for row in rows
            if row.kind == "quality"
            and row.subject == self.family.name
            and row.metric == metric
            and (row.backend, row.dtype) == ("eager", "float32")
            and "train_seed" not in dict(row.knobs)
        ]
        if not candidates:
            return None
        pick = min if self.family.headline.better == "lower" else max
        return pick(candidates, key=lambda row: row.value)

    def best_point_on_fresh_seeds(
        self, model: torch.nn.Module, best: Measurement | None
    ) -> list[Measurement]:
        """The best point (``best_point``) sampled again from FRESH_SEED on."""
        if best is None:
            return []
        case = f"{best.case} {FRESH_SEEDS}"
        return self._scored_rows(model, best.knobs, case, FRESH_SEED, (("seed_set", "fresh"),))

    def latent_paths(self, model: torch.nn.Module) -> list[Measurement]:
        """Path and jump ratios of decoded interpolations between prior draws, in feature space,
        with 95% bootstrap intervals over the pairs."""
        space = self.family.latent_space
        if space is None:
            return []
        pairs = self.settings.latent_pairs
        generator = torch.Generator(device=self.device).manual_seed(LATENT_SEED)
        model = model.eval()
        with torch.no_grad():
            start, end = space.draw(model, pairs, generator), space.draw(model, pairs, generator)
            smooth = quality.latent_smoothness(
                lambda latents: space.decode(model, latents),
                start,
                end,
                features=lambda images: extract_features(self.reference.trained.net, images),
            )
        common = dict(
            kind="quality",
            subject=self.family.name,
            backend="eager",
            dtype="float32",
            case="latent interpolations",
            unit="",
        )
        rows = []
        for metric, values, note in (
            (
                "latent_path_ratio",
                smooth.pair_path_ratios,
                "path length / endpoint distance in feature space, 1 = straight",
            ),
            (
                "latent_jump_ratio",
                smooth.pair_jump_ratios,
                "largest step / mean step along the path, 1 = even",
            ),
        ):
            interval = bootstrap(np.mean, np.asarray(values, dtype=np.float64), seed=LATENT_SEED)
            interval = dataclasses.replace(interval, seeds=(LATENT_SEED,))
            rows.append(
                Measurement(
                    metric=metric,
                    better="lower",
                    note=f"{note}; {pairs} pairs of prior draws, {smooth.steps} steps; 95% bootstrap interval over pairs",
                    **measurement_fields(interval),
                    **common,
                )
            )
        return rows
