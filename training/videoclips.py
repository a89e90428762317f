"""HYouTube-style clips from real videos with masks (DAVIS): real motion, one recolouring for the whole clip.

A window of T consecutive frames is cropped to a square around the object (one box for the whole window, so
the camera motion stays the video's own) and resized; the composite is the same frames with the foreground
recoloured by one transform bound to the first frame, exactly as HYouTube applies one LUT per clip. Real
videos have no exact flow, so these clips carry none (`TrainingClip.flow is None`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vh.core.errors import InputError
from vh.core.options import option
from vh.training.datasets.davis import DavisSequence
from vh.training.recolor import Recolor
from vh.training.training_clip import TrainingClip


@dataclass
class VideoClipConfig:
    frames: int = 8
    size: int = 256
    stride: int = option(1, help="frame step inside a window (2 doubles the apparent motion)", min=1)
    crop_min: float = option(0.7, help="crop side as a fraction of the frame's short side", min=0.05, max=1.0)


def make_video_clip(
    sequence: DavisSequence,
    recolor: Recolor,
    rng: np.random.Generator,
    config: VideoClipConfig | None = None,
    start: int | None = None,
) -> TrainingClip:
    import cv2

    config = config or VideoClipConfig()
    span = (config.frames - 1) * config.stride + 1
    if len(sequence) < span:
        raise InputError(f"sequence {sequence.name} has {len(sequence)} frames; a clip needs {span}")
    if start is None:
        start = int(rng.integers(0, len(sequence) - span + 1))
    indices = [start + i * config.stride for i in range(config.frames)]
    first, first_mask = sequence.read(indices[0])
    h, w = first.shape[:2]
    short = min(h, w)
    side = round(rng.uniform(config.crop_min, 1.0) * short)
    ys, xs = np.nonzero(first_mask > 0.5)
    center = np.array([xs.mean(), ys.mean()]) if len(xs) else np.array([w / 2, h / 2])
    center = center + rng.uniform(-0.15, 0.15, 2) * side
    x0 = int(np.clip(round(center[0] - side / 2), 0, w - side))
    y0 = int(np.clip(round(center[1] - side / 2), 0, h - side))
    fn = recolor.bind(first[y0 : y0 + side, x0 : x0 + side], first_mask[y0 : y0 + side, x0 : x0 + side])

    n, s = config.frames, config.size
    comp = np.empty((n, s, s, 3), np.float32)
    real = np.empty((n, s, s, 3), np.float32)
    matte = np.empty((n, s, s), np.float32)
    for t, index in enumerate(indices):
        frame, mask = (first, first_mask) if t == 0 else sequence.read(index)
        crop = frame[y0 : y0 + side, x0 : x0 + side]
        mcrop = mask[y0 : y0 + side, x0 : x0 + side]
        real[t] = cv2.resize(crop, (s, s), interpolation=cv2.INTER_AREA)
        matte[t] = np.clip(cv2.resize(mcrop, (s, s), interpolation=cv2.INTER_AREA), 0.0, 1.0)
        alpha = matte[t][:, :, None]
        comp[t] = alpha * fn(real[t]) + (1.0 - alpha) * real[t]
    meta = {
        "source": sequence.name,
        "kind": "video",
        "frames": indices,
        "crop": [x0, y0, side],
        "recolor": recolor.describe(),
    }
    return TrainingClip(f"{sequence.name}-{start:05d}", comp, real, matte, None, meta)
