"""A model's output under every backend its ops have stays within tolerance of eager's, for the
same seed, in float32 (generated from the families' declared ops and the registry)."""

from __future__ import annotations

import pytest
import torch

from genzoo import kernels, tolerance
from genzoo.models import protocol
from genzoo.tolerance import relative_error

TOLERANCE = tolerance.MODEL_OUTPUT_FP32.bound
POINTS = [
    pytest.param(
        name, backend, id=f"{name}-{backend}", marks=[pytest.mark.slow] if backend == "compile" else []
    )
    for name in protocol.names()
    for backend in protocol.get(name).backends()
    if backend != "eager"
]  # compile: inductor builds C++ per op, a minute on 2 cores


@pytest.mark.parametrize("name, backend", POINTS)
def test_samples_under_backend_match_eager(name, backend, tiny, quick_knobs):
    family, model, _ = tiny(name)
    knobs = quick_knobs(name)
    if family.unit == "tokens":
        knobs["temperature"] = 0.0  # greedy: the bytes are a function of the logits alone
    eager = family.sample(model, 2, seed=11, **knobs)
    with kernels.use(backend):
        other = family.sample(model, 2, seed=11, **knobs)
    if family.unit == "tokens":
        assert torch.equal(other, eager)
    else:
        assert relative_error(other, eager) <= TOLERANCE


@pytest.mark.parametrize("name, backend", [p for p in POINTS if p.values[0] == "llm"])
def test_llm_logits_under_backend_match_eager(name, backend, tiny):
    _, model, data = tiny(name)
    windows = data.validation[: 2 * model.config.context].long().view(2, -1)
    with torch.no_grad():
        eager = model(windows)
        with kernels.use(backend):
            other = model(windows)
    assert relative_error(other, eager) <= TOLERANCE


def test_every_family_but_the_gan_runs_a_fused_op():
    """Declared ops are what backends can change; the DCGAN has none (BatchNorm+ReLU)."""
    for name in protocol.names():
        backends = protocol.get(name).backends()
        assert backends[0] == "eager"
        assert ("triton" in backends) == (name != "gan") or not kernels.get("group_norm_silu").backends.get(
            "triton"
        )
