"""Fixed 3D sine-cosine position embeddings for a (T', H', W') token grid (the VideoMAE default is fixed
sin-cos).

The width is split in three equal parts for the time, row and column coordinates; each part is the classic 1D
sin-cos code of its coordinate (half sines, half cosines over geometric frequencies, as in "Attention Is All
You Need"). The table is a deterministic function of the grid, so it is a buffer, never saved or trained."""

from __future__ import annotations

import torch


def sincos_1d(dim: int, positions: torch.Tensor) -> torch.Tensor:
    """positions [L] -> [L, dim] with dim even: [sin(p * w_i), cos(p * w_i)], w_i = 10000^(-i / (dim/2))."""
    if dim % 2:
        raise ValueError(f"a sin-cos code needs an even width, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim // 2))  # [dim/2]
    angles = positions.to(torch.float64)[:, None] * omega[None, :]  # [L, dim/2]
    return torch.cat([angles.sin(), angles.cos()], dim=1)  # [L, dim]


def sincos_3d(dim: int, grid: tuple[int, int, int]) -> torch.Tensor:
    """[T'*H'*W', dim] float32 for the token order of `TubeletEmbed` (time-major, then row, then column)."""
    if dim % 6:
        raise ValueError(f"a 3D sin-cos embedding needs a width divisible by 6, got {dim}")
    part = dim // 3
    t, y, x = torch.meshgrid(*(torch.arange(n) for n in grid), indexing="ij")  # 3 x [T', H', W']
    codes = [sincos_1d(part, c.flatten()) for c in (t, y, x)]  # 3 x [N, dim/3]
    return torch.cat(codes, dim=1).float()  # [N, dim]
