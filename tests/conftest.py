"""Test-wide setup: Triton's interpreter must be chosen before any kernel is decorated."""

import os

import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")

from hypothesis import settings  # noqa: E402

import genzoo.kernels  # noqa: E402,F401  (registers every op)

# no example database: nothing but results/ is written into the repository
settings.register_profile("genzoo", database=None, deadline=None)
settings.load_profile("genzoo")
