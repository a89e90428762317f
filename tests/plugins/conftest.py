"""Fixtures for the host-plugin tests: a real vh-server on loopback and real EXR plates written with OIIO."""

from __future__ import annotations

import numpy as np
import pytest

from vh.core.io import read_image, write_image


def write_exr(path, pixels: np.ndarray, pixel_type: str = "float") -> None:
    write_image(path, pixels, pixel_type=pixel_type, compression="zips")


def read_exr(path) -> np.ndarray:
    return read_image(path)


def make_plate(
    folder, frames: int = 10, height: int = 1080, width: int = 2048, first: int = 1, pixel_type: str = "float"
) -> tuple[str, str]:
    """A scene-linear plate (RGBA; alpha = the matte) and a separate soft matte sequence; returns both
    patterns.

    The background is a smooth gradient with highlights above 1.0; the foreground, a soft-edged disc that
    drifts across frames, is given a cold, dark cast that the harmonizer should repaint."""
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    background = np.stack(
        [0.2 + 0.6 * xx / width, 0.15 + 0.3 * yy / height, 0.1 + 0.05 * (xx + yy) / (width + height)], -1
    )
    background[: height // 8, : width // 8] = 4.0  # a highlight well above 1.0
    for i in range(frames):
        cx, cy, r = width * (0.4 + 0.02 * i), height * 0.5, height * 0.3
        dist = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2)
        matte = np.clip((r - dist) / 20.0, 0.0, 1.0)  # 20-pixel soft edge
        texture = 0.5 + 0.5 * np.sin(xx / 37.0 + i) * np.cos(yy / 23.0)
        foreground = np.stack([0.05 * texture, 0.08 * texture, 0.3 * texture], -1)
        rgb = background * (1 - matte[..., None]) + foreground * matte[..., None]
        write_exr(
            folder / f"plate.{first + i:04d}.exr", np.concatenate([rgb, matte[..., None]], -1), pixel_type
        )
        write_exr(folder / f"matte.{first + i:04d}.exr", matte[..., None], pixel_type)
    return str(folder / "plate.%04d.exr"), str(folder / "matte.%04d.exr")


@pytest.fixture(scope="module")
def vh_server():
    """A real vh-server on 127.0.0.1 with the classical models loaded; yields its address."""
    from vh.server.serve import ServerOptions, create_server

    running = create_server("127.0.0.1:0", ServerOptions(models=["stats", "cut"]))
    try:
        yield f"127.0.0.1:{running.port}"
    finally:
        running.stop(grace=1.0)
