"""DAVIS -> HYouTube-style clips: one recolouring for the whole clip, background untouched."""

from __future__ import annotations

import numpy as np
import pytest

from vh.training.datasets.davis import Davis
from vh.training.recolor import Recolor
from vh.training.videoclips import VideoClipConfig, make_video_clip


@pytest.mark.realdata
def test_recolouring_is_consistent_across_the_clip(shared_data):
    seq = Davis(shared_data / "davis", sequences=["camel"])[0]
    lut = Recolor("lut", lut=shared_data / "luts" / "5.cube")
    clip = make_video_clip(seq, lut, np.random.default_rng(0), VideoClipConfig(frames=6, size=64, stride=2))
    assert (
        clip.comp.shape == (6, 64, 64, 3)
        and clip.flow is None
        and clip.meta["frames"][:2] == [clip.meta["frames"][0], clip.meta["frames"][0] + 2]
    )
    bg = clip.matte == 0
    assert np.array_equal(clip.comp[bg], clip.real[bg])
    shifts = np.stack(
        [(clip.comp[t] - clip.real[t])[clip.matte[t] > 0.99].mean(0) for t in range(6)]
    )  # [T, 3]
    assert np.abs(shifts).mean() > 0.01  # visibly recoloured ...
    assert shifts.std(0).max() < 0.25 * np.abs(shifts).mean(0).max()  # ... the same way in every frame
