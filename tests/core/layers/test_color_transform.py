from __future__ import annotations

import torch

from vh.core.layers.color_transform import FEATURES, apply_color_transform, pool_over_foreground
from vh.core.layers.tubelet_embed import patchify, unpatchify


def test_zero_weights_are_the_identity_and_weights_act_per_pixel():
    video = torch.rand(2, 2, 3, 8, 8)  # [B, T, C, H, W]
    pixels = patchify(video, 2, 4)  # [B, N, C*K]
    zero = torch.zeros(2, pixels.shape[1], 3 * FEATURES)
    assert torch.equal(apply_color_transform(pixels, zero), pixels)
    w = torch.zeros(3, FEATURES)
    w[0, 0] = 1.0  # r' = r + r
    w[2, 3 + 2] = -0.5  # b' = b - 0.5 b^2
    w[1, 6] = 0.1  # g' = g + 0.1
    out = unpatchify(apply_color_transform(pixels, w.flatten().expand_as(zero).contiguous()), (1, 2, 2), 2, 4)
    r, g, b = video[:, :, 0], video[:, :, 1], video[:, :, 2]
    assert torch.allclose(out[:, :, 0], 2 * r, atol=1e-6)
    assert torch.allclose(out[:, :, 1], g + 0.1, atol=1e-6)
    assert torch.allclose(out[:, :, 2], b - 0.5 * b * b, atol=1e-6)


def test_pool_gives_every_token_its_clips_foreground_mean():
    weights = torch.arange(8.0).view(2, 4, 1)  # [B, N, D]
    fg = torch.tensor([[True, False, True, False], [False, False, False, False]])
    pooled = pool_over_foreground(weights, fg)
    assert torch.equal(pooled[0, :, 0], torch.full((4,), 1.0))  # mean of tokens 0 and 2
    assert torch.equal(pooled[1, :, 0], torch.zeros(4))  # no foreground: zero, i.e. the identity
