"""Running one family's sweep: each point timed and, where asked, judged for quality, every
non-baseline point compared with eager float32 on identical seeds.

Rows (``genzoo.measurement.Measurement``):
- kind "sweep": ``images_per_s`` / ``tokens_per_s`` per point (median of timed calls), with the
  quality metric's relative change against eager float32 as ``error``; a point outside its
  quality window, or interpreted, gets no speedup;
- kind "quality": the metrics of ``genzoo.quality`` at quality points, kernel-swap differences.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
from collections.abc import Iterator

import torch

from genzoo import kernels, quality
from genzoo.measurement import Measurement
from genzoo.models import protocol
from genzoo.sweeps.plan import SweepPoint, SweepSettings
from genzoo.timing import Timing, measure_within, timed_call

# how far a variant's headline quality metric may move (relative) and still count as "the same
# model": FID from a few dozen samples varies by a few percent with the seed alone
QUALITY_WINDOW = {"fid": 0.10, "bits_per_byte": 0.005}


@contextlib.contextmanager
def model_on_backend(model: torch.nn.Module, backend: str, dtype: str) -> Iterator[torch.nn.Module]:
    """The model in ``dtype`` with every registry op on ``backend``; for ``compile`` each of the
    model's parts (UNet, GPT-2, generator, decoder...) is also wrapped in ``torch.compile``."""
    net = protocol.cast(model, dtype)
    if backend == "compile":
        net = copy.deepcopy(net)
        for child in net.children():
            child.compile()
    with kernels.use(backend):
        yield net


@dataclasses.dataclass
class FamilySweep:
    family: protocol.Family
    model: torch.nn.Module
    settings: SweepSettings
    device: str
    image_reference: quality.ImageQualityReference | None = None
    eager_speed: dict = dataclasses.field(default_factory=dict)  # (dtype, case) -> units/s
    eager_quality: dict = dataclasses.field(default_factory=dict)  # case -> headline metric value
    eager_outputs: dict = dataclasses.field(default_factory=dict)  # swap knobs -> eager samples

    @property
    def name(self) -> str:
        return self.family.name

    @property
    def headline_metric(self) -> str:
        return "bits_per_byte" if self.family.unit == "tokens" else "fid"

    def run(self, point: SweepPoint) -> list[Measurement]:
        knobs = point.knob_dict
        n = knobs.pop("n")
        if point.interpreted:  # Triton's interpreter: correctness against eager, no speed figure
            return self._swap_rows(point, knobs)
        with model_on_backend(self.model, point.backend, point.dtype) as net:
            self.family.sample(net, n, 0, **self._warmup(knobs))  # compiles, fills caches
            seconds: list[float] = []
            quality_rows, headline = [], None
            if point.quality:
                count = self.settings.quality_samples if self.family.unit == "images" else n
                seconds, outputs = self._generate(net, knobs, count, n)
                quality_rows, headline = self._quality(point, net, torch.cat(outputs)[:count])
            # the quality set may have been one batch: more batches, while the budget lasts,
            # give the row a spread
            timing = measure_within(
                lambda: self.family.sample(net, n, 0, **knobs), self.device,
                self.settings.timing_budget_s, self.settings.max_rounds, measured=seconds,
            )  # fmt: skip
        rows = [self._speed_row(point, knobs, n, timing, headline), *quality_rows]
        if point.backend != "eager" or point.dtype != "float32":
            rows += self._swap_rows(point, knobs)
        return rows

    def _warmup(self, knobs: dict) -> dict:
        return dict(knobs, steps=min(knobs["steps"], 2)) if "steps" in knobs else knobs

    def _generate(self, net, knobs: dict, count: int, batch: int) -> tuple[list[float], list[torch.Tensor]]:
        """``count`` outputs in batches of ``batch``, and the seconds of each batch scaled to a full one."""
        seconds, outputs = [], []
        for chunk, start in enumerate(range(0, count, batch)):
            size = min(batch, count - start)
            elapsed, output = timed_call(functools.partial(self.family.sample, net, size, 1000 + chunk, **knobs), self.device)
            seconds.append(elapsed * batch / size)
            outputs.append(output)
        return seconds, outputs

    def _quality(self, point: SweepPoint, net, generated: torch.Tensor) -> tuple[list[Measurement], float]:
        key = dict(subject=self.name, backend=point.backend, dtype=point.dtype, case=point.case)
        if self.family.unit == "images":
            report = quality.evaluate_images(generated, self.image_reference, **key)
            rows, headline = list(report.rows), report.metrics["fid"]
        else:
            bits = self.family.evaluate(net, self.family.load_data())["val_bits_per_byte"]
            rows = [Measurement(kind="quality", metric="bits_per_byte", value=bits, unit="bits/byte", **key)]
            headline = bits
        if point.backend == "eager" and point.dtype == "float32":
            self.eager_quality[point.case] = headline
        return rows, headline

    def _speed_row(self, point: SweepPoint, knobs: dict, n: int, timing: Timing, headline: float | None) -> Measurement:
        units = self.family.units_generated(n, knobs)
        speed = units / timing.median_s
        key = (point.dtype, point.case)
        if point.backend == "eager":
            self.eager_speed[key] = speed
        error = within = None
        baseline = self.eager_quality.get(point.case)
        if headline is not None and baseline is not None:
            error = quality.metric_delta(baseline, headline).relative
            within = abs(error) <= QUALITY_WINDOW[self.headline_metric]
        eager_speed = self.eager_speed.get(key)
        return Measurement(
            kind="sweep", subject=self.name, backend=point.backend, dtype=point.dtype, case=point.case,
            metric=f"{self.family.unit}_per_s", value=speed, unit=f"{self.family.unit}/s",
            p20=units / timing.p80_s, p80=units / timing.p20_s, rounds=timing.rounds, samples=n,
            speedup_vs_eager=speed / eager_speed if eager_speed and within is not False else None,
            error=error, error_limit=QUALITY_WINDOW[self.headline_metric] if error is not None else None,
            within_tolerance=within, note=f"{self.headline_metric} change vs eager float32" if error is not None else "",
        )  # fmt: skip

    def _swap_rows(self, point: SweepPoint, knobs: dict) -> list[Measurement]:
        """Outputs of this point against eager float32 for identical seeds and noise."""
        knobs = dict(knobs, n=self.settings.swap_samples)
        if point.interpreted and "steps" in knobs:
            knobs["steps"] = self.settings.interpreted_steps
        if self.family.unit == "tokens":
            knobs["temperature"] = 0.0  # greedy: the tokens are a deterministic function of the logits
        key = tuple(sorted(knobs.items()))
        count = knobs.pop("n")
        if key not in self.eager_outputs:
            with model_on_backend(self.model, "eager", "float32") as eager_net:
                self.eager_outputs[key] = self.family.sample(eager_net, count, 7, **knobs)
        with model_on_backend(self.model, point.backend, point.dtype) as net:
            swapped = self.family.sample(net, count, 7, **knobs)
        case = point.case + (" interpreted-swap" if point.interpreted else "")
        common = dict(kind="quality", subject=self.name, backend=point.backend, dtype=point.dtype, case=case, unit="")
        if self.family.unit == "tokens":
            agreement = (swapped == self.eager_outputs[key]).float().mean().item()
            return [Measurement(metric="greedy_token_agreement", value=agreement, samples=count,
                                note="vs eager float32, greedy", interpreted=point.interpreted, **common)]  # fmt: skip
        difference = quality.output_difference(self.eager_outputs[key], swapped)
        rows = quality.kernel_swap_rows(
            subject=self.name, backend=point.backend, dtype=point.dtype, case=case, outputs=difference
        )
        return [dataclasses.replace(row, samples=count, interpreted=point.interpreted) for row in rows]
