"""A per-token colour transform: what VHMAE's head predicts when it repaints by recolouring, not by painting.

The head emits, per token, the 3 x F weights `W` of a residual polynomial colour map of the composite's own
pixels:

    y = x + W phi(x),   phi(x) = (r, g, b, r^2, g^2, b^2, 1)     x, y: one pixel's RGB, working space 0..1

`W = 0` is the identity, so a zero-initialised head starts by returning the composite. The map keeps every
edge and texture of the foreground (it only moves colours), and a smooth function of colour is exactly what
the engine's full-resolution transfer refits and carries to 4K. The squares give each channel a curve (gamma,
contrast, a LUT's bend); the linear part mixes channels (white balance, saturation); the constant shifts."""

from __future__ import annotations

import torch

FEATURES = 7  # r, g, b, r^2, g^2, b^2, 1


def color_features(x: torch.Tensor) -> torch.Tensor:
    """x [..., 3] -> phi(x) [..., 7]."""
    return torch.cat([x, x * x, torch.ones_like(x[..., :1])], dim=-1)


def apply_color_transform(pixels: torch.Tensor, weights: torch.Tensor, channels: int = 3) -> torch.Tensor:
    """Recolour token pixels with their transforms.

    pixels  [B, N, C*K]   tokens' pixels in (C, t, p, p) order, K = t*p*p (the layout of `patchify`)
    weights [B, N, C*F]   row-major 3 x 7 weights per token
    returns [B, N, C*K]   x + W phi(x), per pixel
    """
    B, N, P = pixels.shape
    x = pixels.view(B, N, channels, P // channels).transpose(-1, -2)  # [B, N, K, C]
    w = weights.view(B, N, channels, FEATURES)  # [B, N, C, F]
    y = x + color_features(x) @ w.transpose(-1, -2)  # [B, N, K, C]
    return y.transpose(-1, -2).reshape(B, N, P)


def pool_over_foreground(weights: torch.Tensor, fg: torch.Tensor) -> torch.Tensor:
    """weights [B, N, D], fg [B, N] bool -> every token gets the mean of its clip's foreground-token weights.

    One transform per window: a recolouring that covers the whole foreground (a LUT, a grade, a wrong white
    balance) is one transform, and averaging many tokens' estimates of it cancels their individual noise.
    """
    f = fg[..., None].to(weights.dtype)  # [B, N, 1]
    mean = (weights * f).sum(1, keepdim=True) / f.sum(1, keepdim=True).clamp(min=1.0)  # [B, 1, D]
    return mean.expand_as(weights)
