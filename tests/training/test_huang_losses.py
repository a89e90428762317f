"""Huang et al. 2019, Eqs. (1) and (2), each against a value worked out by hand on a tiny tensor, and the warp
S against an exact affine motion."""

import math

import numpy as np
import pytest
import torch

from vh.training.flow import warp
from vh.training.losses.huang import (
    LAMBDA_ADVERSARIAL,
    LAMBDA_TEMPORAL,
    adversarial_loss,
    discriminator_loss,
    generator_loss,
    reconstruction_loss,
    regional_temporal_loss,
)


def t(rows) -> torch.Tensor:
    """[[...]] -> [1, 1, H, W]."""
    return torch.tensor(rows, dtype=torch.float32)[None, None]


# ---- Eq. (1) -----------------------------------------------------------------------------------------------


def test_discriminator_loss_by_hand():
    m = t([[1, 0], [0, 0]])  # N = 4
    d_out = t([[0.5, 0], [0, 0.5]])  # (0.25 + 0.25) / 8 = 0.0625
    d_in = t([[1, 0.5], [0, 0]])  # 0.25 / 8 = 0.03125
    d_real = t([[0.5, 0], [0, 0]])  # 0.25 / 4 = 0.0625
    assert discriminator_loss(d_out, d_in, d_real, m).item() == pytest.approx(0.15625)


def test_discriminator_loss_is_zero_for_the_ideal_discriminator():
    # Ideal D: foreground of O and I labelled 1 (O_t's target is M_t, as in the paper), all of X labelled 0.
    m = t([[1, 1], [0, 0]])
    assert discriminator_loss(m, m, torch.zeros_like(m), m).item() == 0.0
    # ... and pushing D(O_t) to 0 (the "fooled" answer) is penalised by D's own loss: 2 fg pixels / 2N = 0.25
    assert discriminator_loss(torch.zeros_like(m), m, torch.zeros_like(m), m).item() == pytest.approx(0.25)


def test_discriminator_loss_averages_samples():
    m = torch.zeros(2, 1, 2, 2)
    d_real = torch.stack([torch.zeros(1, 2, 2), torch.ones(1, 2, 2)])  # sample 0: 0, sample 1: 4/4 = 1
    zero = torch.zeros(2, 1, 2, 2)
    assert discriminator_loss(zero, zero, d_real, m).item() == pytest.approx(0.5)


# ---- Eq. (2) -----------------------------------------------------------------------------------------------


def test_reconstruction_loss_sums_channels_over_pixels():
    o = torch.full((1, 3, 1, 2), 0.5)  # N = 2 pixels, 6 elements of squared error 0.25
    x = torch.zeros_like(o)
    assert reconstruction_loss(o, x).item() == pytest.approx(1.5 / 2)


def test_regional_temporal_loss_by_hand_with_a_soft_mask():
    o = torch.zeros(1, 3, 1, 2)
    prev = torch.ones(1, 3, 1, 2)
    flow = torch.zeros(1, 2, 1, 2)  # identity warp
    m = t([[1.0, 0.5]])  # N_F = 1.5; ||M o (O - S(O'))||^2 = 3 * 1 + 3 * 0.25 = 3.75
    assert regional_temporal_loss(o, prev, flow, m).item() == pytest.approx(3.75 / 1.5)


def test_regional_temporal_loss_ignores_the_background():
    o, prev, flow = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2), torch.zeros(1, 2, 2, 2)
    m = t([[1, 0], [0, 0]])
    assert regional_temporal_loss(o, prev, flow, m).item() == pytest.approx(3.0)  # one fg pixel, 3 channels
    assert regional_temporal_loss(o, prev, flow, torch.zeros_like(m)).item() == 0.0  # empty mask: 0, not NaN


def test_regional_temporal_loss_is_zero_for_a_perfectly_consistent_pair():
    # O_{t-1} moves one pixel left between frames: O_t(x) = O_{t-1}(x + 1); the flow says exactly that.
    prev = torch.tensor([[0.1, 0.4, -0.3, 0.8, 0.2]]).expand(3, 1, 5)[None].contiguous()  # [1, 3, 1, 5]
    o = torch.cat([prev[..., 1:], prev[..., -1:]], dim=-1)
    flow = torch.zeros(1, 2, 1, 5)
    flow[:, 0] = 1.0
    m = t([[1, 1, 1, 1, 0]])  # the last pixel came from outside the frame: not foreground
    assert regional_temporal_loss(o, prev, flow, m).item() == pytest.approx(0.0, abs=1e-12)
    # and an inconsistent pair (a flicker of +0.1 on the foreground) costs exactly 3 * 0.01 per fg pixel
    assert regional_temporal_loss(o + 0.1, prev, flow, m).item() == pytest.approx(0.03, rel=1e-5)


def test_adversarial_loss_by_hand():
    assert adversarial_loss(t([[0.5, 1.0]])).item() == pytest.approx((0.25 + 1.0) / 2)


def test_generator_loss_combines_terms_with_the_paper_lambdas():
    assert (LAMBDA_TEMPORAL, LAMBDA_ADVERSARIAL) == (2e-2, 1e-2)
    o = torch.full((1, 3, 1, 2), 0.5)
    x = torch.zeros_like(o)
    prev = torch.full_like(o, 1.5)  # O - S(O') = -1 everywhere
    flow = torch.zeros(1, 2, 1, 2)
    m = t([[1.0, 0.0]])
    d = t([[0.5, 1.0]])
    terms = generator_loss(o, x, prev, flow, m, d)
    assert terms.reconstruction.item() == pytest.approx(0.75)
    assert terms.temporal.item() == pytest.approx(3.0)
    assert terms.adversarial.item() == pytest.approx(0.625)
    assert terms.total.item() == pytest.approx(0.75 + 0.02 * 3.0 + 0.01 * 0.625)
    first = generator_loss(o, x, None, None, m, d)  # the first frame of a pair has no previous output
    assert first.temporal.item() == 0.0
    assert first.total.item() == pytest.approx(0.75 + 0.01 * 0.625)


def test_generator_loss_gradients_reach_both_frames():
    o = torch.zeros(1, 3, 4, 4, requires_grad=True)
    prev = torch.ones(1, 3, 4, 4, requires_grad=True)
    m = torch.ones(1, 1, 4, 4)
    generator_loss(
        o, torch.zeros(1, 3, 4, 4), prev, torch.zeros(1, 2, 4, 4), m, torch.zeros(1, 1, 4, 4)
    ).total.backward()
    assert o.grad.abs().sum() > 0 and prev.grad.abs().sum() > 0


# ---- S: the warp with an exact affine flow -----------------------------------------------------------------


def _texture(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A smooth RGB pattern defined everywhere, so any frame of it can be rendered exactly: [..., 3]."""
    return np.stack(
        [
            0.5 + 0.4 * np.sin(0.11 * x + 0.07 * y),
            0.5 + 0.4 * np.cos(0.05 * x - 0.13 * y),
            0.5 + 0.3 * np.sin(0.09 * (x + y)) * np.cos(0.04 * x),
        ],
        axis=-1,
    )


def affine_pair(h: int = 96, w: int = 128):
    """Frame t and t+1 of a dancing foreground (an ellipse of texture) under a small known affine motion.

    Frame t+1 at p shows the content of frame t at A p + b, so the backward flow is exactly (A - I) p + b.
    """
    ang, scale, shift = math.radians(4.0), 1.03, np.array([2.5, -1.75])
    a = scale * np.array([[math.cos(ang), -math.sin(ang)], [math.sin(ang), math.cos(ang)]])
    centre = np.array([w / 2, h / 2])
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    p = np.stack([xs, ys], axis=-1)  # [H, W, 2]
    src = (p - centre) @ a.T + centre + shift  # where frame t+1's pixel comes from in frame t

    def inside(q):
        return (((q[..., 0] - w / 2) / 36) ** 2 + ((q[..., 1] - h / 2) / 28) ** 2) < 1

    frame0 = _texture(xs, ys)
    frame1 = _texture(src[..., 0], src[..., 1])
    mask1 = inside(src).astype(np.float32)
    flow = (src - p).astype(np.float32)  # [H, W, 2] (dx, dy)

    def as_t(x):
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None]

    return as_t(frame0), as_t(frame1), torch.from_numpy(mask1)[None, None], as_t(flow)


def test_warp_with_an_exact_affine_flow_reproduces_the_next_foreground():
    f0, f1, m1, flow = affine_pair()
    warped = warp(f0, flow)  # [1, 3, H, W]
    err = ((warped - f1).abs() * m1).sum() / (3 * m1.sum())
    # bilinear resampling of a pattern with period >= 48 px: the only error is interpolation, well under 1/255
    assert err.item() < 1e-3
    # the temporal loss of the exactly-moving pair is ~0, and 1000x below that of the unwarped pair
    consistent = regional_temporal_loss(f1, f0, flow, m1).item()
    unwarped = regional_temporal_loss(f1, f0, torch.zeros_like(flow), m1).item()
    assert consistent < 1e-5 and unwarped > 1000 * consistent


def test_warp_with_the_flow_reversed_is_wrong():
    # guards the flow convention: the opposite sign must not also pass
    f0, f1, m1, flow = affine_pair()
    err = ((warp(f0, -flow) - f1).abs() * m1).sum() / (3 * m1.sum())
    assert err.item() > 0.02


def test_warp_with_the_dancing_builders_flow_reproduces_the_next_foreground():
    # The training data's own flow (vh.training.dancing) through S: frame t warped onto frame t+1's
    # foreground.
    import cv2

    from vh.training.dancing import DancingConfig, make_dancing_clip
    from vh.training.recolor import Recolor

    ys, xs = np.mgrid[0:160, 0:200].astype(np.float64)
    image = _texture(xs, ys).astype(np.float32)  # [H, W, 3]
    mask = ((((xs - 100) / 45) ** 2 + ((ys - 80) / 35) ** 2) < 1).astype(np.float32)
    clip = make_dancing_clip(
        image,
        mask,
        Recolor("adjust", adjustments=[("exposure", 0.5)]),
        np.random.default_rng(0),
        DancingConfig(frames=3, size=96),
    )
    sample = clip.to_sample(with_flow=True)  # real [T, 3, S, S], matte [T, 1, S, S], flow [T-1, 2, S, S]
    for t in range(2):
        # inside the foreground, away from its edge where pixels mix with the (separately moving) background
        core = torch.from_numpy(cv2.erode(clip.matte[t + 1], np.ones((5, 5), np.uint8)))[None, None]
        warped = warp(sample["real"][t][None], sample["flow"][t][None])  # [1, 3, S, S]
        err = ((warped - sample["real"][t + 1][None]).abs() * core).sum() / (3 * core.sum())
        still = ((sample["real"][t] - sample["real"][t + 1]).abs()[None] * core).sum() / (3 * core.sum())
        assert err.item() < 2e-3 and still.item() > 10 * err.item(), (err.item(), still.item())
