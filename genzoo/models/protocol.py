"""The one interface of the four model families, and the registry that names them.

Every family is one module of ``genzoo.models`` that assigns ``FAMILY = protocol.Family(...)``
at its top level (found by ``names()`` without importing it), or a ``Family`` given to
``register``: its configs (frozen dataclasses with the presets of ``PRESETS``), its
data, how to build, train, sample and evaluate a model, the speed knobs a sweep turns and the
points it visits, its headline quality metric, its extra measurements and the folk claims made
about it. Generic code (harness, sweeps, results, report) only ever talks to a ``Family``, and
never names one:

    family = protocol.get("diffusion")
    config = family.config("tiny")
    data = family.load_data()
    model = family.build(config)                       # model.config is config
    log = family.train(model, data, steps=config.steps, progress=True)
    images = family.sample(model, 16, seed=0, sampler="ddim", steps=20, guidance_scale=2.0)
    metrics = family.evaluate(model, data)             # {"test_denoising_mse": ...}

``sample`` returns images ``[n, 1, 28, 28]`` float32 in [0, 1], or for the LLM the generated token ids
``[n, new_tokens]`` int64; it runs on the model's device and in the model's dtype (``dtype=``
converts a copy first: a benchmark converts once, with ``cast``, outside its timed region).
Family modules import ``transformers``/``diffusers``, so they are imported on first ``get``.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import importlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genzoo.models import training

# tiny: tests of the plumbing; quick: the cpu recipe cut to one training seed and short training,
# a smoke run of the whole job in minutes; cpu: the reference run on a CPU; gpu: the same, scaled
PRESETS = ("tiny", "quick", "cpu", "gpu")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@dataclasses.dataclass(frozen=True)
class Knob:
    """A setting of ``sample`` that changes its speed: the values a sweep visits, and its default."""

    name: str
    values: tuple
    default: Any


# the knob every family has: how many samples one call generates (the batch size)
BATCH_KNOB = Knob("n", (1, 16, 64), 16)


@dataclasses.dataclass(frozen=True)
class Headline:
    """The quality metric a family is judged by, which way it is better, and how far a backend or
    dtype may move it (relative) and still count as the same model."""

    metric: str  # "fid", "bits_per_byte", ...
    better: str  # "lower" or "higher"
    window: float
    evaluation_key: str = ""  # the entry of ``evaluate`` that holds it, for families not scored on samples


@dataclasses.dataclass(frozen=True)
class SweepPlan:
    """The points of a family's speed/quality sweep, as ``sample`` knobs. Backends and dtypes are
    compared at ``reference``; ``variants`` are further quality points (a knob's values around
    the reference); batch sizes are timed at ``batch_reference`` (default: the reference)."""

    reference: Mapping[str, Any]
    variants: tuple[Mapping[str, Any], ...] = ()
    batch_reference: Mapping[str, Any] | None = None


@dataclasses.dataclass(frozen=True)
class Claim:
    """A folk claim about a family, as the report's predicates (``genzoo.report.claims``) that
    must all hold for it: e.g. ``Claim("best quality, slowest", ("best_quality", "slowest"))``."""

    text: str
    predicates: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class LatentSpace:
    """A generator's latent space, as the latent interpolations read it: ``draw(model, n,
    generator)`` gives n latents [n, d] from the prior, ``decode(model, latents)`` images [n, 1,
    28, 28] in [0, 1] of any latents (points between two draws included)."""

    draw: Callable[[nn.Module, int, torch.Generator], torch.Tensor]
    decode: Callable[[nn.Module, torch.Tensor], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class Family:
    """What the harness needs to know about one family of generative models.

    - ``presets``: ``{"tiny": Config, "quick": Config, "cpu": Config, "gpu": Config}``; every config has ``seed``,
      ``steps`` (of training) and ``extra_seeds`` (trained too, for the spread across seeds).
    - ``load_data()``: the family's data set, with ``.sha256`` of exactly what was loaded.
    - ``build(config)``: a fresh, seeded, untrained ``nn.Module`` with ``.config``.
    - ``make_training_step(model, data, generator)``: a closure that runs one optimizer step
      (its own optimizer and schedule inside) and returns its losses as 0-d tensors.
    - ``sample(model, n, seed, **knobs)``: see the module docstring.
    - ``evaluate(model, data)``: held-out metrics, deterministic, ``{name: float}``.
    - ``write_preview(model, directory)``: a picture grid (``<name>.png``) or text
      (``<name>.txt``) that shows what the model makes; returns the paths written.
    - ``unit``: what generation throughput counts, "images" or "tokens".
    - ``ops``: the registry ops the family's models call: the backends that can change them.
    - ``headline``: its quality metric. Image families are scored on their samples
      (``genzoo.quality.evaluate_images``); others by ``evaluate``'s ``headline.evaluation_key``.
    - ``sweep_plan(preset)``: the ``SweepPlan`` of its sweep at that preset.
    - ``benchmark_cases``: ``{"cpu": (knobs, ...), "cuda": (...)}``, the generation calls the
      model benchmark (``bench/test_models.py``) times on untrained models.
    - ``extra_measurements(trained, context)``: rows only this family has (``trained``: a
      ``checkpoint.Trained`` per training seed; ``context``: ``sweeps.ExtraContext``).
    - ``claims``: the folk claims about it that the report tests.
    - ``evaluation_better``: which way each of ``evaluate``'s metrics is better ("lower",
      "higher"); a metric left out has a target or no direction (a GAN's losses).
    - ``latent_space``: how to draw latents and decode them (``LatentSpace``), for the latent
      interpolations every family with one is measured by alike; None where it has none.
    - ``slow_point(knobs)``: whether a sweep point's samples cost so much that its quality set is
      the preset's smaller one (``SweepSettings.slow_quality_samples``: diffusion's long paths).
    """

    name: str
    unit: str
    presets: Mapping[str, Any]
    knobs: tuple[Knob, ...]
    ops: tuple[str, ...]
    load_data: Callable[[], Any]
    build: Callable[[Any], nn.Module]
    make_training_step: Callable[[nn.Module, Any, torch.Generator], Callable[[], dict[str, torch.Tensor]]]
    sample: Callable[..., torch.Tensor]
    evaluate: Callable[[nn.Module, Any], dict[str, float]]
    write_preview: Callable[[nn.Module, Path], list[Path]]
    headline: Headline
    sweep_plan: Callable[[str], SweepPlan]
    benchmark_cases: Mapping[str, tuple[Mapping[str, Any], ...]]
    extra_measurements: Callable[[list, Any], list] | None = None
    claims: tuple[Claim, ...] = ()
    evaluation_better: Mapping[str, str] = dataclasses.field(default_factory=dict)
    slow_point: Callable[[Mapping[str, Any]], bool] = lambda knobs: False
    latent_space: LatentSpace | None = None

    def __post_init__(self) -> None:
        if set(self.presets) != set(PRESETS):
            raise ValueError(f"family {self.name!r} must have presets {PRESETS}, got {sorted(self.presets)}")
        if self.unit not in ("images", "tokens"):
            raise ValueError(f"family {self.name!r}: unit must be 'images' or 'tokens', got {self.unit!r}")

    def config(self, preset: str) -> Any:
        try:
            return self.presets[preset]
        except KeyError:
            raise KeyError(f"family {self.name!r} has no preset {preset!r}; it has {PRESETS}") from None

    def knob(self, name: str) -> Knob:
        for knob in self.knobs:
            if knob.name == name:
                return knob
        raise KeyError(f"family {self.name!r} has no knob {name!r}; it has {[k.name for k in self.knobs]}")

    def train(
        self, model: nn.Module, data: Any, steps: int | None = None, progress: bool = True
    ) -> training.TrainingLog:
        """Train ``model`` in place for ``steps`` optimizer steps (default: its config's)."""
        config = model.config
        generator = training.generator(config.seed, device_of(model))
        step = self.make_training_step(model, data, generator)
        model.train()
        try:
            return training.run(
                step, config.steps if steps is None else steps, f"{self.name} seed {config.seed}", progress
            )
        finally:
            model.eval()

    def backends(self) -> tuple[str, ...]:
        """``eager``, ``compile`` (the whole model, ``genzoo.harness.backends``) and every backend
        that at least one of the family's ops implements: the backends that can change what this
        family's models compute."""
        from genzoo import kernels

        available = {"eager", "compile"}
        for op_name in self.ops:
            try:
                available.update(kernels.get(op_name).backends)
            except KeyError:  # an op whose integration is not installed: the model does not call it
                continue
        return tuple(b for b in kernels.BACKENDS if b in available)

    def units_generated(self, n: int, knobs: Mapping[str, Any]) -> int:
        """Images, or new tokens, that one ``sample(model, n, ...)`` call makes."""
        if self.unit == "images":
            return n
        return n * knobs.get("new_tokens", self.knob("new_tokens").default)


_REGISTERED: dict[str, Family] = {}


def register(family: Family) -> Family:
    """Make a family defined outside ``genzoo.models`` known to every command and stage."""
    if family.name in _family_modules() or family.name in _REGISTERED:
        raise ValueError(f"model family {family.name!r} is defined twice")
    _REGISTERED[family.name] = family
    return family


def unregister(name: str) -> None:
    _REGISTERED.pop(name, None)


def _family_modules() -> dict[str, str]:
    """``{family name: module}`` of the modules of this package that assign ``FAMILY`` at their top
    level, read from their source: importing them would load transformers and diffusers."""
    found = {}
    for path in sorted(Path(__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in tree.body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "FAMILY" for t in node.targets):
                found[path.stem] = f"{__package__}.{path.stem}"
    return found


def names() -> tuple[str, ...]:
    return (*_family_modules(), *_REGISTERED)


def get(name: str) -> Family:
    if name in _REGISTERED:
        return _REGISTERED[name]
    try:
        module_name = _family_modules()[name]
    except KeyError:
        raise KeyError(f"no model family {name!r}; known: {names()}") from None
    family = importlib.import_module(module_name).FAMILY
    if family.name != name:
        raise ValueError(f"{module_name}.FAMILY is named {family.name!r}: a family's module bears its name")
    return family


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def dtype_of(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    try:
        return DTYPES[dtype]
    except KeyError:
        raise ValueError(f"unknown dtype {dtype!r}; known: {sorted(DTYPES)}") from None


def cast(model: nn.Module, dtype: str | torch.dtype | None) -> nn.Module:
    """``model`` itself when it is already in ``dtype`` (or ``dtype`` is None), else a converted
    copy: sampling in bf16 must not round the float32 weights that training and checkpoints keep."""
    dtype = resolve_dtype(dtype)
    if dtype is None or dtype_of(model) == dtype:
        return model
    return copy.deepcopy(model).to(dtype).eval()
