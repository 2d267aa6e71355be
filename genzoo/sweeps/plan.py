"""Which points a family's sweep visits: speed knobs x backends x dtypes, and at which of them
quality is measured.

A point's ``case`` names the knobs that change the output (``sampler=ddim steps=50 w=2``) and,
for batch-size points, ``batch=N``; speed and quality rows of one point share it, so a report
pairs them. Quality is measured at a fixed number of samples per preset (the same for every
image family, so FIDs are comparable across families); batch-size points measure speed only.
"""

from __future__ import annotations

import dataclasses

from genzoo.kernels import triton_mode

# what each knob is called in a case string (the report reads steps= and w=)
CASE_NAMES = {"guidance_scale": "w", "use_cache": "cache", "new_tokens": "tokens", "n": "batch"}


@dataclasses.dataclass(frozen=True)
class SweepSettings:
    quality_samples: int  # images per quality point (all image families alike)
    batch: int  # images (or sequences) per timed call at quality points
    timing_budget_s: float  # repeat a timed call until this much time is spent ...
    max_rounds: int  # ... or this many rounds
    swap_samples: int  # samples compared against eager for a kernel swap
    interpreted_steps: int  # diffusion steps when Triton is interpreted (correctness only)
    ddpm_steps: int  # the DDPM baseline (1000 in the paper)
    ddim_steps: tuple[int, ...]
    guidance_scales: tuple[float, ...]
    batch_sizes: tuple[int, ...]
    feature_net: str = "cpu"  # the quality feature net's preset: "tiny" only for tests of the plumbing


SETTINGS = {
    "tiny": SweepSettings(8, 4, 0.02, 2, 2, 1, 10, (5, 2), (1.0, 2.0), (1, 4), feature_net="tiny"),
    "cpu": SweepSettings(32, 32, 1.0, 3, 4, 2, 1000, (250, 100, 50, 20, 10), (1.0, 2.0, 4.0), (1, 16, 64)),
    "gpu": SweepSettings(2000, 250, 3.0, 10, 16, 50, 1000, (250, 100, 50, 20, 10), (1.0, 2.0, 4.0, 8.0), (1, 16, 64, 256)),
}


@dataclasses.dataclass(frozen=True)
class SweepPoint:
    family: str
    backend: str
    dtype: str
    knobs: tuple[tuple[str, object], ...]  # sorted (name, value): hashable, printable
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

    @property
    def interpreted(self) -> bool:
        return self.backend == "triton" and triton_mode.interpreted()


def _text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def points(family: str, settings: SweepSettings, backends: tuple[str, ...], family_backends: tuple[str, ...]) -> list[SweepPoint]:
    """Eager float32 first (the baselines), then dtypes, then the other backends."""
    make = SweepPoint.make
    other_backends = [b for b in backends if b != "eager" and b in family_backends]
    if family == "diffusion":
        base = dict(n=settings.batch, sampler="ddim", steps=50, guidance_scale=2.0, eta=0.0)
        variants = [dict(base, sampler="ddpm", steps=settings.ddpm_steps, eta=0.0)]
        variants += [dict(base, steps=steps) for steps in settings.ddim_steps]
        variants += [dict(base, guidance_scale=w) for w in settings.guidance_scales if w != base["guidance_scale"]]
        reference = base
        batch_reference = dict(base, steps=min(settings.ddim_steps))  # batch size is about the UNet, not steps
    elif family == "llm":
        base = dict(n=8, use_cache=True, new_tokens=64)
        variants = [base, dict(base, use_cache=False)]
        reference = batch_reference = base
    else:
        base = dict(n=settings.batch)
        variants = [base]
        reference = batch_reference = base
    chosen = [make(family, "eager", "float32", knobs, quality=True) for knobs in _unique(variants + [reference])]
    chosen.append(make(family, "eager", "bfloat16", reference, quality=True))
    chosen += [make(family, "eager", "float32", dict(batch_reference, n=n), quality=False) for n in settings.batch_sizes]
    chosen += [make(family, backend, "float32", reference, quality=True) for backend in other_backends]
    return chosen


def _unique(dicts: list[dict]) -> list[dict]:
    seen, unique = set(), []
    for d in dicts:
        key = tuple(sorted(d.items()))
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique
