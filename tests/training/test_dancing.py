"""The dancing-video builder: exact flow, the clip's geometry and determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vh.core.errors import InputError
from vh.training.dancing import DancingConfig, make_dancing_clip
from vh.training.flow import warp
from vh.training.recolor import Recolor, sample_recolor


def textured_pair(h: int = 120, w: int = 160, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A smooth (band-limited) random texture, so bilinear resampling error stays small and the test is
    sharp."""
    import cv2

    rng = np.random.default_rng(seed)
    image = cv2.resize(
        rng.uniform(0, 1, (h // 12, w // 12, 3)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC
    )
    yy, xx = np.mgrid[0:h, 0:w]
    mask = (((xx - w * 0.5) / (w * 0.22)) ** 2 + ((yy - h * 0.5) / (h * 0.3)) ** 2 < 1).astype(np.float32)
    return np.clip(image, 0, 1), mask


def clip_errors(clip, flow: np.ndarray) -> tuple[float, float]:
    """Mean |warp(real_t, flow_t) - real_t+1| on the foreground interior, for foreground pixels in view."""
    real = torch.from_numpy(clip.real.transpose(0, 3, 1, 2))  # [T, 3, S, S]
    matte = torch.from_numpy(clip.matte[:, None])  # [T, 1, S, S]
    warped = warp(real[:-1], torch.from_numpy(flow))  # [T-1, 3, S, S]
    # interior of the foreground in frame t+1 (2 px from its edge), whose source point is inside frame t
    inner = -torch.nn.functional.max_pool2d(-matte[1:], 5, 1, 2) > 0.999  # [T-1, 1, S, S]
    s = real.shape[-1]
    ys, xs = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    fx, fy = xs + torch.from_numpy(flow[:, 0]), ys + torch.from_numpy(flow[:, 1])
    in_view = ((fx >= 0) & (fx <= s - 1) & (fy >= 0) & (fy <= s - 1))[:, None]
    sel = (inner & in_view).expand_as(warped)
    err = (warped - real[1:]).abs()[sel]
    return float(err.mean()), float(err.quantile(0.99))


def test_flow_warps_frame_t_onto_frame_t_plus_1():
    image, mask = textured_pair()
    rng = np.random.default_rng(1)
    config = DancingConfig(frames=5, size=96, max_rotation=3.0, max_shift=0.03)
    clip = make_dancing_clip(image, mask, Recolor("adjust", [("exposure", 0.5)]), rng, config)
    assert clip.flow.shape == (4, 2, 96, 96) and clip.flow.dtype == np.float32
    mean, p99 = clip_errors(clip, clip.flow)
    # bilinear-of-bilinear resampling of a smooth texture: well under one 8-bit step on average
    assert mean < 2e-3 and p99 < 1e-2, (mean, p99)
    # the bound is tight: a flow off by a quarter pixel, or no flow at all, fails it by far
    off_mean, _ = clip_errors(clip, clip.flow + 0.25)
    zero_mean, _ = clip_errors(clip, np.zeros_like(clip.flow))
    assert off_mean > 4 * mean and zero_mean > 10 * mean and np.abs(clip.flow).max() > 0.5
    # float16 storage (as on disk) keeps the bound
    mean16, _ = clip_errors(clip, clip.flow.astype(np.float16).astype(np.float32))
    assert mean16 < 2e-3


def test_first_real_frame_is_the_photo_and_background_is_kept():
    image, mask = textured_pair()
    clip = make_dancing_clip(
        image,
        mask,
        Recolor("adjust", [("hue", 40.0)]),
        np.random.default_rng(2),
        DancingConfig(frames=3, size=64),
    )
    assert clip.comp.shape == clip.real.shape == (3, 64, 64, 3) and clip.matte.shape == (3, 64, 64)
    bg = clip.matte == 0
    assert np.array_equal(clip.comp[bg], clip.real[bg])  # only the foreground is recoloured
    fg = clip.matte == 1
    assert np.abs(clip.comp[fg] - clip.real[fg]).mean() > 0.02
    assert 0.1 < clip.matte[0].mean() < 0.6


def test_same_seed_same_clip_and_tiny_masks_rejected():
    image, mask = textured_pair()
    a = make_dancing_clip(
        image, mask, sample_recolor(np.random.default_rng(5), ("adjust",)), np.random.default_rng(7)
    )
    b = make_dancing_clip(
        image, mask, sample_recolor(np.random.default_rng(5), ("adjust",)), np.random.default_rng(7)
    )
    assert np.array_equal(a.comp, b.comp) and np.array_equal(a.flow, b.flow)
    with pytest.raises(InputError, match="min_coverage"):
        make_dancing_clip(image, np.zeros_like(mask), Recolor("adjust", []), np.random.default_rng(0))
    with pytest.raises(InputError, match="image is 160x120, mask 10x10"):
        make_dancing_clip(
            image, np.ones((10, 10), np.float32), Recolor("adjust", []), np.random.default_rng(0)
        )
