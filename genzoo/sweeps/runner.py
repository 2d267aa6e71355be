"""One sweep point through the harness pipeline: timed like every other model point and judged
for quality, every non-baseline point compared with eager float32 on identical seeds.

Rows (``genzoo.measurement.Measurement``):
- kind "sweep": ``images_per_s`` / ``tokens_per_s`` per point (median of timed calls), with the
  headline metric's relative change against eager float32 as ``quality_change``; a point outside
  its quality window, or interpreted, gets no speedup (``genzoo.harness.gate``);
- kind "quality": the metrics of ``genzoo.quality`` at quality points, kernel-swap differences.
"""

from __future__ import annotations

import dataclasses
import functools

import torch

from genzoo import quality
from genzoo.harness import backends, gate, pipeline
from genzoo.harness.models import ModelSubject, throughput_row
from genzoo.harness.timing import Timing, measure_within, timed_call
from genzoo.measurement import Measurement
from genzoo.models import protocol
from genzoo.sweeps.plan import SETTINGS, SweepPoint, SweepSettings


@dataclasses.dataclass(frozen=True)
class QualityCheck:
    rows: list[Measurement]  # quality metrics and kernel-swap differences of the point
    headline: float | None  # the family's headline metric at this point (quality points only)
    seconds: list[float]  # the timed batches of the quality set, scaled to full batches


@dataclasses.dataclass
class FamilySweep:
    """What the points of one family's sweep share: the trained model, the settings, the image
    reference and the baselines (eager's speeds, eager fp32's quality and outputs)."""

    family: protocol.Family
    model: torch.nn.Module
    preset: str
    device: str
    image_reference: quality.ImageQualityReference | None = None
    baselines: pipeline.Baselines = dataclasses.field(default_factory=pipeline.Baselines)

    @property
    def settings(self) -> SweepSettings:
        return SETTINGS[self.preset]

    def run(self, point: SweepPoint) -> list[Measurement]:
        subject = SweepSubject(self, point)
        if subject.model_point.interpreted:  # Triton's interpreter: correctness against eager, no speed
            return subject.swap_rows()
        timer = functools.partial(self._timer, subject)
        row = pipeline.measure(subject, timer, self.baselines)
        return [row, *subject.checked.rows]

    def _timer(self, subject: SweepSubject, run) -> Timing:
        """More batches while the budget lasts, the quality set's batches counted: a set generated
        in one batch still gives the row a spread, and a loop of minutes is not repeated."""
        return measure_within(
            run,
            self.device,
            self.settings.timing_budget_s,
            self.settings.max_rounds,
            measured=subject.checked.seconds,
        )


class SweepSubject(ModelSubject):
    def __init__(self, sweep: FamilySweep, point: SweepPoint):
        self.sweep, self.sweep_point = sweep, point
        self.model_point = point.model_point(sweep.preset)
        data = sweep.family.load_data() if sweep.family.unit != "images" else None
        super().__init__(self.model_point, sweep.model, data, sweep.device)
        self.checked = QualityCheck([], None, [])

    @property
    def settings(self) -> SweepSettings:
        return self.sweep.settings

    def warm_up(self, run) -> object:
        """A short call of the same shapes (two sampling steps): compiles and fills caches without
        a second loop of minutes."""
        knobs = dict(self.model_point.knobs)
        n = knobs.pop("n")
        if "steps" in knobs:
            knobs["steps"] = min(knobs["steps"], 2)
        return self.family.sample(self.net, n, 0, **knobs)

    def check(self, output: object, baselines: pipeline.Baselines) -> QualityCheck:
        rows, headline, seconds = [], None, []
        point = self.sweep_point
        if point.quality:
            with backends.no_recompilation(self.label):
                seconds, generated = self._quality_set()
            rows, headline = self._quality(generated)
        if point.backend != "eager" or point.dtype != "float32":
            rows += self.swap_rows()
        self.checked = QualityCheck(rows, headline, seconds)
        return self.checked

    def _quality_set(self) -> tuple[list[float], torch.Tensor]:
        """The quality set in batches of the point's size, and the seconds of each batch scaled to
        a full one."""
        knobs = dict(self.model_point.knobs)
        batch = knobs.pop("n")
        count = self.settings.quality_samples if self.family.unit == "images" else batch
        seconds, outputs = [], []
        for chunk, start in enumerate(range(0, count, batch)):
            size = min(batch, count - start)
            call = functools.partial(self.family.sample, self.net, size, 1000 + chunk, **knobs)
            elapsed, output = timed_call(call, self.device)
            seconds.append(elapsed * batch / size)
            outputs.append(output)
        return seconds, torch.cat(outputs)[:count]

    def _quality(self, generated: torch.Tensor) -> tuple[list[Measurement], float]:
        point, headline = self.sweep_point, self.family.headline
        key = dict(subject=self.family.name, backend=point.backend, dtype=point.dtype, case=point.case)
        if self.family.unit == "images":
            report = quality.evaluate_images(generated, self.sweep.image_reference, **key)
            rows = [
                dataclasses.replace(row, knobs=point.knobs) if row.subject == self.family.name else row
                for row in report.rows
            ]
            value = report.metrics[headline.metric]
        else:
            value = self.family.evaluate(self.net, self.data)[headline.evaluation_key]
            rows = [
                Measurement(
                    kind="quality",
                    metric=headline.metric,
                    value=value,
                    unit="",
                    better=headline.better,
                    knobs=point.knobs,
                    **key,
                )
            ]
        if point.backend == "eager" and point.dtype == "float32":
            self.sweep.baselines.outputs[("quality", point.case)] = value
        return rows, value

    def row(self, timing: Timing, checked: QualityCheck, baselines: pipeline.Baselines) -> Measurement:
        point, headline = self.sweep_point, self.family.headline
        key = ("sweep speed", point.case)  # eager float32's: every backend and dtype is judged by it
        if point.backend == "eager" and point.dtype == "float32":
            baselines.medians[key] = timing.median_s
        change = within = None
        eager_quality = baselines.outputs.get(("quality", point.case))
        if checked.headline is not None and eager_quality is not None:
            change = quality.metric_delta(eager_quality, checked.headline).relative
            within = abs(change) <= headline.window
        trusted = gate.exclusion(interpreted=False, within_tolerance=None, within_quality_window=within) == ""
        eager_s = baselines.medians.get(key)
        common = dict(
            kind="sweep",
            subject=self.family.name,
            backend=point.backend,
            dtype=point.dtype,
            case=point.case,
            rounds=timing.rounds,
            measured_on=torch.device(self.device).type,
            knobs=point.knobs,
            speedup_vs_eager=eager_s / timing.median_s if eager_s and trusted else None,
            quality_change=change,
            quality_window=headline.window if change is not None else None,
            within_quality_window=within,
            note=f"{headline.metric} change vs eager float32" if change is not None else "",
        )
        return throughput_row(
            self.family, self.model_point.batch, dict(self.model_point.knobs), timing, common
        )

    def swap_rows(self) -> list[Measurement]:
        """Outputs of this point against eager float32 for identical seeds and noise."""
        point, settings = self.sweep_point, self.settings
        interpreted = self.model_point.interpreted
        knobs = dict(point.knob_dict, n=settings.swap_samples)
        if interpreted and "steps" in knobs:
            knobs["steps"] = settings.interpreted_steps
        if self.family.unit == "tokens":
            knobs["temperature"] = 0.0  # greedy: the tokens are a deterministic function of the logits
        key = ("swap", tuple(sorted(knobs.items())))
        count = knobs.pop("n")
        eager_outputs = self.sweep.baselines.outputs
        if key not in eager_outputs:
            with backends.model_on_backend(self.model, "eager", "float32") as eager_net:
                eager_outputs[key] = self.family.sample(eager_net, count, 7, **knobs)
        with backends.model_on_backend(self.model, point.backend, point.dtype) as net:
            swapped = self.family.sample(net, count, 7, **knobs)
        case = point.case + (" interpreted-swap" if interpreted else "")
        common = dict(
            kind="quality",
            subject=self.family.name,
            backend=point.backend,
            dtype=point.dtype,
            case=case,
            unit="",
            knobs=point.knobs,
            measured_on=torch.device(self.device).type,
        )
        if self.family.unit == "tokens":
            agreement = (swapped == eager_outputs[key]).float().mean().item()
            return [
                Measurement(
                    metric="greedy_token_agreement",
                    value=agreement,
                    better="higher",
                    samples=count,
                    seeds="7",
                    note="vs eager float32, greedy",
                    interpreted=interpreted,
                    **common,
                )
            ]
        difference = quality.output_difference(eager_outputs[key], swapped)
        rows = quality.kernel_swap_rows(
            subject=self.family.name, backend=point.backend, dtype=point.dtype, case=case, outputs=difference
        )
        return [
            dataclasses.replace(
                row,
                samples=count,
                seeds="7",
                interpreted=interpreted,
                knobs=point.knobs,
                measured_on=common["measured_on"],
            )
            for row in rows
        ]
