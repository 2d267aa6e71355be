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
from genzoo.harness.models import ModelSubject, OutputError, output_error, throughput_row
from genzoo.harness.timing import Timing, measure_within, timed_call, untimed_threads
from genzoo.measurement import Measurement
from genzoo.models import protocol
from genzoo.stats.interval import Interval
from genzoo.sweeps.plan import SETTINGS, SweepPoint, SweepSettings

QUALITY_SEED = 1000  # the first sampling seed of every quality set: all points see the same noise
SWAP_WINDOWS = 8  # held-out windows a token family's kernel swap is teacher-forced on ...
INTERPRETED_SWAP_WINDOWS = 1  # ... and under Triton's interpreter, where each costs a minute


@dataclasses.dataclass(frozen=True)
class QualityCheck:
    rows: list[Measurement]  # quality metrics and kernel-swap differences of the point
    headline: Interval | None  # the family's headline metric at this point (quality points only)
    seconds: list[float]  # the timed batches of the quality set, scaled to full batches
    output: OutputError = OutputError(None, None)  # per-sample difference from eager fp32, same noise


def quality_window(eager: Interval, relative_window: float, sampled: bool) -> float:
    """How far (relative) a variant's headline may move from eager float32's. Scored on generated
    samples (``sampled``): eager's own sampling spread at this n, the half-width of its 95% interval.
    Scored on fixed held-out data (an LLM's bits per byte): both read the same bytes, so the
    difference has no sampling noise and the family's own, tighter window applies."""
    if not sampled or eager.estimate == 0:
        return relative_window
    return (eager.high - eager.low) / 2 / abs(eager.estimate)


def quality_set(
    family: protocol.Family,
    net: torch.nn.Module,
    knobs: dict,
    count: int,
    batch: int,
    first_seed: int,
    device: str,
) -> tuple[list[float], torch.Tensor, tuple[int, ...]]:
    """``count`` samples in batches of ``batch``, sampling seed ``first_seed + i`` for the i-th:
    the seconds of each batch scaled to a full one, the samples, and the seeds."""
    seconds, outputs, seeds = [], [], []
    for chunk, start in enumerate(range(0, count, batch)):
        size = min(batch, count - start)
        seed = first_seed + chunk
        elapsed, output = timed_call(functools.partial(family.sample, net, size, seed, **knobs), device)
        seconds.append(elapsed * batch / size)
        outputs.append(output)
        seeds.append(seed)
    return seconds, torch.cat(outputs)[:count], tuple(seeds)


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
        rows, headline, seconds, output = [], None, [], OutputError(None, None)
        point = self.sweep_point
        if point.quality:
            with backends.no_recompilation(self.label):
                seconds, generated, seeds = self._quality_set()
            rows, headline = self._quality(generated, seeds)
        if point.backend != "eager" or point.dtype != "float32":
            swapped, output = self.swap()
            rows += swapped
        self.checked = QualityCheck(rows, headline, seconds, output)
        return self.checked

    def _quality_set(self) -> tuple[list[float], torch.Tensor, tuple[int, ...]]:
        knobs = dict(self.model_point.knobs)
        batch = knobs.pop("n")
        count = self.quality_samples if self.family.unit == "images" else batch
        return quality_set(self.family, self.net, knobs, count, batch, QUALITY_SEED, self.device)

    @property
    def quality_samples(self) -> int:
        slow = self.family.slow_point(dict(self.model_point.knobs))
        return self.settings.slow_quality_samples if slow else self.settings.quality_samples

    def _quality(self, generated: torch.Tensor, seeds: tuple[int, ...]) -> tuple[list[Measurement], Interval]:
        point, headline = self.sweep_point, self.family.headline
        key = dict(subject=self.family.name, backend=point.backend, dtype=point.dtype, case=point.case)
        if self.family.unit == "images":
            with untimed_threads(self.device):  # the feature net and the bootstrap: nothing timed
                report = quality.evaluate_images(
                    generated,
                    self.sweep.image_reference,
                    sampling_seeds=seeds,
                    equal_n=self.settings.slow_quality_samples,
                    **key,
                )
            rows = [
                dataclasses.replace(row, knobs=point.knobs) if row.subject == self.family.name else row
                for row in report.rows
            ]
            value = report.generated.intervals()[headline.metric]
        else:
            # scored on fixed held-out data by the net alone: the same for every knob of a backend and dtype
            cached = ("evaluation", point.backend, point.dtype)
            if cached not in self.sweep.baselines.outputs:
                self.sweep.baselines.outputs[cached] = self.family.evaluate(self.net, self.data)
            metrics = self.sweep.baselines.outputs[cached]
            figure = metrics[headline.evaluation_key]
            # the family's interval over its held-out data, where it gives one
            low = metrics.get(f"{headline.evaluation_key}_low", figure)
            high = metrics.get(f"{headline.evaluation_key}_high", figure)
            value = Interval(figure, low, high, 0.95, 0, 0, "family's own")
            rows = [
                Measurement(
                    kind="quality",
                    metric=headline.metric,
                    value=figure,
                    ci_low=low if high > low else None,
                    ci_high=high if high > low else None,
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
        change = within = window = None
        eager_quality = baselines.outputs.get(("quality", point.case))
        if checked.headline is not None and eager_quality is not None:
            change = quality.metric_delta(eager_quality.estimate, checked.headline.estimate).relative
            window = quality_window(eager_quality, headline.window, sampled=self.family.unit == "images")
            within = abs(change) <= window
        output = checked.output
        trusted = (
            gate.exclusion(
                interpreted=False, within_tolerance=output.within_tolerance, within_quality_window=within
            )
            == ""
        )
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
            quality_window=window,
            within_quality_window=within,
            error=output.error,
            error_limit=output.limit,
            within_tolerance=output.within_tolerance,
            note=_row_note(headline.metric, change is not None, output),
        )
        return throughput_row(
            self.family, self.model_point.batch, dict(self.model_point.knobs), timing, common
        )

    def swap_rows(self) -> list[Measurement]:
        return self.swap()[0]

    def _held_out_logits(self, backend: str, dtype: str, count: int) -> torch.Tensor:
        """Logits [W, T, V] of the first ``count`` held-out windows of the model's context, teacher-forced."""
        context = self.model.config.context
        windows = self.data.validation[: count * context].long().view(count, context)
        with backends.model_on_backend(self.model, backend, dtype) as net, torch.no_grad():
            return net(windows.to(self.device)).float()

    def _token_swap(
        self, swapped: torch.Tensor, eager: torch.Tensor, count: int, common: dict
    ) -> tuple[list[Measurement], OutputError]:
        """The timed decode path's greedy tokens against eager float32's, and teacher-forced next-token
        agreement and logit KL on held-out windows; the logits' error within the model tolerance."""
        point, outputs = self.sweep_point, self.sweep.baselines.outputs
        windows = INTERPRETED_SWAP_WINDOWS if self.model_point.interpreted else SWAP_WINDOWS
        key = ("swap logits", windows)
        if key not in outputs:
            outputs[key] = self._held_out_logits("eager", "float32", windows)
        logits = self._held_out_logits(point.backend, point.dtype, windows)
        if point.backend == "eager":
            outputs[(*key, point.dtype)] = logits
        agreement, kl = _teacher_forced(outputs[key], logits)
        figures = (
            (
                "greedy_token_agreement",
                (swapped == eager).float().mean().item(),
                "higher",
                f"{count} sequences, greedy, the timed decode path",
            ),
            (
                "teacher_forced_agreement",
                agreement,
                "higher",
                f"{windows} held-out windows, next-token argmax",
            ),
            (
                "logit_kl",
                kl,
                "lower",
                f"KL(eager float32 || this) in nats per token, {windows} held-out windows",
            ),
        )
        rows = [
            Measurement(
                metric=metric,
                value=value,
                better=better,
                samples=count if metric == "greedy_token_agreement" else windows,
                seeds="7" if metric == "greedy_token_agreement" else "",
                note=f"vs eager float32: {note}",
                interpreted=self.model_point.interpreted,
                **common,
            )
            for metric, value, better, note in figures
        ]
        same_dtype = outputs.get((*key, point.dtype))
        dtype = protocol.resolve_dtype(point.dtype)
        return rows, output_error(logits, outputs[key], same_dtype, dtype)

    def swap(self) -> tuple[list[Measurement], OutputError]:
        """Outputs of this point against eager float32 for identical seeds and noise: the rows, and
        the per-sample error within the model tolerance (images; the same rule as the model
        benchmark's, ``tolerance.model_error_limit``: in bf16 at most twice eager bf16's own error)."""
        point, settings = self.sweep_point, self.settings
        interpreted = self.model_point.interpreted
        knobs = dict(point.knob_dict)  # the timed batch: a compiled model runs it without compiling again
        if interpreted:  # a few samples on a short path run every kernel the long one does
            knobs["n"] = settings.interpreted_swap_samples
            for knob in ("steps", "new_tokens"):
                if knob in knobs:
                    knobs[knob] = min(knobs[knob], settings.interpreted_steps)
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
        if point.backend == "eager":  # eager's own error in this dtype: what another backend's may double
            eager_outputs[(*key, point.dtype)] = swapped
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
            return self._token_swap(swapped, eager_outputs[key], count, common)
        difference = quality.output_difference(eager_outputs[key], swapped)
        rows = quality.kernel_swap_rows(
            subject=self.family.name, backend=point.backend, dtype=point.dtype, case=case, outputs=difference
        )
        rows = [
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
        same_dtype = eager_outputs.get((*key, point.dtype))
        dtype = protocol.resolve_dtype(point.dtype)
        return rows, output_error(swapped, eager_outputs[key], same_dtype, dtype)


def _teacher_forced(eager: torch.Tensor, swapped: torch.Tensor) -> tuple[float, float]:
    """Next-token agreement of two models' logits [W, T, V] on the same held-out windows, and the
    mean KL(eager || swapped) in nats per token."""
    agreement = (eager.argmax(-1) == swapped.argmax(-1)).double().mean().item()
    log_eager, log_swapped = eager.double().log_softmax(-1), swapped.double().log_softmax(-1)
    kl = (log_eager.exp() * (log_eager - log_swapped)).sum(-1).mean().item()
    return agreement, kl


def _row_note(metric: str, judged: bool, output: OutputError) -> str:
    notes = [f"{metric} change vs eager float32, window = its 95% interval's half-width"] if judged else []
    if output.limit is not None:
        notes.append(f"per-sample error vs eager float32 {output.error:.3g} (limit {output.limit:.3g})")
    return "; ".join(notes)
