"""The flow convention: warp(frame_t, flow_t) ~= frame_t+1, flow in pixels (dx, dy)."""

from __future__ import annotations

import torch

from vh.training.flow import warp


def test_integer_translation_is_exact_and_direction_is_backward():
    frame_t = torch.rand(1, 3, 12, 16)
    # the content moves 2 px right and 1 px down from t to t+1: frame_t1(p) = frame_t(p - (2, 1))
    frame_t1 = torch.zeros_like(frame_t)
    frame_t1[..., 1:, 2:] = frame_t[..., :-1, :-2]
    flow = torch.zeros(1, 2, 12, 16)
    flow[:, 0], flow[:, 1] = -2.0, -1.0
    out = warp(frame_t, flow)
    assert torch.allclose(out[..., 1:, 2:], frame_t1[..., 1:, 2:], atol=1e-6)


def test_leading_dims_and_gradients():
    frames = torch.rand(2, 3, 3, 8, 8, requires_grad=True)  # [B, T, C, H, W]
    flow = torch.full((2, 3, 2, 8, 8), 0.5)
    out = warp(frames, flow)
    assert out.shape == frames.shape
    out.sum().backward()
    assert frames.grad is not None and frames.grad.abs().sum() > 0
