"""Metrics on cases small enough to compute by hand, plus the protocol's reference row on real data."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vh.core import metrics as M
from vh.core.errors import InputError


def _img(value: float, h: int = 8, w: int = 8) -> np.ndarray:
    return np.full((h, w, 3), value, dtype=np.float64)


def _textured(h: int = 32, w: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = cv2_blur(rng.uniform(40, 200, (h, w, 3)))
    return base


def cv2_blur(a: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(a, (7, 7), 2.0)


class TestPerFrame:
    def test_mse_of_constant_offset_is_its_square(self):
        assert M.mse(_img(102), _img(100)) == pytest.approx(4.0)

    def test_fmse_with_half_mask(self):
        gt = _img(100)
        pred = gt.copy()
        mask = np.zeros((8, 8), bool)
        mask[:, :4] = True  # 32 foreground pixels
        pred[mask] += 2.0  # error only in the foreground
        # total squared error 32 px * 3 ch * 4 = 384; / (3 * 32) = 4
        assert M.fmse(pred, gt, mask) == pytest.approx(4.0)
        # the whole-image MSE halves it
        assert M.mse(pred, gt) == pytest.approx(2.0)

    def test_fmse_counts_background_error_too(self):
        gt = _img(100)
        pred = gt + 1.0  # error everywhere: 64 px * 3 * 1 = 192
        mask = np.zeros((8, 8), bool)
        mask[:2, :2] = True  # 4 fg px -> 192 / 12 = 16
        assert M.fmse(pred, gt, mask) == pytest.approx(16.0)

    def test_fmse_of_empty_mask(self):
        empty = np.zeros((8, 8), bool)
        assert M.fmse(_img(5), _img(5), empty) == 0.0
        assert M.fmse(_img(6), _img(5), empty) == math.inf

    def test_psnr_of_offset(self):
        assert M.psnr(_img(102), _img(100)) == pytest.approx(10 * math.log10(255**2 / 4))
        assert M.psnr(_img(100), _img(100)) == math.inf

    def test_ssim_of_identical_images_is_one(self):
        a = _textured()
        mask = np.ones(a.shape[:2], bool)
        assert M.fssim(a, a, mask) == pytest.approx(1.0)
        assert np.allclose(M.ssim_map(a, a), 1.0)

    def test_ssim_of_constant_images_by_hand(self):
        # flat images: variances and covariance are 0, so SSIM = (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1)
        c1 = (0.01 * 255) ** 2
        expected = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
        assert M.fssim(_img(100), _img(110), np.ones((8, 8), bool)) == pytest.approx(expected)

    def test_fssim_averages_only_inside_the_mask(self):
        gt = _textured(seed=1)
        pred = gt.copy()
        pred[:, 16:] = _textured(seed=2)[:, 16:]  # right half wrong
        left = np.zeros(gt.shape[:2], bool)
        left[:, :8] = True  # far from the wrong half (window radius 5)
        assert M.fssim(pred, gt, left) == pytest.approx(1.0)
        right = ~left
        assert M.fssim(pred, gt, right) < 0.9
        assert math.isnan(M.fssim(pred, gt, np.zeros_like(left)))

    def test_shape_mismatch_is_an_input_error(self):
        with pytest.raises(InputError):
            M.mse(_img(1, 8, 8), _img(1, 8, 9))
        with pytest.raises(InputError):
            M.fmse(_img(1), _img(1), np.ones((4, 4), bool))


class TestResize:
    def test_mask_threshold_is_strictly_above_127(self):
        mask = np.array([[127, 128], [0, 255]], np.uint8)
        out = M.resize_mask(mask, 2)
        assert out.tolist() == [[False, True], [False, True]]

    def test_resize_goes_to_square_eval_size(self):
        img = np.zeros((48, 80, 3), np.uint8)
        assert M.resize_image(img, 16).shape == (16, 16, 3)
        assert M.resize_mask(np.zeros((48, 80), np.uint8), 16).shape == (16, 16)


def _static_clip(t: int | None = None, offsets=None):
    t = t if t is not None else (len(offsets) if offsets is not None else 4)
    gt = _textured(48, 48, seed=3)
    mask = np.zeros((48, 48), bool)
    mask[12:36, 12:36] = True
    gts = [gt.copy() for _ in range(t)]
    offsets = offsets if offsets is not None else [0.0] * t
    preds = [gt + o * mask[..., None] for o in offsets]
    return preds, gts, [mask] * t


class TestTemporal:
    def test_static_video_with_static_prediction_has_zero_tl(self):
        preds, gts, masks = _static_clip(offsets=[7.0] * 4)  # wrong colour, but steady
        assert M.temporal_loss(preds, gts, masks) == pytest.approx(0.0, abs=1e-6)

    def test_tl_of_alternating_offset_on_static_video(self):
        # static video: the flow is zero, the weight is the mask; the prediction jumps by 2d every frame
        d = 3.0
        preds, gts, masks = _static_clip(offsets=[d, -d, d, -d])
        flows = [np.zeros((48, 48, 2), np.float32)] * 3
        assert M.temporal_loss(preds, gts, masks, flows) == pytest.approx((2 * d) ** 2, rel=1e-4)

    def test_dis_flow_of_a_static_video_is_zero(self):
        _, gts, _ = _static_clip()
        assert np.abs(M.gt_flow(gts[1], gts[0])).max() < 1e-3

    def test_warp_follows_the_backward_flow_convention(self):
        # a shift right by 2 px: frame t+1 at p is frame t at p - (2, 0), so flow = (-2, 0)
        frame0 = _textured(32, 32, seed=4).astype(np.float32)
        flow = np.zeros((32, 32, 2), np.float32)
        flow[..., 0] = -2.0
        warped = M.warp(frame0, flow)
        assert np.allclose(warped[:, 2:], frame0[:, :-2])

    def test_flicker_of_constant_offset_is_zero(self):
        preds, gts, masks = _static_clip(offsets=[5.0] * 5)
        assert M.flicker(preds, gts, masks) == pytest.approx(0.0, abs=1e-9)

    def test_flicker_of_alternating_offset(self):
        d = 4.0
        preds, gts, masks = _static_clip(offsets=[d, -d, d, -d, d])
        assert M.flicker(preds, gts, masks) == pytest.approx(2 * d)

    def test_flicker_ignores_changes_the_real_video_has(self):
        # the ground truth brightens by 10 per frame and so does the prediction: no flicker
        preds, _gts, masks = _static_clip(offsets=[0, 10, 20, 30])
        assert M.flicker(preds, [p.copy() for p in preds], masks) == pytest.approx(0.0)

    def test_clip_length_mismatch(self):
        preds, gts, masks = _static_clip()
        with pytest.raises(InputError):
            M.temporal_loss(preds[:-1], gts, masks)


class TestAggregation:
    def test_clip_scores_average_frames_and_mean_scores_average_clips(self):
        preds, gts, masks = _static_clip(offsets=[2.0, 2.0, 2.0])
        s = M.clip_scores(preds, gts, masks)
        fg_fraction = masks[0].mean()
        assert s.mse == pytest.approx(4.0 * fg_fraction)
        assert s.fmse == pytest.approx(4.0)
        assert s.flicker == pytest.approx(0.0, abs=1e-9)
        other = M.Scores(mse=0.0, fmse=0.0, psnr=40.0, fssim=1.0, tl=0.0, flicker=math.nan)
        mean = M.mean_scores([s, other])
        assert mean.fmse == pytest.approx(2.0)
        assert mean.flicker == pytest.approx(0.0, abs=1e-9)  # NaN clip skipped
