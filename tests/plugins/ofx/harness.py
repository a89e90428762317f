"""Shared pieces of the OFX tests: the headless host (tests/plugins/ofx/host), EXR-backed clips
and the reference result from the engine that `vh harmonize` runs."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from tests.plugins.ofx.host import melt_build, ofx_build, ofx_host

REPO = Path(__file__).resolve().parents[3]

__all__ = ["ExrSequence", "melt_build", "ofx_build", "ofx_host", "reference"]


class ExrSequence:
    """Frames of an EXR sequence read with OpenImageIO on demand (the host asks by frame number).

    `channels` picks channels by index (e.g. (3,) for the alpha of RGBA); `keep` frames stay decoded.
    """

    def __init__(
        self, pattern: str, first: int, last: int, channels: tuple[int, ...] | None = None, keep: int = 16
    ):
        self.pattern, self.first, self.last, self.channels = pattern, first, last, channels
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._keep = keep
        self.reads = 0

    @property
    def frame_range(self) -> tuple[int, int]:
        return self.first, self.last

    def __call__(self, t: int) -> np.ndarray | None:
        if not self.first <= t <= self.last:
            return None
        if t not in self._cache:
            path = self.pattern % t
            image = oiio.ImageInput.open(path)
            if image is None:
                raise FileNotFoundError(oiio.geterror())
            try:
                pixels = image.read_image("float")
            finally:
                image.close()
            self.reads += 1
            if self.channels is not None:
                pixels = pixels[..., list(self.channels)]
            self._cache[t] = np.ascontiguousarray(pixels, np.float32)
            while len(self._cache) > self._keep:
                self._cache.popitem(last=False)
        self._cache.move_to_end(t)
        return self._cache[t]


def reference(
    frames: list[np.ndarray],
    mattes: list[np.ndarray] | None,
    model: str = "stats",
    colorspace: str = "scene_linear",
    **options,
) -> list[np.ndarray]:
    """The same clip through vh.core.engine.Engine, the path `vh harmonize` takes (no server, no plugin)."""
    from vh.core.engine import Engine

    engine = Engine(model, **options)
    matte_iter = None if mattes is None else [m[..., 0] if m.ndim == 3 else m for m in mattes]
    return list(engine.run(frames, matte_iter, colorspace=colorspace))


def real_plate(
    video_folder: Path,
    out_folder: Path,
    frames: int = 12,
    size: tuple[int, int] = (2048, 1080),
    cast: tuple[float, float, float] = (0.55, 0.75, 1.35),
) -> tuple[str, str]:
    """A real scene-linear composite as EXR: the portrait video's foreground, given a cold cast, over its
    background.

    Frames 1..frames of `video_folder`/{foreground,mask,background}.mp4 (1920x1080 sRGB video), resized to
    `size` (2K DCI by default), converted to scene-linear with the project's OCIO path; RGBA with alpha =
    matte, plus a separate matte sequence. Returns the two sequence patterns."""
    import av
    import cv2

    from vh.core.color import WORKING_SPACE, convert

    def decode(name: str):
        with av.open(str(video_folder / f"{name}.mp4")) as container:
            for i, frame in enumerate(container.decode(video=0)):
                if i >= frames:
                    break
                yield cv2.resize(frame.to_ndarray(format="rgb24"), size, interpolation=cv2.INTER_AREA)

    out_folder.mkdir(parents=True, exist_ok=True)
    for t, (fg, mask, bg) in enumerate(zip(decode("foreground"), decode("mask"), decode("background")), 1):
        matte = mask[..., :1].astype(np.float32) / 255.0
        fg_lin = convert(fg.astype(np.float32) / 255.0, WORKING_SPACE, "scene_linear") * np.float32(cast)
        bg_lin = convert(bg.astype(np.float32) / 255.0, WORKING_SPACE, "scene_linear")
        comp = fg_lin * matte + bg_lin * (1.0 - matte)
        write_exr(out_folder / f"plate.{t:04d}.exr", np.concatenate([comp, matte], -1), ("R", "G", "B", "A"))
        write_exr(out_folder / f"matte.{t:04d}.exr", matte, ("A",))
    return str(out_folder / "plate.%04d.exr"), str(out_folder / "matte.%04d.exr")


def write_exr(path: Path, pixels: np.ndarray, channels: tuple[str, ...]) -> None:
    """A float EXR, uncompressed (test plates are written once and read often; zip costs seconds per 2K
    frame)."""
    height, width, count = pixels.shape
    spec = oiio.ImageSpec(width, height, count, oiio.FLOAT)
    spec.channelnames = channels
    spec.attribute("compression", "none")
    out = oiio.ImageOutput.create(str(path))
    if out is None or not out.open(str(path), spec):
        raise OSError(f"cannot write {path}: {oiio.geterror()}")
    try:
        out.write_image(np.ascontiguousarray(pixels, np.float32))
    finally:
        out.close()
