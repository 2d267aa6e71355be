"""Whether Triton kernels run compiled on a GPU or under Triton's CPU interpreter.

Triton reads ``TRITON_INTERPRET`` when a kernel is *decorated*, so this module must be imported
(and ``configure`` run) before any kernel module: ``genzoo.kernels`` does that first.
An interpreted kernel is correct but slow; its timings are never a speed figure.
"""

from __future__ import annotations

import importlib.util
import os

import torch


def configure() -> None:
    """Without CUDA, run Triton kernels under the interpreter (unless the user chose already)."""
    if not torch.cuda.is_available():
        os.environ.setdefault("TRITON_INTERPRET", "1")


def triton_available() -> bool:
    return importlib.util.find_spec("triton") is not None


def interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def triton_device() -> str:
    """The device Triton kernels run on: CUDA when present, the CPU under the interpreter."""
    return "cuda" if torch.cuda.is_available() and not interpreted() else "cpu"
