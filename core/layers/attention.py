"""Multi-head self-attention over a padded token batch, computed by `scaled_dot_product_attention`.

Clips in one batch may hold different numbers of tokens (VHMAE's visible-token count depends on each clip's
matte), so the sequences are right-padded to a common length L and a key-padding mask says which slots are
real. Padding only ever hides *keys*: a padded query row still gets a (meaningless) output, which callers
drop."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Joint self-attention: every token attends to every valid token of its own sequence."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"attention width {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x [B, L, D]; key_padding_mask [B, L] bool, True = a real token that may be attended to.

        Every row of the mask must hold at least one True, else the softmax over no keys is NaN.
        """
        B, L, D = x.shape
        qkv = self.qkv(x).view(B, L, 3, self.heads, D // self.heads)  # [B, L, 3, h, d]
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x [B, h, L, d]
        # SDPA's boolean mask means "may attend"; broadcasting over heads and query rows keeps it at [B, 1, 1,
        # L].
        attn_mask = None if key_padding_mask is None else key_padding_mask[:, None, None, :]
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask)  # [B, h, L, d]
        return self.proj(out.transpose(1, 2).reshape(B, L, D))  # [B, L, D]
