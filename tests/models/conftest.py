"""Tiny models of every family, trained once per session (seconds each) and shared by the tests
that only read them; and the few knobs that keep their sampling quick."""

from __future__ import annotations

import pytest
import torch

from genzoo.models import protocol

# sampling knobs that keep a test call short: 2 denoising steps, 5 new bytes
QUICK_KNOBS = {"diffusion": {"steps": 2}, "llm": {"new_tokens": 5}}


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models are too small for intra-op parallelism, and on cores shared with other jobs
    OpenMP's threads wait on each other: one thread runs these tests tens of times faster."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def quick_knobs():
    """``quick_knobs(name)``: the family's knobs for a short sampling call."""
    return lambda name: dict(QUICK_KNOBS.get(name, {}))


@pytest.fixture(scope="session")
def tiny_models() -> dict[str, tuple]:
    """``{family: (model, data)}``, filled on first use of each family."""
    return {}


@pytest.fixture
def tiny(tiny_models):
    """``tiny(name) -> (family, model, data)``: the family's tiny preset, trained."""

    def get(name: str):
        family = protocol.get(name)
        if name not in tiny_models:
            data = family.load_data()
            model = family.build(family.config("tiny"))
            family.train(model, data, progress=False)
            tiny_models[name] = (model, data)
        return (family, *tiny_models[name])

    return get
