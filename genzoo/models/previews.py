"""What a trained model makes, in a form a person can judge at a glance: a PNG grid of images, or
a text file of generated code."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from genzoo import storage

GRID_PADDING = 2  # pixels of black between cells
UPSCALE = 2  # 28-pixel digits are small on a screen


def grid_labels(n: int, num_classes: int, device: torch.device | str) -> torch.Tensor:
    """0, 1, ..., 9, 0, 1, ...: in a grid of ``num_classes`` columns each column is one class."""
    return torch.arange(n, device=device) % num_classes


def image_grid(images: torch.Tensor, columns: int) -> np.ndarray:
    """``images`` [N, 1, H, W] in [0, 1] as one uint8 picture, ``columns`` per row."""
    n, _, height, width = images.shape
    rows = -(-n // columns)
    pad = GRID_PADDING
    grid = np.zeros((rows * (height + pad) + pad, columns * (width + pad) + pad), dtype=np.uint8)
    pixels = (images.detach().float().clamp(0, 1)[:, 0].cpu().numpy() * 255).round().astype(np.uint8)
    for index, picture in enumerate(pixels):
        top, left = pad + (index // columns) * (height + pad), pad + (index % columns) * (width + pad)
        grid[top : top + height, left : left + width] = picture
    return grid.repeat(UPSCALE, axis=0).repeat(UPSCALE, axis=1)


def write_image_grid(images: torch.Tensor, path: Path, columns: int = 10) -> Path:
    png = io.BytesIO()
    Image.fromarray(image_grid(images, columns)).save(png, format="PNG")
    return storage.atomic_write_bytes(Path(path), png.getvalue())
