"""A fifth family defined in this test module alone: training, a sweep and report rows for it
come from genzoo's generic code, with no edit to genzoo itself."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch
from torch import nn

from genzoo import sweeps
from genzoo.measurement import to_frame
from genzoo.models import checkpoint, previews, protocol, training
from genzoo.models import data as datasets


@dataclasses.dataclass(frozen=True)
class ToyConfig:
    seed: int = 0
    steps: int = 3
    extra_seeds: tuple[int, ...] = (1,)
    latent_dim: int = 4


class LinearDecoder(nn.Module):
    """z [n, latent] -> images [n, 1, 28, 28] in [0, 1]."""

    def __init__(self, config: ToyConfig):
        super().__init__()
        self.config = config
        self.decoder = nn.Sequential(nn.Linear(config.latent_dim, 28 * 28), nn.Sigmoid())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z).view(-1, 1, 28, 28)


def build(config: ToyConfig) -> LinearDecoder:
    torch.manual_seed(config.seed)
    return LinearDecoder(config)


def make_training_step(model: LinearDecoder, data: datasets.Mnist, generator: torch.Generator):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    device = protocol.device_of(model)
    images = data.train.images[:64].to(device)

    def step() -> dict[str, torch.Tensor]:
        z = torch.randn(len(images), model.config.latent_dim, generator=generator, device=device)
        loss = ((model(z) - images) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss.detach()}

    return step


@torch.no_grad()
def sample(model: LinearDecoder, n: int, seed: int, *, dtype=None) -> torch.Tensor:
    model = protocol.cast(model, dtype)
    device = protocol.device_of(model)
    z = torch.randn(n, model.config.latent_dim, generator=training.generator(seed, device), device=device)
    return model.decoder(z.to(protocol.dtype_of(model))).view(-1, 1, 28, 28).float()


TOY = protocol.Family(
    name="toy",
    unit="images",
    presets={preset: ToyConfig() for preset in protocol.PRESETS},
    knobs=(protocol.BATCH_KNOB,),
    ops=(),
    load_data=datasets.load_mnist,
    build=build,
    make_training_step=make_training_step,
    sample=sample,
    evaluate=lambda model, data: {"test_pixel_mean": float(sample(model, 16, 0).mean())},
    write_preview=lambda model, directory: [
        previews.write_image_grid(sample(model, 10, 0), Path(directory) / "toy.png")
    ],
    headline=protocol.Headline("fid", "lower", window=0.10),
    sweep_plan=lambda preset: protocol.SweepPlan(reference={}),
    benchmark_cases={"cpu": (dict(n=4),), "cuda": (dict(n=64),)},
    claims=(protocol.Claim("toys: fastest", ("fastest",)),),
)


@pytest.fixture(scope="module")
def toy_family(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GENZOO_CACHE_DIR", str(cache))
        protocol.register(TOY)
        try:
            yield TOY
        finally:
            protocol.unregister("toy")


def test_a_registered_family_is_known_to_every_command(toy_family):
    assert "toy" in protocol.names() and protocol.get("toy") is toy_family
    with pytest.raises(ValueError, match="defined twice"):
        protocol.register(toy_family)


def test_a_toy_family_trains_sweeps_and_reports(toy_family, tmp_path):
    trained = checkpoint.ensure_trained_seeds("toy", "tiny", device="cpu", progress=False)
    assert [run.config.seed for run in trained] == [0, 1] and all(run.trained_now for run in trained)
    rows = to_frame(sweeps.run_family("toy", "tiny", backends=("eager", "compile"), progress=False))
    mine = rows[rows["subject"] == "toy"]
    speed = mine[mine["metric"] == "images_per_s"]
    assert set(speed["backend"]) == {"eager", "compile"} and (speed["value"] > 0).all()
    assert set(speed["knob_n"].dropna()) >= {1, 4}
    assert {"fid", "output_rel_l2_diff"} <= set(mine["metric"])
    assert set(mine.loc[mine["kind"] == "training", "metric"]) >= {"train_seconds", "test_pixel_mean"}
    compiled = speed[speed["backend"] == "compile"]
    assert compiled["within_quality_window"].all() and compiled["speedup_vs_eager"].notna().all()

    from genzoo.report import build_report
    from genzoo.results.store import RunDir

    run = RunDir.create(tmp_path, "toy-run", {"device": "cpu", "hostname": "test"})
    run.write_rows("sweep-toy", list(sweeps.run_family("toy", "tiny", backends=("eager",), progress=False)))
    report = build_report([run.path])
    assert any(table.title.endswith("toy") for table in report.other_tables)
