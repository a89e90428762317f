"""Makes test inputs with OpenImageIO directly, so reader tests do not depend on our writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import OpenImageIO as oiio


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
