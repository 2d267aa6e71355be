"""A checkpoint trained on one worker, installed into another worker's cache.

The bytes travel through Ray's object store (put there once by the driver); before they are
installed, their key is checked as ``checkpoint.load`` checks it: a checkpoint whose config or
training-data hash differ from what this worker would train (another Python's standard library
is another LLM corpus) is an error, never silently retrained per worker.
"""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path

import torch

from genzoo import storage
from genzoo.models import checkpoint, protocol


class CheckpointMismatchError(RuntimeError):
    """A checkpoint from another worker is not the one this worker would use."""


def install(payload: bytes, family: str, preset: str, seed: int, directory: Path | None = None) -> Path:
    spec = protocol.get(family)
    config = dataclasses.replace(spec.config(preset), seed=seed)
    stored = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    why = checkpoint.mismatch(stored, family, config, spec.load_data().sha256)
    if why is not None:
        raise CheckpointMismatchError(
            f"the {family} {preset} seed {seed} checkpoint trained on another worker does not fit this one: {why}"
        )
    return storage.atomic_write_bytes(checkpoint.checkpoint_path(family, preset, seed, directory), payload)
