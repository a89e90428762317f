"""Mattes: where the foreground to repaint is. float32 [H, W] in 0..1, soft edges kept soft.

A matte comes from the plate's own alpha, or from a separate image, sequence or video (its alpha if it has
one, else its first channel). A single still is reused for every frame of the plate.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import numpy as np

from vh.core.errors import InputError
from vh.core.io.clip import ClipInfo
from vh.core.io.reader import probe, read_frames


def read_mattes(matte: str | os.PathLike | ClipInfo | None, plate: ClipInfo) -> Iterator[np.ndarray]:
    """One float32 [H, W] matte per frame of `plate`, streamed.

    Sizes and frame counts are checked now, before the caller starts processing; mismatches are InputErrors
    naming both. When matte and plate are both numbered (sequences, or video indices) and the matte holds
    every frame number of the plate, frames are paired by number, so `--frames 1050-1060` picks the same
    frames of both; otherwise they are paired in order and the counts must match.
    """
    if matte is None or (isinstance(matte, str | os.PathLike) and not str(matte)):
        if not plate.has_alpha:
            raise InputError(f"{plate.path} has no alpha channel to use as the matte; give a matte file")
        return _channel(read_frames(plate), plate.alpha_channel, plate.path, plate.frames)

    info = probe(matte)
    if (info.width, info.height) != (plate.width, plate.height):
        raise InputError(f"matte {info.path} is {info.size} but plate {plate.path} is {plate.size}")
    channel = info.alpha_channel if info.has_alpha else 0
    if info.kind == "image":
        return _repeat_still(info, channel, plate.n_frames)
    if info.kind == plate.kind and set(plate.frames) <= set(info.frames):
        info = probe(info, (plate.frames[0], plate.frames[-1]))
    elif info.n_frames != plate.n_frames:
        raise InputError(
            f"matte {info.path} has {info.n_frames} frames ({_span(info)}) but plate {plate.path} "
            f"has {plate.n_frames} ({_span(plate)})"
        )
    return _channel(read_frames(info), channel, info.path, info.frames)


def alpha_of(frame: np.ndarray, info: ClipInfo, number: int | None = None) -> np.ndarray:
    """The plate's own alpha as a matte, for callers that already hold the frame (saves reading it twice);
    `number` only labels error messages."""
    if not info.has_alpha:
        raise InputError(f"{info.path} has no alpha channel to use as the matte; give a matte file")
    return _as_matte(frame[:, :, info.alpha_channel], info.path, info.frames[0] if number is None else number)


def _channel(
    frames: Iterator[np.ndarray], channel: int, path: str, numbers: tuple[int, ...]
) -> Iterator[np.ndarray]:
    for number, frame in zip(numbers, frames, strict=True):
        yield _as_matte(frame[:, :, channel], path, number)


def _repeat_still(info: ClipInfo, channel: int, count: int) -> Iterator[np.ndarray]:
    # Read now, not on the first next(): a corrupt still should fail before the caller starts processing.
    still = _as_matte(next(read_frames(info))[:, :, channel], info.path, 0)
    still.flags.writeable = False  # shared by every frame: an in-place edit would leak into the next frame
    return itertools.repeat(still, count)


def _as_matte(values: np.ndarray, path: str, number: int) -> np.ndarray:
    # A copy, so the full [H, W, C] frame it came from can be freed.
    matte = np.array(values, dtype=np.float32, order="C", copy=True)  # [H, W]
    if not np.isfinite(matte).all():
        raise InputError(f"matte {path} has NaN or infinite values at frame {number}")
    # Filtered EXR mattes overshoot slightly (-0.01, 1.02); clip so 1 - matte never goes negative downstream.
    return np.clip(matte, 0.0, 1.0, out=matte)


def _span(info: ClipInfo) -> str:
    return f"{info.frames[0]}-{info.frames[-1]}" if info.frames else "none"
