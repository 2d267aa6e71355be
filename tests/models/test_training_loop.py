"""The shared training pieces: batches, schedule, the loop and its loss history."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from genzoo.models import training


def test_batches_cover_every_item_once_per_epoch():
    batches = training.batches(10, 3, training.generator(0))
    epoch = torch.cat([next(batches) for _ in range(3)])  # 3 batches of 3; the 10th item waits
    assert len(set(epoch.tolist())) == 9
    next_epoch = torch.cat([next(batches) for _ in range(3)])
    assert not torch.equal(epoch, next_epoch)
    with pytest.raises(ValueError, match="exceeds"):
        next(training.batches(2, 3, training.generator(0)))


def test_warmup_then_cosine_to_a_tenth():
    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([parameter], lr=2.0)
    schedule = training.warmup_cosine(optimizer, warmup_steps=4, total_steps=14)
    rates = []
    for _ in range(16):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        schedule.step()
    assert rates[:4] == pytest.approx([0.5, 1.0, 1.5, 2.0])
    assert rates[9] == pytest.approx(0.1 * 2 + 0.9 * 2 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert rates[14:] == pytest.approx([0.2, 0.2])
    assert all(a >= b for a, b in itertools.pairwise(rates[3:]))


def test_run_keeps_every_steps_losses():
    values = iter(range(25))

    def step():
        value = float(next(values))
        return {"loss": torch.tensor(value), "other": torch.tensor(-value)}

    log = training.run(step, 25, "test", progress=False)
    assert log.losses["loss"] == [float(i) for i in range(25)] and log.steps == 25
    assert log.final(window=5) == {"loss": 22.0, "other": -22.0}
    assert training.TrainingLog.from_dict(log.as_dict()) == log


def test_seeded_restores_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with training.seeded(7):
        inside = torch.rand(3)
    assert torch.equal(torch.rand(3), expected)
    with training.seeded(7):
        assert torch.equal(torch.rand(3), inside)


def test_kept_losses_do_not_keep_the_buffers_they_view():
    buffer = torch.arange(100_000, dtype=torch.float32, requires_grad=True)
    loss = buffer[3] * 2  # a 0-d result in a storage of its own...
    view = buffer.detach()[3]  # ...and one that views 400 KB, as mse_loss's does on the CPU
    for value in (loss, view):
        kept = training.loss_value(value)
        assert kept.untyped_storage().nbytes() == 4 and not kept.requires_grad and kept.dtype == torch.float32
    assert training.loss_value(view).item() == 3.0
