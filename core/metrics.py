"""Harmonization quality metrics, exactly as the HYouTube/CO2Net evaluation protocol defines them.

The protocol (spelled out in the data README) is:

- every frame goes to the evaluation size (256x256) with `cv2.resize`: INTER_LINEAR for images, INTER_NEAREST
  for the mask, then mask > 127;
- per-frame metrics are computed on 0..255 RGB, averaged over the frames of a clip, then over clips;
- MSE over all pixels and channels, fMSE = total squared error / (3 x foreground pixels),
  PSNR = 10 log10(255^2 / MSE), fSSIM = the per-channel SSIM map (Gaussian 11x11, sigma 1.5),
  channel-averaged, then averaged inside the mask;
- TL (CO2Net's temporal loss) warps frame t onto t+1 with DIS optical flow of the ground truth and measures
  the prediction's change in the (occlusion-weighted) foreground;
- flicker measures how much the foreground's mean colour jumps beyond what the real video does.

Arrays here are numpy, host side: images `[H, W, 3]` RGB in 0..255 (uint8 or float), masks `[H, W]` bool. All
arithmetic is float64 so that the numbers do not depend on the input dtype.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from vh.core.errors import InputError

#: The protocol's evaluation size (width, height).
EVAL_SIZE = 256

# SSIM constants for 0..255 data (Wang et al. 2004): K1 = 0.01, K2 = 0.03, L = 255.
_C1 = (0.01 * 255.0) ** 2
_C2 = (0.03 * 255.0) ** 2


# ------------------------------------------------------------------------------------------------------------
# Protocol resizing
# ------------------------------------------------------------------------------------------------------------


def resize_image(image: np.ndarray, size: int = EVAL_SIZE) -> np.ndarray:
    """An image at `size`x`size` with bilinear `cv2.resize` (dtype preserved, as OpenCV does)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"expected an RGB image [H, W, 3], got shape {tuple(image.shape)}")
    if image.shape[:2] == (size, size):
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)


def resize_mask(mask: np.ndarray, size: int = EVAL_SIZE) -> np.ndarray:
    """A 0..255 mask at `size`x`size` (nearest neighbour), thresholded at > 127 -> bool [size, size]."""
    if mask.ndim == 3:  # a mask stored as RGB: the protocol reads any channel, they are equal
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise InputError(f"expected a mask [H, W], got shape {tuple(mask.shape)}")
    if mask.shape != (size, size):
        mask = cv2.resize(mask, (size, size), interpolation=cv2.INTER_NEAREST)
    return mask > 127


# ------------------------------------------------------------------------------------------------------------
# Per-frame metrics
# ------------------------------------------------------------------------------------------------------------


def _check_pair(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None) -> None:
    if pred.shape != gt.shape or pred.ndim != 3 or pred.shape[2] != 3:
        raise InputError(
            f"prediction {tuple(pred.shape)} and ground truth {tuple(gt.shape)} must both be [H, W, 3]"
        )
    if mask is not None and mask.shape != pred.shape[:2]:
        raise InputError(f"mask {tuple(mask.shape)} does not match the image size {tuple(pred.shape[:2])}")


def _sq_err(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    d = pred.astype(np.float64) - gt.astype(np.float64)  # [H, W, 3]
    return d * d


def mse(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean squared error over all pixels and channels (0..255 scale)."""
    _check_pair(pred, gt)
    return float(_sq_err(pred, gt).mean())


def fmse(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Foreground MSE: total squared error / (3 x foreground pixels).

    The total runs over the whole image, as the protocol says; a model that keeps the background (as every vh
    model does) has zero error there, so this is the mean error inside the mask. A frame with an empty mask
    has no foreground to judge: its fMSE is 0 when the images agree and +inf otherwise, so the case cannot
    hide."""
    _check_pair(pred, gt, mask)
    total = float(_sq_err(pred, gt).sum())
    fg = int(np.count_nonzero(mask))
    if fg == 0:
        return 0.0 if total == 0.0 else math.inf
    return total / (3.0 * fg)


def psnr(pred: np.ndarray, gt: np.ndarray) -> float:
    """10 log10(255^2 / MSE) in dB; +inf for identical images."""
    err = mse(pred, gt)
    return math.inf if err == 0.0 else 10.0 * math.log10(255.0**2 / err)


def ssim_map(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The SSIM map [H, W] on 0..255 RGB: per channel with an 11x11 Gaussian window (sigma 1.5), channel
    mean."""
    _check_pair(pred, gt)
    x = pred.astype(np.float64)  # [H, W, 3]
    y = gt.astype(np.float64)  # [H, W, 3]

    def blur(a: np.ndarray) -> np.ndarray:
        # default border (BORDER_REFLECT_101), as the protocol specifies; GaussianBlur filters channels
        # separately
        return cv2.GaussianBlur(a, (11, 11), 1.5)

    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x * mu_x
    var_y = blur(y * y) - mu_y * mu_y
    cov = blur(x * y) - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + _C1) * (2.0 * cov + _C2)
    den = (mu_x * mu_x + mu_y * mu_y + _C1) * (var_x + var_y + _C2)
    return (num / den).mean(axis=2)  # [H, W]


def fssim(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """Foreground SSIM: the channel-mean SSIM map averaged inside the mask; NaN for an empty mask (there is
    nothing to judge, and 1.0 would flatter the model)."""
    _check_pair(pred, gt, mask)
    if not mask.any():
        return math.nan
    return float(ssim_map(pred, gt)[mask].mean())


# ------------------------------------------------------------------------------------------------------------
# Temporal metrics (whole clip)
# ------------------------------------------------------------------------------------------------------------


def _gray(image: np.ndarray) -> np.ndarray:
    """8-bit luma for DIS (which takes single-channel uint8)."""
    if image.dtype != np.uint8:
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def gt_flow(gt_next: np.ndarray, gt_prev: np.ndarray) -> np.ndarray:
    """Backward flow [H, W, 2] (dx, dy) such that sampling frame t at p + flow(p) reproduces frame t+1 at p.

    DIS `calc(I0, I1)` finds `I0(p) ~ I1(p + flow(p))`; with I0 = gray(gt[t+1]) and I1 = gray(gt[t]) that is
    exactly the warp from t onto t+1.
    """
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return dis.calc(_gray(gt_next), _gray(gt_prev), None)  # [H, W, 2] float32


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """Sample `image` at p + flow(p): bilinear, border replicate (float32 result)."""
    h, w = flow.shape[:2]
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))  # [H, W] each
    map_x = gx + flow[..., 0]
    map_y = gy + flow[..., 1]
    return cv2.remap(
        image.astype(np.float32), map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def temporal_loss(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    flows: Sequence[np.ndarray] | None = None,
) -> float:
    """CO2Net's TL on one clip (0..255^2 scale), averaged over frame pairs.

    For each t: w = warp(mask[t]) * exp(-mean_c |warp(gt[t]) - gt[t+1]|) (images in 0..1), so occluded or
    mis-tracked pixels count less; TL_t = sum(w * mean_c (warp(pred[t]) - pred[t+1])^2) / sum(w) * 255^2.
    `flows` (from `gt_flow`) may be passed in when several predictions share one ground truth, to compute the
    flow once. A pair with zero weight (empty mask) is skipped; a clip with no usable pair scores NaN.
    """
    _check_clip(preds, gts, masks)
    values = []
    for t in range(len(gts) - 1):
        flow = flows[t] if flows is not None else gt_flow(gts[t + 1], gts[t])
        gt0 = gts[t].astype(np.float32) / 255.0  # [H, W, 3]
        gt1 = gts[t + 1].astype(np.float32) / 255.0
        p0 = preds[t].astype(np.float32) / 255.0
        p1 = preds[t + 1].astype(np.float32) / 255.0
        w_mask = warp(masks[t].astype(np.float32), flow)  # [H, W]
        w = w_mask * np.exp(-np.abs(warp(gt0, flow) - gt1).mean(axis=2))  # [H, W]
        den = float(w.sum(dtype=np.float64))
        if den <= 0.0:
            continue
        err = ((warp(p0, flow) - p1).astype(np.float64) ** 2).mean(axis=2)  # [H, W]
        values.append(float((w * err).sum()) / den * 255.0**2)
    return float(np.mean(values)) if values else math.nan


def _fg_mean(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    if not mask.any():
        return None
    return image.astype(np.float64)[mask].mean(axis=0)  # [3]


def flicker(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> float:
    """Mean over t of mean_c |(mu_pred[t+1] - mu_pred[t]) - (mu_gt[t+1] - mu_gt[t])|, mu = mean foreground
    RGB.

    mu at frame t uses frame t's own mask. A pair where either mask is empty is skipped; NaN if none is
    usable."""
    _check_clip(preds, gts, masks)
    values = []
    for t in range(len(gts) - 1):
        mp0, mp1 = _fg_mean(preds[t], masks[t]), _fg_mean(preds[t + 1], masks[t + 1])
        mg0, mg1 = _fg_mean(gts[t], masks[t]), _fg_mean(gts[t + 1], masks[t + 1])
        if mp0 is None or mp1 is None:
            continue
        values.append(float(np.abs((mp1 - mp0) - (mg1 - mg0)).mean()))
    return float(np.mean(values)) if values else math.nan


def _check_clip(preds: Sequence[np.ndarray], gts: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> None:
    if not (len(preds) == len(gts) == len(masks)):
        raise InputError(
            f"clip lengths differ: {len(preds)} predictions, {len(gts)} ground truths, {len(masks)} masks"
        )
    for p, g, m in zip(preds, gts, masks):
        _check_pair(p, g, m)


# ------------------------------------------------------------------------------------------------------------
# Clip and dataset aggregation
# ------------------------------------------------------------------------------------------------------------


@dataclass
class Scores:
    """The protocol's numbers for one clip or a whole dataset."""

    mse: float
    fmse: float
    psnr: float
    fssim: float
    tl: float
    flicker: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


METRIC_NAMES: tuple[str, ...] = ("mse", "fmse", "psnr", "fssim", "tl", "flicker")


def clip_scores(
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    flows: Sequence[np.ndarray] | None = None,
) -> Scores:
    """All metrics of one clip, already at the evaluation size: per-frame metrics averaged over its frames.

    PSNR is averaged per frame (the mean of per-frame PSNRs, not the PSNR of the mean MSE), as the protocol
    says. fSSIM skips frames with an empty mask (NaN); fMSE of such a frame is 0 when the frame is exact."""
    _check_clip(preds, gts, masks)
    if not gts:
        raise InputError("a clip needs at least one frame")
    per_frame = np.array(
        [(mse(p, g), fmse(p, g, m), psnr(p, g), fssim(p, g, m)) for p, g, m in zip(preds, gts, masks)]
    )  # [T, 4]
    with np.errstate(invalid="ignore"):
        f_mse, f_fmse, f_psnr = per_frame[:, :3].mean(axis=0)
        ssims = per_frame[:, 3]
        f_ssim = float(ssims[~np.isnan(ssims)].mean()) if (~np.isnan(ssims)).any() else math.nan
    return Scores(
        mse=float(f_mse),
        fmse=float(f_fmse),
        psnr=float(f_psnr),
        fssim=f_ssim,
        tl=temporal_loss(preds, gts, masks, flows) if len(gts) > 1 else math.nan,
        flicker=flicker(preds, gts, masks) if len(gts) > 1 else math.nan,
    )


def mean_scores(scores: Sequence[Scores]) -> Scores:
    """The dataset score: the mean over clips of each metric (NaN clips skipped per metric)."""
    if not scores:
        raise InputError("no clips to average")
    out = {}
    for name in METRIC_NAMES:
        vals = np.array([getattr(s, name) for s in scores], dtype=np.float64)
        ok = ~np.isnan(vals)
        out[name] = float(vals[ok].mean()) if ok.any() else math.nan
    return Scores(**out)
