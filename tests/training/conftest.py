"""Fixtures for the training tests: a small synthetic image+mask folder that needs no shared data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


def write_pairs(root: Path, n: int = 6, size: tuple[int, int] = (72, 96), seed: int = 0) -> Path:
    """`n` smooth random photos with an elliptical foreground of a different colour, as images/ + masks/."""
    import cv2

    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    for i in range(n):
        base = rng.uniform(0, 255, (h // 8, w // 8, 3)).astype(np.float32)
        image = cv2.resize(base, (w, h), interpolation=cv2.INTER_CUBIC)
        cx, cy, rx, ry = w * rng.uniform(0.35, 0.65), h * rng.uniform(0.35, 0.65), w * 0.25, h * 0.3
        mask = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 < 1
        image[mask] = image[mask] * 0.5 + rng.uniform(0, 128, 3)
        cv2.imwrite(str(root / "images" / f"p{i:02d}.jpg"), np.clip(image, 0, 255).astype(np.uint8))
        cv2.imwrite(str(root / "masks" / f"p{i:02d}.png"), mask.astype(np.uint8) * 255)
    return root


@pytest.fixture
def pairs_dir(tmp_path: Path) -> Path:
    return write_pairs(tmp_path / "pairs")
