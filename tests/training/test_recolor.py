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
