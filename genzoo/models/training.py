"""What every family's training shares: seeds, batches, the learning-rate schedule, the loop with
its progress bar, and the loss history that is kept with the checkpoint.

Determinism on the CPU: the model is initialised under ``torch.manual_seed(config.seed)`` (in a
forked RNG, so callers' global state is untouched), and every random draw of training (batch
order, noise, timesteps, dropout of labels) comes from one ``torch.Generator`` seeded likewise.
Same seed, same thread count: bit-identical weights and losses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator

import torch
from tqdm.auto import tqdm

PROGRESS_EVERY = 10  # steps between progress-bar updates: .item() waits for the GPU


def generator(seed: int, device: torch.device | str = "cpu") -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run the block (a model's initialisation) on the global RNG seeded with ``seed``, then
    restore the global RNG as it was."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def batches(num_items: int, batch_size: int, generator: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless index batches: a fresh permutation per epoch, batches never straddle two epochs."""
    if batch_size > num_items:
        raise ValueError(f"batch_size {batch_size} exceeds the {num_items} items of the data set")
    while True:
        order = torch.randperm(num_items, generator=generator, device=generator.device)
        for start in range(0, num_items - batch_size + 1, batch_size):
            yield order[start : start + batch_size]


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up to the optimizer's learning rate, then a cosine decay to 10% of it at
    ``total_steps`` (Loshchilov & Hutter 2017, without restarts)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min(1.0, (step - warmup_steps) / max(1, total_steps - warmup_steps))
        return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def autocast(device: torch.device, dtype_name: str | None) -> contextlib.AbstractContextManager:
    """Mixed precision for a training step on CUDA (``gpu`` presets); plain fp32 elsewhere."""
    if dtype_name is None or device.type != "cuda":
        return contextlib.nullcontext()
    return torch.autocast("cuda", dtype=getattr(torch, dtype_name))


@dataclasses.dataclass(frozen=True)
class TrainingLog:
    """Every step's losses, by name (``{"loss": [...]}``, or ``d_loss``/``g_loss`` for a GAN)."""

    losses: dict[str, list[float]]
    seconds: float

    @property
    def steps(self) -> int:
        return len(next(iter(self.losses.values()), []))

    def final(self, window: int = 50) -> dict[str, float]:
        """Mean of each loss over the last ``window`` steps: one step's loss is too noisy."""
        return {
            name: sum(values[-window:]) / len(values[-window:])
            for name, values in self.losses.items()
            if values
        }

    def as_dict(self) -> dict:
        return {"losses": self.losses, "seconds": self.seconds}

    @classmethod
    def from_dict(cls, stored: dict) -> TrainingLog:
        return cls(losses={k: list(v) for k, v in stored["losses"].items()}, seconds=float(stored["seconds"]))


def loss_value(loss: torch.Tensor) -> torch.Tensor:
    """A loss to keep: float32, off the graph, and in storage of its own. A reduction's 0-d result
    can view a larger buffer (a 100 KB one for mse_loss on the CPU), which a kept view would keep
    alive step after step: gigabytes over a run. (On CUDA no sync: it stays a device tensor.)"""
    return loss.detach().float().clone()


def run(
    step: Callable[[], dict[str, torch.Tensor]], steps: int, description: str, progress: bool
) -> TrainingLog:
    """Call ``step()`` ``steps`` times with a tqdm bar showing the latest losses."""
    history: dict[str, list[torch.Tensor]] = {}
    start = time.perf_counter()
    with tqdm(total=steps, desc=description, disable=not progress, unit="step", leave=True) as bar:
        for index in range(steps):
            for name, value in step().items():
                history.setdefault(name, []).append(loss_value(value))
            if (index + 1) % PROGRESS_EVERY == 0 or index + 1 == steps:
                bar.set_postfix({name: f"{values[-1].item():.4f}" for name, values in history.items()})
                bar.update((index + 1) - bar.n)
    losses = {name: torch.stack(values).cpu().tolist() for name, values in history.items()}
    return TrainingLog(losses=losses, seconds=time.perf_counter() - start)
