"""Which points a family's sweep visits: its ``SweepPlan`` (declared by the family) x backends x
dtypes x batch sizes, and at which of them quality is measured.

A point's ``case`` labels the knobs that change the output (``sampler=ddim steps=50 w=2``) and,
for batch-size points, ``batch=N``; speed and quality rows of one point share it and carry the
knobs themselves as columns. Quality is measured at a fixed number of samples per preset (the
same for every image family, so FIDs are comparable across families), a smaller one at the points
a family calls slow, and every image point scores its first ``slow_quality_samples`` again, so
that all of them compare at that equal n too; batch-size points measure speed only. The held-out
reference has 500 digits, so 500 is the largest n a figure can have.
"""

from __future__ import annotations

import dataclasses

from genzoo.harness.models import ModelPoint
from genzoo.models import protocol

# what a knob is called in a case label
CASE_NAMES = {
    "guidance_scale": "w",
    "use_cache": "cache",
    "new_tokens": "tokens",
    "n": "batch",
    "timestep_spacing": "spacing",
    "clipped_eps": "clip_eps",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SweepSettings:
    quality_samples: int  # images per quality point (all image families alike)
    slow_quality_samples: int  # at a family's slow points (Family.slow_point), and the equal n of all
    batch: int  # images (or sequences) per timed call at quality points, unless the plan sets n
    timing_budget_s: float  # repeat a timed call until this much time is spent ...
    max_rounds: int  # ... or this many rounds
    # samples an interpreted kernel swap compares against eager; the others compare one batch of
    # the timed shape, which a compiled model then runs without compiling again
    interpreted_swap_samples: int
    # sampling steps, or new tokens (>= 2: the prefill and a decode step), when Triton is
    # interpreted: its points check correctness only, at numpy speed
    interpreted_steps: int
    batch_sizes: tuple[int, ...]
    latent_pairs: int  # latent interpolations per family with a latent space
    feature_net: str = "cpu"  # the quality feature net's preset: "tiny" only for tests of the plumbing
    # the plan's variant points (diffusion's step and guidance curves): a quick run leaves them out
    # and measures the reference point in every dtype and backend, and the batch sizes
    variants: bool = True
    backends_left_out: tuple[str, ...] = ()  # the model backends a quick run does not measure


SETTINGS = {
    "tiny": SweepSettings(
        quality_samples=8,
        slow_quality_samples=6,
        batch=4,
        timing_budget_s=0.02,
        max_rounds=2,
        interpreted_swap_samples=2,
        interpreted_steps=2,
        batch_sizes=(1, 4),
        latent_pairs=4,
        feature_net="tiny",
    ),
    # a smoke run of the whole job in minutes: 200 samples give intervals about 1.6x as wide as
    # the cpu preset's 500 (they shrink as 1/sqrt(n)), so fewer claims resolve; the report says so
    "quick": SweepSettings(
        quality_samples=200,
        slow_quality_samples=200,  # it visits no slow point: every figure compares at n = 200
        batch=50,
        timing_budget_s=0.5,
        max_rounds=2,
        interpreted_swap_samples=2,
        interpreted_steps=2,
        batch_sizes=(1, 16),
        latent_pairs=32,
        variants=False,
        # compiling the UNet or the LLM's decode costs ~1.5 minutes each on 2 cores, a third of the
        # budget: the op suite still compiles every op, and the cpu preset every model
        backends_left_out=("compile",),
    ),
    "cpu": SweepSettings(
        quality_samples=500,
        slow_quality_samples=128,
        batch=50,
        timing_budget_s=1.0,
        max_rounds=3,
        interpreted_swap_samples=4,
        interpreted_steps=2,
        batch_sizes=(1, 16, 64),
        latent_pairs=64,
    ),
    "gpu": SweepSettings(
        quality_samples=500,
        slow_quality_samples=500,
        batch=250,
        timing_budget_s=3.0,
        max_rounds=10,
        interpreted_swap_samples=16,
        interpreted_steps=50,
        batch_sizes=(1, 16, 64, 256),
        latent_pairs=256,
    ),
}


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    family: str
    backend: str
    dtype: str
    knobs: tuple[tuple[str, object], ...]  # sorted (name, value), n included: hashable, printable
    quality: bool  # measure quality here (else speed only)

    @classmethod
    def make(cls, family: str, backend: str, dtype: str, knobs: dict, quality: bool) -> SweepPoint:
        return cls(family, backend, dtype, tuple(sorted(knobs.items())), quality)

    @property
    def knob_dict(self) -> dict:
        return dict(self.knobs)

    @property
    def case(self) -> str:
        shown = {k: v for k, v in self.knobs if not (self.quality and k == "n")}
        return " ".join(f"{CASE_NAMES.get(k, k)}={_text(v)}" for k, v in shown.items()) or "default"

    def model_point(self, preset: str) -> ModelPoint:
        return ModelPoint(
            self.family,
            "generate",
            self.backend,
            protocol.resolve_dtype(self.dtype),
            preset,
            self.knobs,
            kind="sweep",
            label=self.case,
        )


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def points(family: protocol.Family, preset: str, backends: tuple[str, ...]) -> list[SweepPoint]:
    """Eager float32 first (the baselines), then dtypes, then the other backends the family has."""
    settings = SETTINGS[preset]
    sweep = family.sweep_plan(preset)

    def knobs(base) -> dict:
        return {"n": settings.batch, **base}

    reference = knobs(sweep.reference)
    batch_reference = knobs(sweep.batch_reference if sweep.batch_reference is not None else sweep.reference)
    make = SweepPoint.make
    chosen = [make(family.name, "eager", "float32", reference, quality=True)]
    if settings.variants:
        chosen += [make(family.name, "eager", "float32", knobs(v), quality=True) for v in sweep.variants]
    chosen.append(make(family.name, "eager", "bfloat16", reference, quality=True))
    chosen += [
        make(family.name, "eager", "float32", dict(batch_reference, n=n), quality=False)
        for n in settings.batch_sizes
    ]
    chosen += [
        make(family.name, backend, "float32", reference, quality=True)
        for backend in family.backends()
        if backend != "eager" and backend in backends and backend not in settings.backends_left_out
    ]
    return list(dict.fromkeys(chosen))  # a variant equal to the reference is measured once
