"""Trained models in the cache directory, and ``ensure_trained``: use a checkpoint when it is the
one asked for, train and save it when it is not.

A checkpoint is ``<cache>/models/<family>-<preset>-seed<seed>.pt``, written atomically, holding
the weights, the config they were trained with (as a dict), the SHA-256 of the training data, the
evaluation metrics and the loss history. It is used only when its config and data hash equal
those asked for: a changed preset or another Python's standard library (the LLM's corpus) trains
afresh instead of silently benchmarking a stale model.
"""

from __future__ import annotations

import dataclasses
import pickle
import sys
import warnings
from pathlib import Path

import torch
from torch import nn

import genzoo
from genzoo import storage
from genzoo.harness.timing import default_device
from genzoo.models import protocol, training

FORMAT_VERSION = 1


@dataclasses.dataclass(frozen=True)
class Trained:
    family: str
    preset: str
    config: object
    model: nn.Module
    data_sha256: str
    metrics: dict[str, float]
    log: training.TrainingLog
    path: Path
    trained_now: bool  # False: loaded from a matching checkpoint


def models_dir(directory: Path | None = None) -> Path:
    return Path(directory) if directory is not None else storage.cache_dir() / "models"


def checkpoint_path(family: str, preset: str, seed: int, directory: Path | None = None) -> Path:
    return models_dir(directory) / f"{family}-{preset}-seed{seed}.pt"


def save(
    path: Path,
    family: str,
    preset: str,
    model: nn.Module,
    data_sha256: str,
    metrics: dict[str, float],
    log: training.TrainingLog,
) -> Path:
    payload = {
        "format": FORMAT_VERSION,
        "family": family,
        "preset": preset,
        "config": dataclasses.asdict(model.config),
        "data_sha256": data_sha256,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": dict(metrics),
        "log": log.as_dict(),
        "versions": {
            "genzoo": genzoo.__version__,
            "torch": str(torch.__version__),
            "python": sys.version.split()[0],
        },
    }
    return storage.atomic_torch_save(payload, path)


def mismatch(stored: dict, family: str, config: object, data_sha256: str) -> str | None:
    """Why a stored checkpoint is not the one asked for (None: it is)."""
    if stored.get("format") != FORMAT_VERSION:
        return f"format {stored.get('format')} (this genzoo writes {FORMAT_VERSION})"
    if stored.get("family") != family:
        return f"family {stored.get('family')!r}"
    if stored.get("config") != dataclasses.asdict(config):
        return "its config differs"
    if stored.get("data_sha256") != data_sha256:
        return "its training data differ (data hash)"
    return None


def load(
    path: Path, family: str, preset: str, config: object, data_sha256: str, device: torch.device | str = "cpu"
) -> Trained | None:
    """The checkpoint at ``path`` as a ``Trained``, or None when it is absent or not a match."""
    if not Path(path).is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError) as error:  # not written by this code
        warnings.warn(f"ignoring unreadable checkpoint {path}: {error}", stacklevel=2)
        return None
    if mismatch(stored, family, config, data_sha256) is not None:
        return None
    model = protocol.get(family).build(config)
    model.load_state_dict(stored["state_dict"])
    return Trained(
        family=family,
        preset=preset,
        config=config,
        model=model.to(device).eval(),
        data_sha256=data_sha256,
        metrics=stored["metrics"],
        log=training.TrainingLog.from_dict(stored["log"]),
        path=Path(path),
        trained_now=False,
    )


def ensure_trained_seeds(
    family: str,
    preset: str = "cpu",
    *,
    directory: Path | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    force: bool = False,
) -> list[Trained]:
    """One ``Trained`` per seed of the preset (``seed``, then ``extra_seeds``), each loaded from
    its checkpoint when that matches, else trained, evaluated and saved. ``force`` retrains."""
    data = protocol.get(family).load_data()
    options = dict(directory=directory, device=device, progress=progress, force=force, data=data)
    return [ensure_trained_seed(family, preset, seed, **options) for seed in seeds(family, preset)]


def seeds(family: str, preset: str) -> tuple[int, ...]:
    """The training seeds of a family's preset: its ``seed``, then its ``extra_seeds``."""
    base = protocol.get(family).config(preset)
    return (base.seed, *base.extra_seeds)


def ensure_trained_seed(
    family: str,
    preset: str,
    seed: int,
    *,
    directory: Path | None = None,
    device: torch.device | str | None = None,
    progress: bool = True,
    force: bool = False,
    data: object | None = None,
) -> Trained:
    """One seed of ``ensure_trained_seeds``: the unit a distributed run gives each worker.
    ``data`` (the family's ``load_data()``) saves reading it again for every seed."""
    spec = protocol.get(family)
    config = dataclasses.replace(spec.config(preset), seed=seed)
    data = spec.load_data() if data is None else data
    device = torch.device(default_device(device))
    path = checkpoint_path(family, preset, seed, directory)
    found = None if force else load(path, family, preset, config, data.sha256, device)
    if found is not None:
        return found
    model = spec.build(config).to(device)
    log = spec.train(model, data, progress=progress)
    metrics = {f"train_{name}": value for name, value in log.final().items()}
    metrics.update(spec.evaluate(model, data))
    save(path, family, preset, model, data.sha256, metrics, log)
    return Trained(family, preset, config, model.eval(), data.sha256, metrics, log, path, trained_now=True)


def ensure_trained(family: str, preset: str = "cpu", **options) -> Trained:
    """The preset's model (its first seed), trained first if no matching checkpoint exists;
    what ``genzoo run`` calls before it benchmarks a family. Options: see ``ensure_trained_seeds``."""
    return ensure_trained_seeds(family, preset, **options)[0]
