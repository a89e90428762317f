"""The full-resolution transfer: fits, HDR extrapolation, compositing, temporal smoothing, and the oracle
test."""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vh.core.transfer import (
    ColorTransfer,
    TransferConfig,
    Transform,
    apply_to_plate,
    fit_weights,
    local_affine,
    resize_bilinear_region,
)


def _smooth_image(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth, colourful [h, w, 3] image in 0.1..0.9 (low-res and full-res see the same colours)."""
    rng = np.random.default_rng(seed)
    small = rng.random((4, 4, 3)).astype(np.float32)
    return 0.1 + 0.8 * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _grade(x: np.ndarray) -> np.ndarray:
    """A smooth non-linear colour change, like a LUT a compositor might have applied."""
    return np.stack([x[..., 0] ** 0.8, 0.9 * x[..., 1] + 0.05, x[..., 2] ** 1.2 * 0.95], -1).astype(
        np.float32
    )


def _fit_and_apply(
    method: str, comp_hi: np.ndarray, target_hi: np.ndarray, matte_hi: np.ndarray, size=(64, 64)
):
    comp_lo = cv2.resize(comp_hi, size, interpolation=cv2.INTER_AREA)
    target_lo = cv2.resize(target_hi, size, interpolation=cv2.INTER_AREA)
    m_lo = cv2.resize(matte_hi, size, interpolation=cv2.INTER_AREA)
    out_lo = comp_lo * (1 - m_lo[..., None]) + target_lo * m_lo[..., None]
    t = ColorTransfer(TransferConfig(method=method)).fit(comp_lo, out_lo, m_lo)
    return t, t.apply(comp_hi)


def test_resize_region_matches_cv2_resize():
    lo = np.random.default_rng(1).random((9, 13, 5)).astype(np.float32)
    full = cv2.resize(lo, (50, 31), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(resize_bilinear_region(lo, (31, 50), 0, 31, 0, 50), full, atol=1e-5)
    np.testing.assert_allclose(
        resize_bilinear_region(lo, (31, 50), 7, 20, 11, 40), full[7:20, 11:40], atol=1e-5
    )


def test_local_affine_recovers_an_exact_affine_map():
    rng = np.random.default_rng(2)
    guide = rng.random((32, 32, 3)).astype(np.float32)
    a = np.array([[0.1, 0.2, 0.0], [0.0, -0.1, 0.05], [0.3, 0.0, 0.0]], np.float32)
    target = guide @ a.T + 0.05
    coef = local_affine(guide, target, np.ones((32, 32), np.float32), radius=4, eps=1e-6)  # [h, w, 12]
    pred = coef[..., 9:] + sum(coef[..., 3 * i : 3 * i + 3] * guide[..., i : i + 1] for i in range(3))
    np.testing.assert_allclose(pred, target, atol=1e-4)


@pytest.mark.parametrize("method", ["lut", "poly", "lut+affine", "affine"])
def test_global_grade_is_carried_to_full_resolution(method):
    comp = _smooth_image(120, 160)
    # fine texture the low-res model never sees: the transfer must keep it, upsampling would blur it
    comp = (comp + 0.05 * np.sin(np.arange(160) * 2.0)[None, :, None]).astype(np.float32)
    matte = np.zeros((120, 160), np.float32)
    matte[20:100, 30:130] = 1.0
    target = _grade(comp)
    _, out = _fit_and_apply(method, comp, target, matte)
    fg = matte > 0
    err = np.abs(out - target)[fg].mean()
    _, naive = _fit_and_apply("upsample", comp, target, matte)
    assert err < 0.5 * np.abs(naive - target)[fg].mean()
    assert err < 0.02


def test_hdr_values_stay_finite_ordered_and_unclipped():
    comp = _smooth_image(64, 64)
    matte = np.ones((64, 64), np.float32)
    t, _ = _fit_and_apply("lut+affine", comp, comp * 0.9 + 0.05, matte, size=(32, 32))
    hdr = np.full((2, 2, 3), 0.5, np.float32)
    hdr[0, 0], hdr[0, 1], hdr[1, 0] = 4.0, 16.0, -0.05
    out = t.apply(hdr, full_hw=(64, 64), origin=(30, 30))
    assert np.isfinite(out).all()
    assert (out[0, 1] > out[0, 0]).all() and (out[0, 0] > 1.5).all(), out  # ordered and far above 1.0
    assert (out[1, 0] < out[1, 1]).all()  # below-zero values keep their order too


@pytest.mark.parametrize("strength", [1.0, 0.5])
def test_composite_background_is_bit_exact_and_soft_edges_blend(strength):
    rng = np.random.default_rng(3)
    plate = (rng.standard_normal((16, 16, 4)) * 5).astype(np.float32)
    # anything at all where the matte is 0, bits no arithmetic blend would keep
    plate[0, 0, 0], plate[1, 1, 1], plate[2, 2, 2] = -0.0, np.inf, np.nan
    matte = np.zeros((16, 16), np.float32)
    matte[4:12, 4:12] = 0.25
    to_two = Transform("upsample", upsample=np.full((4, 4, 3), 2.0, np.float32))  # every pixel becomes 2.0
    out = apply_to_plate(to_two, plate, matte, strength=strength)
    bg = matte == 0
    assert np.array_equal(out[bg].view(np.uint32), plate[bg].view(np.uint32))
    np.testing.assert_array_equal(out[..., 3], plate[..., 3])
    m = 0.25 * strength
    np.testing.assert_allclose(out[4:12, 4:12, :3], plate[4:12, 4:12, :3] * (1 - m) + 2.0 * m, rtol=1e-6)


def test_fit_weights_ignore_mixed_edge_pixels():
    m = np.array([[0.0, 0.3, 0.5, 0.8, 1.0]] * 40, np.float32)  # enough foreground for no fallback
    w = fit_weights(m)
    assert w[0, 0] == w[0, 1] == w[0, 2] == 0 and 0 < w[0, 3] < w[0, 4] == 1


def test_temporal_smoothing_damps_model_flicker():
    """A model whose output jitters frame to frame: the smoothed transform moves less than the per-frame one,
    and with the low-res residual on (the default) the result follows the model, never amplifying its
    flicker."""
    comp = _smooth_image(48, 48)
    matte = np.ones((48, 48), np.float32)
    jitter = [0.04 * (-1) ** k for k in range(12)]

    def swing(**kw) -> float:
        transfer = ColorTransfer(TransferConfig(method="lut", **kw))
        means = [float(transfer.fit(comp, comp * 0.9 + 0.05 + j, matte).apply(comp).mean()) for j in jitter]
        return float(np.abs(np.diff(means[4:])).mean())

    assert swing(time_constant=4.0, residual=False) < 0.5 * swing(time_constant=0.0, residual=False)
    assert swing(time_constant=4.0) <= 0.08 + 1e-3  # the model's own swing is 2 x 0.04


def test_empty_foreground_keeps_the_previous_estimate():
    comp = _smooth_image(32, 32)
    transfer = ColorTransfer(TransferConfig(method="lut", time_constant=2.0, residual=False))
    a = transfer.fit(comp, comp + 0.1, np.ones((32, 32), np.float32)).apply(comp)
    b = transfer.fit(comp, comp, np.zeros((32, 32), np.float32)).apply(comp)
    np.testing.assert_allclose(a, b, atol=1e-6)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="unknown transfer method"):
        TransferConfig(method="magic")


# -- oracle: a perfect 256x256 model output carried to full resolution on real composites --------------------


def _oracle_module():
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import bench_transfer_oracle

    return bench_transfer_oracle


@pytest.mark.realdata
def test_oracle_three_hyoutube_clips_beat_half_of_naive_upsampling(shared_data):
    bench = _oracle_module()
    scores = {"lut+affine": [], "upsample": []}
    for _, frames in bench.hyoutube_clips(shared_data / "hyoutube_val")[:3]:
        data = [(bench._read_rgb(c), bench._read_rgb(r), bench._read_mask(m)) for c, r, m in frames[::10]]
        for method in scores:
            transfer = ColorTransfer(TransferConfig(method=method))
            scores[method] += [bench.oracle_frame(transfer, *d) for d in data]
    assert np.mean(scores["lut+affine"]) <= 0.5 * np.mean(scores["upsample"]), scores


@pytest.mark.realdata
@pytest.mark.slow
def test_oracle_all_hyoutube_clips_and_hadobe5k(shared_data):
    bench = _oracle_module()
    cfg = TransferConfig()
    yt = bench.run_hyoutube(shared_data / "hyoutube_val", ["lut+affine", "upsample"], 11, cfg)
    assert yt["lut+affine"] <= 0.5 * yt["upsample"], yt
    ad = bench.run_hadobe(shared_data / "iharmony4", ["lut+affine", "upsample"], cfg)
    assert ad["lut+affine"] <= 0.5 * ad["upsample"], ad


def test_lut_fit_uses_the_interpolation_ocio_applies():
    """The fit's tetrahedral weights reproduce OCIO's Lut3D exactly, so a fitted LUT maps the fitted
    colours."""
    from vh.core.transfer import _lut_features, _ocio_lut

    n = 9
    rng = np.random.default_rng(4)
    theta = rng.random((n**3, 3)).astype(np.float32)
    x = rng.random((5000, 3)).astype(np.float32)
    x[:4] = [[0, 0, 0], [1, 1, 1], [1, 0, 0.5], [0.25, 0.25, 0.75]]  # corners, faces, exact nodes
    idx, val = _lut_features(x, n)
    ours = (theta[idx] * val[..., None]).sum(1)
    theirs = x.copy()
    _ocio_lut(theta, n).applyRGB(theirs)
    np.testing.assert_allclose(ours, theirs, atol=2e-6)
    np.testing.assert_allclose(val.sum(1), 1.0, atol=1e-6)


def test_write_where_is_an_exact_select():
    from vh.core.transfer import write_where

    rng = np.random.default_rng(6)
    dst = rng.standard_normal((9, 11, 4)).astype(np.float32)
    dst[0, 0, 0], dst[1, 1, 1] = -0.0, np.nan  # bits no arithmetic blend would keep
    src = rng.standard_normal((9, 11, 3)).astype(np.float32)
    mask = rng.random((9, 11)) > 0.5
    mask[0, 0] = mask[1, 1] = False
    expected = dst.copy()
    expected[..., :3][mask] = src[mask]
    write_where(dst[..., :3], src, mask)  # a strided view, as the engine writes into RGBA plates
    assert np.array_equal(dst.view(np.uint32), expected.view(np.uint32))
