"""Sample grids and text samples, written where the caller says."""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from genzoo.models import previews


def test_image_grid_places_each_image_in_its_cell():
    images = torch.rand(7, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    grid = previews.image_grid(images, columns=3)
    pad, scale = previews.GRID_PADDING, previews.UPSCALE
    assert grid.shape == (scale * (3 * 30 + pad), scale * (3 * 30 + pad)) and grid.dtype == np.uint8
    # image 4 sits in row 1, column 1
    top, left = scale * (pad + 30), scale * (pad + 30)
    cell = grid[top : top + 28 * scale : scale, left : left + 28 * scale : scale]
    np.testing.assert_array_equal(cell, (images[4, 0].numpy() * 255).round().astype(np.uint8))
    assert grid[: scale * pad].max() == 0  # padding stays black


def test_grid_png_is_written(tmp_path):
    path = previews.write_image_grid(torch.rand(20, 1, 28, 28), tmp_path / "sub" / "grid.png")
    assert Image.open(path).size == previews.image_grid(torch.rand(20, 1, 28, 28), 10).shape[::-1]


def test_every_family_writes_its_preview(tiny, tmp_path, monkeypatch):
    from genzoo.models import diffusion, protocol

    # the diffusion preview's 50 denoising steps of 40 images take long even for the tiny UNet: 2 here
    full_sample = diffusion.sample
    monkeypatch.setattr(
        diffusion, "sample", lambda *args, **knobs: full_sample(*args, **{**knobs, "steps": 2})
    )
    for name in protocol.names():
        family, model, _ = tiny(name)
        paths = family.write_preview(model, tmp_path)
        assert [p.name for p in paths] == [f"{name}.{'txt' if family.unit == 'tokens' else 'png'}"]
        assert paths[0].stat().st_size > 0
