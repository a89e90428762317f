"""The two-layer GELU perceptron used inside transformer blocks and as VHMAE's projectors."""

from __future__ import annotations

import torch
from torch import nn


class Mlp(nn.Module):
    """Linear(in -> hidden) -> GELU -> Linear(hidden -> out), applied to the last dimension."""

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int | None = None) -> None:
        super().__init__()
        self.fc1 = nn.Linear(in_dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, out_dim if out_dim is not None else in_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))  # [..., out]
