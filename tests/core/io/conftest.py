"""Helpers that make test inputs with OpenImageIO directly, so reader tests do not depend on our writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio
import pytest


def oiio_write(
    path: Path | str, pixels: np.ndarray, pixel_type: str, names: tuple[str, ...] | None = None, **attrs
) -> Path:
    pixels = np.ascontiguousarray(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, c = pixels.shape
    spec = oiio.ImageSpec(w, h, c, pixel_type)
    if names:
        spec.channelnames = names
    for k, v in attrs.items():
        spec.attribute(k.replace("__", ":"), v)
    out = oiio.ImageOutput.create(str(path))
    assert out.open(str(path), spec), out.geterror()
    assert out.write_image(pixels), out.geterror()
    out.close()
    return Path(path)


@pytest.fixture
def gradient():
    """A smooth float32 [H, W, C] test image maker: distinct per channel and frame, values 0..scale."""

    def make(h: int = 24, w: int = 32, c: int = 3, frame: int = 0, scale: float = 1.0) -> np.ndarray:
        y, x = np.mgrid[0:h, 0:w].astype(np.float32)
        chans = [(x / (w - 1) * (k + 1) / c + y / (h - 1) * 0.3 + 0.01 * frame) % 1.0 for k in range(c)]
        return (np.stack(chans, axis=2) * scale).astype(np.float32)  # [H, W, C]

    return make
