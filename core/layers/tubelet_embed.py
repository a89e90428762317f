"""Tubelet embedding: cut a clip into non-overlapping t x p x p cubes and project each to a D-dim token.

A Conv3d whose kernel equals its stride is exactly a shared linear layer on the flattened cube ("MLP(768)
stride 2x16x16" in VHMAE's Table 1); the convolution is simply the fastest way to run it.
Tokens are ordered time-major, then row, then column: index = (t * Hp + y) * Wp + x.
"""

from __future__ import annotations

import torch
from torch import nn


class TubeletEmbed(nn.Module):
    def __init__(self, in_chans: int, dim: int, tubelet: int, patch: int) -> None:
        super().__init__()
        self.tubelet, self.patch = tubelet, patch
        self.proj = nn.Conv3d(
            in_chans, dim, kernel_size=(tubelet, patch, patch), stride=(tubelet, patch, patch)
        )

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """video [B, T, C, H, W] -> tokens [B, (T/t)*(H/p)*(W/p), D]."""
        x = self.proj(video.transpose(1, 2))  # [B, D, T/t, H/p, W/p]
        return x.flatten(2).transpose(1, 2)  # [B, N, D]


def patchify(video: torch.Tensor, tubelet: int, patch: int) -> torch.Tensor:
    """video [B, T, C, H, W] -> per-token pixels [B, N, C*t*p*p], in the token order of `TubeletEmbed`.

    Within a token the pixels are ordered (C, t, p, p), the layout the reconstruction head writes.
    """
    B, T, C, H, W = video.shape
    x = video.reshape(B, T // tubelet, tubelet, C, H // patch, patch, W // patch, patch)
    x = x.permute(0, 1, 4, 6, 3, 2, 5, 7)  # [B, Tt, Hp, Wp, C, t, p, p]
    return x.reshape(B, (T // tubelet) * (H // patch) * (W // patch), C * tubelet * patch * patch)


def unpatchify(tokens: torch.Tensor, grid: tuple[int, int, int], tubelet: int, patch: int) -> torch.Tensor:
    """tokens [B, N, C*t*p*p] -> video [B, T, C, H, W]; the exact inverse of `patchify` for grid (Tt, Hp,
    Wp)."""
    B, _, K = tokens.shape
    Tt, Hp, Wp = grid
    C = K // (tubelet * patch * patch)
    x = tokens.reshape(B, Tt, Hp, Wp, C, tubelet, patch, patch)
    x = x.permute(0, 1, 5, 4, 2, 6, 3, 7)  # [B, Tt, t, C, Hp, p, Wp, p]
    return x.reshape(B, Tt * tubelet, C, Hp * patch, Wp * patch)


def token_mask(matte: torch.Tensor, tubelet: int, patch: int, threshold: float = 0.5) -> torch.Tensor:
    """matte [B, T, 1, H, W] -> [B, N] bool, True where any matte pixel of the tubelet exceeds `threshold`.

    "Any pixel" (a max-pool, not a mean) makes sure every pixel that is mostly foreground gets repainted.
    """
    pooled = torch.nn.functional.max_pool3d(
        matte.transpose(1, 2), kernel_size=(tubelet, patch, patch), stride=(tubelet, patch, patch)
    )  # [B, 1, T/t, H/p, W/p]
    return pooled.flatten(1) > threshold  # [B, N]
