"""A pre-norm ViT block: x + Attn(LN(x)), then x + MLP(LN(x)); padding-aware through the attention's mask."""

from __future__ import annotations

import torch
from torch import nn

from vh.core.layers.attention import Attention
from vh.core.layers.mlp import Mlp


class Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, mlp_dim)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, L, D]; key_padding_mask [B, L] bool, True = real token (see `Attention`)."""
        x = x + self.attn(self.norm1(x), key_padding_mask)  # [B, L, D]
        return x + self.mlp(self.norm2(x))  # [B, L, D]
