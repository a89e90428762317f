"""Recolouring: each adjustment moves colour the way its name says; one bound transform per clip."""

from __future__ import annotations

import numpy as np

from vh.training.recolor import Recolor, adjust, lab_stats, sample_recolor

GREY = np.full((4, 4, 3), 0.5, np.float32)


def test_adjustments_do_what_they_say():
    assert adjust(GREY, "exposure", 1.0).mean() > 0.6 and adjust(GREY, "exposure", -1.0).mean() < 0.4
    warm = adjust(GREY, "temperature", 0.2)[0, 0]
    assert warm[0] > warm[1] > warm[2]
    red = np.zeros((1, 1, 3), np.float32) + [0.8, 0.2, 0.2]
    assert adjust(red, "saturation", 0.0)[0, 0].std() < 1e-6
    assert np.argmax(adjust(red.astype(np.float32), "hue", 120.0)[0, 0]) == 1  # red -> green
    ramp = np.linspace(0, 1, 11, dtype=np.float32)[None, :, None].repeat(3, axis=2)
    assert np.ptp(adjust(ramp, "contrast", 1.5)[0, 3:8]) > np.ptp(ramp[0, 3:8])
    curve = adjust(ramp, "tone_curve", (0.3, 0.6, 0.85))
    assert np.all(np.diff(curve[0, :, 0]) >= 0) and curve[0, 5, 0] == np.float32(0.6)


def test_reinhard_moves_foreground_stats_to_the_donor():
    rng = np.random.default_rng(0)
    image = rng.uniform(0.2, 0.5, (16, 16, 3)).astype(np.float32)
    mask = np.ones((16, 16), np.float32)
    donor = rng.uniform(0.5, 0.9, (16, 16, 3)).astype(np.float32) * [1.0, 0.6, 0.4]
    r = Recolor("reinhard", donor_stats=lab_stats(donor.astype(np.float32), mask))
    out = r.bind(image, mask)(image)
    mean, _ = lab_stats(out, mask)
    assert np.abs(mean - lab_stats(donor.astype(np.float32), mask)[0]).max() < 2.0  # Lab units


def test_sampling_is_seeded_and_respects_available_kinds():
    a = sample_recolor(np.random.default_rng(3), ("adjust", "lut", "reinhard"))  # no LUTs, no donors
    b = sample_recolor(np.random.default_rng(3), ("adjust", "lut", "reinhard"))
    assert a.kind == "adjust" and a.describe() == b.describe()
    assert 2 <= len(a.adjustments) <= 4


def test_scene_linear_grade_operations():
    from vh.training.recolor import grade, sample_grade, srgb_to_linear

    lin = lambda x: srgb_to_linear(x)[0, 0]  # noqa: E731
    one_stop = grade(GREY, [("exposure", (1.0,))])
    assert np.allclose(lin(one_stop), 2 * lin(GREY), rtol=1e-4)  # +1 stop doubles linear light
    warm = lin(grade(GREY, [("white_balance", (0.2, 0.0))]))
    assert warm[0] > warm[1] > warm[2]
    red = np.zeros((1, 1, 3), np.float32) + [0.8, 0.3, 0.2]
    flat = lin(grade(red, [("saturation", (0.0,))]))
    assert np.ptp(flat) < 1e-5 and np.isclose(
        flat[0], srgb_to_linear(red)[0, 0] @ [0.2126, 0.7152, 0.0722], rtol=1e-4
    )
    cdl = grade(GREY, [("cdl", (1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0))])
    assert np.allclose(cdl, GREY, atol=1e-5)  # the identity CDL
    mid = np.full((1, 1, 3), 0.18, np.float32)
    from vh.training.recolor import linear_to_srgb

    assert np.allclose(lin(grade(linear_to_srgb(mid), [("contrast", (1.3,))])), 0.18, atol=1e-4)  # pivot kept
    ops = sample_grade(np.random.default_rng(1))
    assert 2 <= len(ops) <= 4 and len({op for op, _ in ops}) == len(ops)


def test_hyoutube_recipe_and_none_kinds(tmp_path):
    from vh.training.recolor import hyoutube_recolor

    cube = tmp_path / "id.cube"
    grid = np.linspace(0, 1, 9)
    rows = [f"{r} {g} {b}" for b in grid for g in grid for r in grid]  # .cube: red varies fastest
    cube.write_bytes(("# identit\xe9 (latin-1)\nLUT_3D_SIZE 9\n" + "\n".join(rows) + "\n").encode("latin-1"))
    ramp = np.linspace(0.05, 0.95, 16, dtype=np.float32)[None, :, None].repeat(3, axis=2)
    out = hyoutube_recolor(ramp, cube)
    # the identity LUT through HYouTube's enhancement: gamma 1.3 and the exposure lift still change the image
    assert out.shape == ramp.shape and np.abs(out - ramp).mean() > 0.02
    assert np.all(np.diff(out[0, :, 0]) >= 0)
    r = sample_recolor(np.random.default_rng(0), ("none",))
    assert r.kind == "none" and np.array_equal(r.bind(ramp, ramp[..., 0])(ramp), ramp)
    import pytest

    with pytest.raises(ValueError, match="unknown recolour kind"):
        sample_recolor(np.random.default_rng(0), ("grades",))
