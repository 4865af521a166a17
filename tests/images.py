"""Small test images from the project's own examples/ (CC0 / public domain)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def example(name: str, long_edge: int | None = None) -> np.ndarray:
    """An example image as uint8 RGB, optionally downscaled to ``long_edge``."""
    im = Image.open(EXAMPLES / name).convert("RGB")
    if long_edge is not None:
        w, h = im.size
        s = long_edge / max(w, h)
        im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.LANCZOS)
    return np.asarray(im).copy()


def half_masks(h: int, w: int):
    """Left-half and right-half masks (float32, white = inside)."""
    left = np.zeros((h, w), np.float32)
    left[:, : w // 2] = 1.0
    return left, 1.0 - left
