"""`vh demo`: the bundled lemur shot, its ground truth, and the files the command writes."""

from __future__ import annotations

import re

import numpy as np

from vh.core.cli.demo import ASSETS, build_shot
from vh.core.cli.main import main
from vh.core.io import probe, read_image


def test_assets_ship_without_the_unlicensed_image():
    names = sorted(p.name for p in ASSETS.iterdir())
    assert names == ["lemur.png", "lemur_alpha.png", "lemur_background.png", "lemur_foreground.png"]


def test_first_frame_ground_truth_is_the_photo():
    comp, truth, matte = next(build_shot(4))
    photo = read_image(ASSETS / "lemur.png")[..., :3]
    assert np.abs(truth - photo).mean() < 2 / 255  # the layers recombine into the photo (no motion at t = 0)
    fg = matte > 0.5
    assert np.abs(comp - truth)[fg].mean() > 0.05  # the composite really is mismatched
    assert np.array_equal(comp[matte == 0], truth[matte == 0])  # and only inside the matte


def test_demo_writes_videos_and_a_before_after_strip(tmp_path, capsys):
    code = main(["demo", "-o", str(tmp_path), "--frames", "4"])
    out = capsys.readouterr().out
    assert code == 0
    for name in ("demo_composite.mp4", "demo_harmonized.mp4"):
        info = probe(str(tmp_path / name))
        assert info.n_frames == 4 and (info.width, info.height) == (680, 440)
    strip = read_image(tmp_path / "demo_before_after.png")
    bar = strip.shape[0] - 440
    assert strip.shape[1] == 3 * 680 and 24 <= bar <= 40
    for panel in range(3):  # each panel has its caption (composite | harmonized | original) in light text
        assert (strip[:bar, panel * 680 : (panel + 1) * 680] > 0.8).sum() > 50
    before, after = map(float, re.search(r"composite ([\d.]+) -> harmonized ([\d.]+)", out).groups())
    assert before > 100 and after < 0.7 * before  # the default must improve its own demo shot
