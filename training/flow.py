"""Backward optical flow as used in training batches, and the differentiable warp that consumes it.

Convention (shared by the dancing-video builder, the loader and the losses): `flow[t]` is [2, H, W] in pixels
(dx, dy) such that sampling frame t at p + flow[t](p) reproduces frame t+1 at p:

    warp(frame_t, flow_t) ~= frame_{t+1}
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def warp(image: torch.Tensor, flow: torch.Tensor, padding_mode: str = "border") -> torch.Tensor:
    """Sample `image` [N, C, H, W] at p + flow(p), flow [N, 2, H, W] in pixels; bilinear, differentiable.

    Leading batch dims are allowed (e.g. [B, T, C, H, W] with flow [B, T, 2, H, W]); they are flattened.
    """
    lead = image.shape[:-3]
    c, h, w = image.shape[-3:]
    img = image.reshape(-1, c, h, w)  # [N, C, H, W]
    flo = flow.reshape(-1, 2, h, w).to(img.dtype)  # [N, 2, H, W]
    ys, xs = torch.meshgrid(
        torch.arange(h, device=img.device, dtype=img.dtype),
        torch.arange(w, device=img.device, dtype=img.dtype),
        indexing="ij",
    )
    x = xs + flo[:, 0]  # [N, H, W] source x in pixels
    y = ys + flo[:, 1]
    # align_corners=True maps -1/+1 to the centres of the edge pixels, i.e. pixel index 0 and W-1.
    grid = torch.stack((2.0 * x / max(w - 1, 1) - 1.0, 2.0 * y / max(h - 1, 1) - 1.0), dim=-1)  # [N, H, W, 2]
    out = F.grid_sample(img, grid, mode="bilinear", padding_mode=padding_mode, align_corners=True)
    return out.reshape(*lead, c, h, w)
