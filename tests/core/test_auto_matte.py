"""The auto matte: a detector's flickering, speckled maps cleaned into one steady matte, or none at all."""

from __future__ import annotations

import logging

import cv2
import numpy as np
import pytest
import torch

from vh.core.auto_matte import AutoMatte, AutoMatteConfig
from vh.core.engine import Engine
from vh.core.errors import InputError
from vh.core.models.base import Harmonizer

WS = "srgb_tx"


def disc(h: int, w: int, cy: float, cx: float, r: float) -> np.ndarray:
    y, x = np.mgrid[:h, :w]
    return ((y - cy) ** 2 + (x - cx) ** 2 <= r * r).astype(np.float32)


def test_speckles_and_small_false_alarms_go_and_the_object_stays():
    soft = disc(64, 64, 32, 32, 14) * 0.9
    soft[2:4, 2:4] = 1.0  # a 4-pixel speckle
    soft += disc(64, 64, 8, 56, 3) * 0.8  # a small blob, well under a quarter of the object
    matte = AutoMatte(AutoMatteConfig(smoothing=0.0, feather=0.0))(soft)
    assert np.array_equal(matte, disc(64, 64, 32, 32, 14))


def test_the_edge_is_feathered():
    matte = AutoMatte(AutoMatteConfig(smoothing=0.0))(disc(64, 64, 32, 32, 14))
    edge = matte[32, 14:22]  # across the left edge of the disc
    assert ((edge > 0.05) & (edge < 0.95)).sum() >= 2
    assert matte[32, 32] == 1.0 and (matte[:, :10] == 0.0).all()  # exact outside the feather, both ways


def test_a_one_frame_flash_is_smoothed_away_and_a_steady_object_is_not():
    auto = AutoMatte(AutoMatteConfig(threshold=0.5, smoothing=0.5, feather=0.0))
    obj, flash = disc(32, 32, 16, 16, 8), disc(32, 32, 16, 16, 8) * 0.6
    assert not auto(np.zeros((32, 32), np.float32)).any()
    assert not auto(flash).any()  # 0.5 * 0 + 0.5 * 0.6 = 0.3: below the level
    assert not auto(np.zeros((32, 32), np.float32)).any()
    steady = [auto(obj) for _ in range(3)]  # the map inside: 0.15 after the flash, then 0.575, 0.79, 0.89
    assert all(m.any() for m in steady) and steady[0].sum() <= steady[1].sum() <= steady[2].sum()
    assert auto.frames == 6 and auto.empty == 3


@pytest.mark.parametrize("name, value", [("threshold", 1.5), ("smoothing", 1.0), ("feather", -0.1)])
def test_bad_settings_are_named(name, value):
    with pytest.raises(InputError, match=f"auto matte {name} must lie in"):
        AutoMatte(AutoMatteConfig(**{name: value}))


class Detector(Harmonizer):
    """Finds `level` everywhere in the right half of a frame; brightens everything (the matte decides
    where)."""

    supports_auto_matte = True
    input_size = (16, 16)

    def __init__(self, level: float, threshold: float = 0.5):
        super().__init__()
        self.level, self.matte_threshold = level, threshold

    def detect(self, comp):
        m = torch.zeros_like(comp[:, :, :1])
        m[..., comp.shape[-1] // 2 :] = self.level
        return m

    def forward(self, comp, matte=None):
        return comp + 0.1


def frames(n: int = 3) -> list[np.ndarray]:
    """Smooth plates: a colour transfer fits them exactly, so what the test sees is the matte's doing."""
    rng = np.random.default_rng(0)
    return [cv2.resize(0.2 + 0.5 * rng.random((3, 3, 3)), (64, 48)).astype(np.float32) for _ in range(n)]


def test_a_shot_the_detector_is_unsure_of_passes_through_unchanged_with_a_warning(caplog):
    plates = frames()
    with caplog.at_level(logging.WARNING, logger="vh.core.engine"):
        out = list(Engine(Detector(level=0.4)).run(plates, None, WS))
    assert all(o is p for o, p in zip(out, plates, strict=True))  # the very arrays: not a bit changed
    unsure = "3 of 3 frame(s): the detector found no disharmonious region it is sure of"
    assert f"{unsure}; they pass through unchanged" in caplog.text


def test_a_matte_the_detector_is_unsure_of_is_empty_and_says_so(caplog):
    """`vh detect` writes mattes, not shots: its warning says what it wrote."""
    with caplog.at_level(logging.WARNING, logger="vh.core.engine"):
        out = list(Engine(Detector(level=0.4)).run(frames(), None, WS, matte_only=True))
    assert all(o.shape == (48, 64) and not o.any() for o in out)
    unsure = "3 of 3 frame(s): the detector found no disharmonious region it is sure of"
    assert f"{unsure}; their matte is empty" in caplog.text


def test_the_detectors_calibrated_level_decides():
    plates = frames(2)
    unsure = list(Engine(Detector(level=0.4, threshold=0.5)).run(plates, None, WS))
    sure = list(Engine(Detector(level=0.4, threshold=0.3)).run(plates, None, WS))
    assert unsure[1] is plates[1]
    assert np.array_equal(sure[1][:, :16], plates[1][:, :16])  # the background, untouched
    assert np.abs(sure[1][:, 48:] - plates[1][:, 48:] - 0.1).mean() < 0.02  # the detected half, repainted
