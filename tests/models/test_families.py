"""Every family through the protocol: tiny presets train, sample, evaluate, and do so
deterministically; the interface itself is complete and consistent."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from genzoo.models import protocol

FAMILIES = protocol.names()


def test_the_four_families_are_registered():
    assert set(FAMILIES) == {"llm", "diffusion", "gan", "vae"}
    with pytest.raises(KeyError, match="no model family 'nope'"):
        protocol.get("nope")


@pytest.mark.parametrize("name", FAMILIES)
def test_family_declares_frozen_presets_and_valid_knobs(name):
    family = protocol.get(name)
    assert family.name == name
    for preset in protocol.PRESETS:
        config = family.config(preset)
        assert dataclasses.is_dataclass(config)
        with pytest.raises(dataclasses.FrozenInstanceError):
            config.seed = 1
        assert config.steps > 0 and isinstance(config.extra_seeds, tuple)
    assert family.config("tiny").steps <= 10, "tiny trains in seconds"
    names = [knob.name for knob in family.knobs]
    assert len(names) == len(set(names)) and "n" in names
    for preset in protocol.PRESETS:  # a sweep turns only knobs the family declares
        plan = family.sweep_plan(preset)
        for knobs in (plan.reference, *plan.variants, plan.batch_reference or {}):
            assert set(knobs) <= set(names), (
                f"{name} {preset}: {sorted(set(knobs) - set(names))} not declared"
            )
    assert family.headline.better in ("lower", "higher") and family.headline.window > 0
    for knob in family.knobs:
        assert knob.default in knob.values, (
            f"{name}.{knob.name}: default {knob.default!r} not among its values"
        )
    with pytest.raises(KeyError, match="no preset"):
        family.config("huge")


@pytest.mark.parametrize("name", FAMILIES)
def test_tiny_preset_trains_samples_and_evaluates(name, tiny, quick_knobs):
    family, model, data = tiny(name)
    assert not model.training, "train() hands the model back in eval mode"
    metrics = family.evaluate(model, data)
    assert metrics and all(math.isfinite(v) for v in metrics.values()), metrics
    n = 3
    knobs = quick_knobs(name)
    out = family.sample(model, n, seed=1, **knobs)
    if family.unit == "images":
        assert out.shape == (n, 1, 28, 28) and out.dtype == torch.float32
        assert 0.0 <= out.min() and out.max() <= 1.0
        assert out.std() > 0, "samples are not constant"
    else:
        assert out.shape == (n, 5) and out.dtype == torch.int64
        assert 0 <= out.min() and out.max() < model.gpt2.config.vocab_size
    assert family.units_generated(n, knobs) == (n if family.unit == "images" else n * 5)


@pytest.mark.parametrize("name", FAMILIES)
def test_sampling_is_seeded(name, tiny, quick_knobs):
    family, model, _ = tiny(name)
    knobs = quick_knobs(name)
    first = family.sample(model, 4, seed=7, **knobs)
    assert torch.equal(first, family.sample(model, 4, seed=7, **knobs))
    assert not torch.equal(first, family.sample(model, 4, seed=8, **knobs))


@pytest.mark.parametrize("name", FAMILIES)
def test_training_is_deterministic_on_cpu(name):
    family = protocol.get(name)
    data = family.load_data()
    config = dataclasses.replace(family.config("tiny"), steps=2)
    logs, states = [], []
    for _ in range(2):
        model = family.build(config)
        logs.append(family.train(model, data, progress=False).losses)
        states.append(model.state_dict())
    assert logs[0] == logs[1]
    for key, value in states[0].items():
        assert torch.equal(value, states[1][key]), key
    other = family.build(dataclasses.replace(config, seed=config.seed + 1))
    assert family.train(other, data, progress=False).losses != logs[0], "another seed trains differently"


@pytest.mark.parametrize("name", FAMILIES)
def test_training_reduces_the_loss(name):
    """A dozen steps on the tiny model already lower the first loss: the gradients point somewhere."""
    family = protocol.get(name)
    config = dataclasses.replace(family.config("tiny"), steps=12)
    log = family.train(family.build(config), family.load_data(), progress=False)
    loss_name = "d_loss" if name == "gan" else "loss"  # a GAN's losses need not fall; D's does at first
    losses = log.losses[loss_name]
    assert len(losses) == 12 and all(math.isfinite(v) for values in log.losses.values() for v in values)
    assert sum(losses[-3:]) / 3 < losses[0], losses


@pytest.mark.parametrize("name", FAMILIES)
def test_low_precision_sample_leaves_the_model_in_float32(name, tiny, quick_knobs):
    family, model, _ = tiny(name)
    knobs = quick_knobs(name)
    out = family.sample(model, 2, seed=0, dtype="bfloat16", **knobs)
    assert out.shape[0] == 2
    assert protocol.dtype_of(model) == torch.float32, "sampling in bf16 converts a copy"
    assert protocol.cast(model, torch.float32) is model and protocol.cast(model, None) is model
