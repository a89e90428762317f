"""A training clip in memory: what the builders produce, the writer stores and the loaders batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class TrainingClip:
    """T frames at one size, float32, sRGB-encoded 0..1 (host layout, channels last)."""

    name: str
    comp: np.ndarray  # [T, H, W, 3] recoloured foreground over the background
    real: np.ndarray  # [T, H, W, 3] ground truth
    matte: np.ndarray  # [T, H, W] 1 = foreground
    #: [T-1, 2, H, W] backward flow in pixels, warp(frame_t, flow_t) ~ frame_t+1; None: no exact flow known.
    flow: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # JSON-able provenance (source, recolour, seed)

    def __len__(self) -> int:
        return self.comp.shape[0]

    def to_sample(self, with_flow: bool = False) -> dict[str, torch.Tensor]:  # noqa: F821
        """Channels-first tensors of the batch format (without the batch dim): comp/real [T, 3, H, W], ..."""
        import torch

        sample = {
            "comp": torch.from_numpy(np.ascontiguousarray(self.comp.transpose(0, 3, 1, 2))),  # [T, 3, H, W]
            "real": torch.from_numpy(np.ascontiguousarray(self.real.transpose(0, 3, 1, 2))),  # [T, 3, H, W]
            "matte": torch.from_numpy(np.ascontiguousarray(self.matte[:, None])),  # [T, 1, H, W]
        }
        if with_flow:
            # Clips with no exact flow (real video) batch with those that have it: zero flow, marked invalid,
            # so that a temporal loss skips them instead of trusting a made-up motion.
            t, _, h, w = sample["comp"].shape
            valid = self.flow is not None
            flow = self.flow if valid else np.zeros((t - 1, 2, h, w), np.float32)
            sample["flow"] = torch.from_numpy(np.ascontiguousarray(flow, dtype=np.float32))  # [T-1, 2, H, W]
            sample["flow_valid"] = torch.full((t - 1,), float(valid))  # [T-1], 1 = exact flow
        return sample
