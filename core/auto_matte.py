"""The auto matte: a detector's per-frame disharmony maps, cleaned into a matte a compositor would accept.

A pixel-wise detector (Huang et al.'s D) answers each frame on its own: its map flickers, leaks speckles into
the background and has a hard, aliased edge at the working resolution. Frame by frame, in clip order:

    smoothed_t = a * smoothed_{t-1} + (1 - a) * map_t      temporal smoothing (causal, so it streams)
    region     = smoothed_t > threshold                     1 = disharmonious: the part to repaint
    region     = components >= keep * the largest            speckles and small false alarms go
    matte      = gaussian(region, feather)                   a soft edge, as a keyer would give

A frame whose region is empty has *no* disharmony the detector is sure of: the engine passes it through
unchanged (and says so once per clip), rather than repainting on a guess."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vh.core.errors import InputError

SNAP = 1.0 / 1024  # matte values this close to 0 or 1 become exactly 0 or 1


@dataclass
class AutoMatteConfig:
    #: level of the smoothed map that counts as disharmonious; shipped detectors carry a calibrated value
    threshold: float = 0.5
    #: weight of the past in the temporal smoothing (0: none); 0.5 halves a one-frame flash
    smoothing: float = 0.5
    #: components smaller than this fraction of the largest are dropped
    keep: float = 0.25
    #: a region smaller than this fraction of the frame is no detection at all
    min_area: float = 0.002
    #: edge softness: Gaussian sigma as a fraction of the frame's long side
    feather: float = 0.008

    def validate(self) -> None:
        ranges = {
            "threshold": (0.0, 1.0),
            "smoothing": (0.0, 0.99),
            "keep": (0.0, 1.0),
            "min_area": (0.0, 1.0),
            "feather": (0.0, 0.2),
        }
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if not low <= value <= high:
                raise InputError(f"auto matte {name} must lie in [{low}, {high}], got {value}")


class AutoMatte:
    """Cleans one clip's disharmony maps, pushed in frame order: `matte = auto(map)`, both float32 [h, w]
    0..1."""

    def __init__(self, config: AutoMatteConfig | None = None) -> None:
        self.config = config or AutoMatteConfig()
        self.config.validate()
        self._smoothed: np.ndarray | None = None
        self.frames = 0  # frames cleaned
        self.empty = 0  # of those, frames with no confident region

    def __call__(self, soft: np.ndarray) -> np.ndarray:
        c = self.config
        soft = np.clip(np.asarray(soft, np.float32), 0.0, 1.0)  # [h, w]
        if self._smoothed is None or self._smoothed.shape != soft.shape:
            self._smoothed = soft
        else:
            self._smoothed = c.smoothing * self._smoothed + (1.0 - c.smoothing) * soft
        region = self.largest_regions(self._smoothed > c.threshold)  # [h, w] bool
        self.frames += 1
        if not region.any():
            self.empty += 1
            return np.zeros_like(soft)
        sigma = c.feather * max(soft.shape)
        matte = region.astype(np.float32)
        if sigma >= 0.3:  # below a third of a pixel a blur only smears rounding error
            matte = cv2.GaussianBlur(matte, (0, 0), sigma)
            # the Gaussian's far tail would touch every background pixel by 1e-14: snap it, so that what lies
            # outside the feather keeps its exact bits and what lies inside is repainted fully
            matte[matte < SNAP] = 0.0
            matte[matte > 1.0 - SNAP] = 1.0
        return matte

    def largest_regions(self, binary: np.ndarray) -> np.ndarray:
        """The connected components of `binary` [h, w] that are large, absolutely and next to the largest."""
        count, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
        if count <= 1:
            return np.zeros(binary.shape, bool)
        areas = stats[1:, cv2.CC_STAT_AREA]  # [count - 1], label 0 is the background
        floor = max(self.config.keep * areas.max(), self.config.min_area * binary.size)
        kept = np.flatnonzero(areas >= floor) + 1
        return np.isin(labels, kept)
