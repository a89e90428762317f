"""`ClipInfo`: what a shot is (size, channels, frames, rate, pixel type) without reading its pixels."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from vh.core.errors import InputError

FLOAT_TYPES = ("half", "float", "double")


@dataclass(frozen=True)
class ClipInfo:
    """The header of a shot: an image sequence, a video file or a single image.

    `frames` are the frame numbers of a sequence (e.g. 1001..1100), the 0-based frame indices of a video, or
    `(0,)` for a single image. Sequences never have gaps: a missing frame is an error at probe time.
    """

    path: str  # the file, or the sequence pattern as given (`plate.####.exr`, `plate.%04d.exr`)
    kind: str  # "sequence" | "video" | "image"
    width: int
    height: int
    channels: int
    channel_names: tuple[str, ...]
    frames: tuple[int, ...]
    pixel_type: str  # as stored: "uint8", "uint16", "half", "float", ...
    bits: int = 0  # bits per sample as stored (10 for 10-bit DPX or ProRes); 0 = the pixel type's size
    alpha_channel: int | None = None  # index of the alpha channel, None when there is none
    fps: Fraction | None = None  # rational frame rate (video; sequences have none unless given)
    time_base: Fraction | None = None  # the video stream's time base
    format: str = ""  # OIIO format name ("openexr", "png", ...) or video codec name ("h264", "prores")
    extra: dict = field(default_factory=dict, compare=False, hash=False)  # format specifics, informative only

    @property
    def has_alpha(self) -> bool:
        return self.alpha_channel is not None

    @property
    def is_float(self) -> bool:
        return self.pixel_type in FLOAT_TYPES

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def size(self) -> str:
        """`WIDTHxHEIGHT`, the form error messages use."""
        return f"{self.width}x{self.height}"

    def __len__(self) -> int:
        return len(self.frames)

    @classmethod
    def make(
        cls,
        width: int,
        height: int,
        channels: int = 3,
        n_frames: int = 1,
        *,
        first: int = 1,
        fps: Fraction | int | str | None = None,
        pixel_type: str = "half",
        kind: str = "sequence",
        path: str = "",
    ) -> ClipInfo:
        """A ClipInfo for frames made in memory (a demo, a test), to pass as `like` to `open_writer`."""
        names = default_channel_names(channels)
        return cls(
            path=path,
            kind=kind,
            width=width,
            height=height,
            channels=channels,
            channel_names=names,
            frames=tuple(range(first, first + n_frames)),
            pixel_type=pixel_type,
            alpha_channel=3 if channels >= 4 else None,
            fps=Fraction(fps) if fps is not None else None,
        )


def default_channel_names(channels: int) -> tuple[str, ...]:
    base = ("R", "G", "B", "A") if channels >= 3 else ("Y", "A")
    return tuple(base[i] if i < len(base) else f"channel{i}" for i in range(channels))


_RANGE = re.compile(r"^\s*(-?\d+)\s*(?:(?:-|:|\.\.)\s*(-?\d+)\s*)?$")


def parse_frame_range(text: str | None) -> tuple[int, int] | None:
    """`"1001-1100"` -> (1001, 1100), `"1050"` -> (1050, 1050); also `1001:1100`, `1001..1100`."""
    if text is None or not str(text).strip():
        return None
    m = _RANGE.match(str(text))
    if not m:
        raise InputError(f"frame range '{text}' is not FIRST-LAST (e.g. 1001-1100) or a single frame")
    first = int(m.group(1))
    last = int(m.group(2)) if m.group(2) is not None else first
    if last < first:
        raise InputError(f"frame range '{text}' ends before it starts")
    return first, last
