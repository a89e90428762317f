"""`probe` and `read_frames`: one entry point for sequences, single images and video files."""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np

from vh.core.errors import InputError
from vh.core.io.clip import ClipInfo
from vh.core.io.images import iter_image_frames, probe_image_sequence
from vh.core.io.video import is_video_path, iter_video_frames, probe_video


def probe(path: str | os.PathLike | ClipInfo, frames: tuple[int, int] | None = None) -> ClipInfo:
    """Header of a shot without reading its pixels. `frames=(first, last)` (inclusive) selects a range: frame
    numbers for sequences, 0-based indices for video. A missing sequence frame raises MissingFrameError."""
    if isinstance(path, ClipInfo):
        return path if frames is None else select(path, frames)
    if path is None or not str(path):
        raise InputError("no input file given")
    if is_video_path(path):
        return probe_video(path, frames)
    return probe_image_sequence(path, frames)


def select(info: ClipInfo, frames: tuple[int, int]) -> ClipInfo:
    """`info` restricted to frames first..last, which must lie inside it."""
    first, last = frames
    if info.kind == "image":
        raise InputError(f"{info.path} is a single image; it has no frame range")
    if first < info.frames[0] or last > info.frames[-1] or last < first:
        raise InputError(
            f"frames {first}-{last} are outside {info.path}, which has frames "
            f"{info.frames[0]}-{info.frames[-1]}"
        )
    from dataclasses import replace

    return replace(info, frames=tuple(range(first, last + 1)))


def read_frames(
    path_or_info: str | os.PathLike | ClipInfo, frames: tuple[int, int] | None = None
) -> Iterator[np.ndarray]:
    """Stream the frames of a shot as float32 [H, W, C] (all channels, integers normalised to 0..1).

    The header is checked now (so a bad path fails before any work starts); pixels are read one frame at a
    time as the iterator is consumed, so memory does not grow with the length of the shot.
    """
    info = probe(path_or_info, frames)
    if info.kind == "video":
        return iter_video_frames(info)
    return iter_image_frames(info, info.frames)
