"""Fixtures for the I/O tests."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def gradient():
    """A smooth float32 [H, W, C] test image maker: distinct per channel and frame, values 0..scale."""

    def make(h: int = 24, w: int = 32, c: int = 3, frame: int = 0, scale: float = 1.0) -> np.ndarray:
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        chans = [(x / (w - 1) * (k + 1) / c + y / (h - 1) * 0.3 + 0.01 * frame) % 1.0 for k in range(c)]
        return (np.stack(chans, axis=2) * scale).astype(np.float32)  # [H, W, C]

    return make
