"""Single images and numbered image sequences through OpenImageIO.

Pixels come back as stored, normalised to float32: integer files to 0..1, half/float untouched (no clamp).
Straight (unassociated) alpha in PNG/TIFF is *not* premultiplied on read, so that a read-write round trip is
lossless and RGB keeps its values under soft alpha; EXR is associated by definition and stays as it is.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import OpenImageIO as oiio

from vh.core.color import REC709_CHROMATICITIES
from vh.core.errors import InputError, MissingFrameError
from vh.core.io.clip import ClipInfo

# `%04d`, `%d`, `####`, `@@@@` in the file name (not the folder) mark a sequence.
_PATTERN = re.compile(r"%0?(\d*)d|(#+)|(@+)")


@dataclass(frozen=True)
class SequencePattern:
    """A frame-numbered file name: `folder/prefix` + zero-padded number + `suffix`."""

    folder: Path
    prefix: str
    suffix: str
    padding: int

    @classmethod
    def parse(cls, path: str | os.PathLike) -> SequencePattern | None:
        """The pattern in `path`'s file name, or None for a plain file name."""
        p = Path(path)
        matches = list(_PATTERN.finditer(p.name))
        if not matches:
            return None
        if len(matches) > 1:
            raise InputError(f"{path} has more than one frame-number placeholder")
        m = matches[0]
        if m.group(2) or m.group(3):
            padding = len(m.group(2) or m.group(3))
        else:
            padding = int(m.group(1) or 1)
        return cls(p.parent, p.name[: m.start()], p.name[m.end() :], padding)

    def name(self, frame: int) -> str:
        sign = "-" if frame < 0 else ""
        return f"{self.prefix}{sign}{abs(frame):0{self.padding}d}{self.suffix}"

    def path(self, frame: int) -> Path:
        return self.folder / self.name(frame)

    def scan(self) -> list[int]:
        """Frame numbers present on disk, sorted. Only names this pattern would produce count, so `####` does
        not pick up `shot.12.exr` or `shot.v2.0001.exr` lying beside the sequence."""
        if not self.folder.is_dir():
            raise InputError(f"folder {self.folder} does not exist")
        rx = re.compile(re.escape(self.prefix) + r"(-?\d+)" + re.escape(self.suffix) + "$")
        found = []
        with os.scandir(self.folder) as it:
            for entry in it:
                m = rx.match(entry.name)
                if m and self.name(int(m.group(1))) == entry.name:
                    found.append(int(m.group(1)))
        return sorted(found)


def probe_image_sequence(path: str | os.PathLike, frames: tuple[int, int] | None = None) -> ClipInfo:
    """ClipInfo for a single image or a sequence pattern; checks every frame of the range exists."""
    pattern = SequencePattern.parse(path)
    if pattern is None:
        if frames is not None:
            raise InputError(f"{path} is a single image; a frame range needs a pattern such as name.####.exr")
        if Path(path).is_dir():
            raise InputError(
                f"{path} is a folder; give a file, a video or a sequence pattern such as "
                f"{Path(path) / 'name.####.exr'}"
            )
        if not Path(path).is_file():
            raise InputError(f"{path} does not exist")
        return _info_from_header(Path(path), str(path), "image", (0,))
    present = pattern.scan()
    if not present:
        raise MissingFrameError(
            f"no frames match {path} (looked for {pattern.name(1)}-style names in {pattern.folder})"
        )
    first, last = frames if frames is not None else (present[0], present[-1])
    have = set(present)
    missing = [f for f in range(first, last + 1) if f not in have]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise MissingFrameError(
            f"missing frame {missing[0]}: {pattern.path(missing[0])}{more} (sequence {path}, "
            f"frames {first}-{last})"
        )
    return _info_from_header(pattern.path(first), str(path), "sequence", tuple(range(first, last + 1)))


def frame_path(info: ClipInfo, frame: int) -> Path:
    """The file holding frame number `frame` of an image or sequence clip."""
    if info.kind == "image":
        return Path(info.path)
    pattern = SequencePattern.parse(info.path)
    assert pattern is not None, info.path
    return pattern.path(frame)


def iter_image_frames(info: ClipInfo, frames: tuple[int, ...]) -> Iterator[np.ndarray]:
    """One float32 [H, W, C] array per frame number, read lazily; every frame must match the clip's header."""
    for frame in frames:
        path = frame_path(info, frame)
        if not path.is_file():
            raise MissingFrameError(f"missing frame {frame}: {path}")
        pixels = read_image(path)
        h, w, c = pixels.shape
        if (w, h, c) != (info.width, info.height, info.channels):
            raise InputError(
                f"{path} is {w}x{h} with {c} channels but {info.path} starts at "
                f"{info.size} with {info.channels}"
            )
        yield pixels


def read_image(path: str | os.PathLike) -> np.ndarray:
    """All channels of the first subimage of `path`, float32 [H, W, C]; InputError if unreadable/corrupt."""
    inp = oiio.ImageInput.open(str(path), _read_config())
    if inp is None:
        raise InputError(f"cannot read {path}: {_oiio_error() or 'unknown format'}")
    try:
        spec = inp.spec()
        pixels = inp.read_image(0, 0, 0, spec.nchannels, "float")
        if pixels is None or inp.has_error:
            raise InputError(f"cannot read {path}: {_oiio_error(inp) or 'corrupt or truncated file'}")
    finally:
        inp.close()
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:  # OIIO drops the channel axis of 1-channel images in some versions
        pixels = pixels[:, :, None]
    if _is_cropped(spec):
        pixels = _to_display_window(pixels, spec)
    return pixels  # [H, W, C]


# Attributes not carried from a source header: how a file is stored (the writer sets those itself) and when it
# was made (the output is a new render).
_NOT_CARRIED = ("compression", "planarconfig", "channelformats", "oiio:", "openexr:", "tiff:", "DateTime")


def source_header(info: ClipInfo, number: int, spec: oiio.ImageSpec, frame: np.ndarray) -> np.ndarray:
    """Carry frame `number` of `info` (EXR) into `spec` for its output: metadata attributes and data window.

    Returns the pixels to write: `frame` itself, or its data-window crop when the source frame stored only a
    window (that window clipped to the frame; pixels outside it were zero on read).
    """
    inp = oiio.ImageInput.open(str(frame_path(info, number)))
    if inp is None:
        _oiio_error()
        return frame  # the source frame was read a moment ago; metadata is best effort, pixels are not
    try:
        src = inp.spec()
    finally:
        inp.close()
    for attr in src.extra_attribs:
        if not attr.name.startswith(_NOT_CARRIED):
            spec.attribute(attr.name, attr.type, attr.value)
    if not _is_cropped(src):
        return frame
    x0, y0 = max(src.x, src.full_x), max(src.y, src.full_y)
    x1 = min(src.x + src.width, src.full_x + src.full_width)
    y1 = min(src.y + src.height, src.full_y + src.full_height)
    if x1 <= x0 or y1 <= y0:
        return frame  # a window wholly outside the frame: keep the full frame
    spec.full_x, spec.full_y = src.full_x, src.full_y
    spec.full_width, spec.full_height = src.full_width, src.full_height
    spec.x, spec.y, spec.width, spec.height = x0, y0, x1 - x0, y1 - y0
    fx, fy = x0 - src.full_x, y0 - src.full_y  # window origin in frame (array) coordinates
    return frame[fy : fy + spec.height, fx : fx + spec.width]


def _is_cropped(spec: oiio.ImageSpec) -> bool:
    """True when the stored pixels (data window) are not the frame (display window): bounding-box EXRs."""
    return (spec.x, spec.y, spec.width, spec.height) != (
        spec.full_x,
        spec.full_y,
        spec.full_width,
        spec.full_height,
    )


def _to_display_window(data: np.ndarray, spec: oiio.ImageSpec) -> np.ndarray:
    """Renders often store only the pixels inside the object's bounding box (a data window that changes every
    frame); the frame is the display window, zero outside the data. Overscan beyond the frame is dropped."""
    frame = np.zeros((spec.full_height, spec.full_width, data.shape[2]), np.float32)  # [H, W, C]
    x0, y0 = spec.x - spec.full_x, spec.y - spec.full_y  # data origin in frame coordinates
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + spec.width, spec.full_width), min(y0 + spec.height, spec.full_height)
    if fx1 > fx0 and fy1 > fy0:
        frame[fy0:fy1, fx0:fx1] = data[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    return frame


def _read_config() -> oiio.ImageSpec:
    config = oiio.ImageSpec()
    config.attribute("oiio:UnassociatedAlpha", 1)  # keep straight alpha straight (see module docstring)
    return config


def _info_from_header(path: Path, given: str, kind: str, frames: tuple[int, ...]) -> ClipInfo:
    inp = oiio.ImageInput.open(str(path), _read_config())
    if inp is None:
        raise InputError(f"cannot read {path}: {_oiio_error() or 'unknown format'}")
    try:
        spec = inp.spec()
        fmt = inp.format_name()
    finally:
        inp.close()
    pixel_type = str(spec.format)
    bits = int(spec.get_int_attribute("oiio:BitsPerSample", 0))
    names = tuple(spec.channelnames) or tuple(f"channel{i}" for i in range(spec.nchannels))
    alpha = spec.alpha_channel if spec.alpha_channel >= 0 else None
    extra = {
        k: spec.get_string_attribute(k) for k in ("compression", "oiio:ColorSpace") if spec.getattribute(k)
    }
    if _is_cropped(spec):
        extra["data_window"] = (spec.x, spec.y, spec.width, spec.height)
    if fmt == "openexr":  # which primaries the linear values are in; absent means Rec.709 (OpenEXR's default)
        chroma = spec.getattribute("chromaticities")
        extra["chromaticities"] = tuple(map(float, chroma)) if chroma else REC709_CHROMATICITIES
    # The frame size is the display window; read_image fills the rest of it around a cropped data window.
    return ClipInfo(
        path=given,
        kind=kind,
        width=spec.full_width,
        height=spec.full_height,
        channels=spec.nchannels,
        channel_names=names,
        frames=frames,
        pixel_type=pixel_type,
        bits=bits,
        alpha_channel=alpha,
        format=fmt,
        extra=extra,
    )


def _oiio_error(obj=None) -> str:
    msg = obj.geterror() if obj is not None else oiio.geterror()
    return " ".join(str(msg).split())
