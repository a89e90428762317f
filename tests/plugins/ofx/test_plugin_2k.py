"""A real 2K plate through the plugin, frame for frame against `vh harmonize` on the same files.

The plate is the shared portrait video (1920x1080), resized to 2048x1080, its foreground given a cold cast and
composited over the real background in scene-linear, written as 12 float EXR frames with a separate matte.
The plugin's windows are frames 1-8 and 9-12 (its default window of 8, sent as two streams), and temporal
smoothing restarts with each stream, so `vh harmonize` runs on the same two frame ranges (--frames).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.plugins.ofx.harness import ExrSequence, ofx_host, real_plate

FRAMES = 12
WINDOWS = ((1, 8), (9, 12))


@pytest.fixture(scope="module")
def plate_2k(shared_data, tmp_path_factory):
    return real_plate(shared_data / "video_composite", tmp_path_factory.mktemp("ofx_2k"), frames=FRAMES)


def vh_harmonize(plate: str, matte: str, out_folder: Path) -> ExrSequence:
    from vh.core.cli.main import main

    for first, last in WINDOWS:
        argv = [
            "harmonize",
            plate,
            "--matte",
            matte,
            "-o",
            str(out_folder / "out.%04d.exr"),
            "--model",
            "stats",
            # the plugin's default: the host's scene-linear role (ACEScg in the built-in config); on its own
            # the CLI would read the EXR's Rec.709 chromaticities and repaint in another space
            "--colorspace",
            "scene_linear",
            "--frames",
            f"{first}-{last}",
            "--quiet",
        ]
        assert main(argv) == 0, f"vh {' '.join(argv)} failed"
    return ExrSequence(str(out_folder / "out.%04d.exr"), 1, FRAMES)


@pytest.mark.slow
@pytest.mark.realdata
def test_12_frame_2k_float_plate_matches_vh_harmonize(ofx_bundle, plate_2k, vh_server, tmp_path):
    plate, matte = plate_2k
    source, mattes = ExrSequence(plate, 1, FRAMES), ExrSequence(matte, 1, FRAMES)
    host = ofx_host.OfxHost(ofx_bundle)
    inst = host.create_instance(
        ofx_host.InputClip(source, (1, FRAMES)),
        ofx_host.InputClip(mattes, (1, FRAMES)),
        params={"serverAddress": vh_server, "model": "stats"},
    )
    start = time.perf_counter()
    outputs = [inst.render(t) for t in range(1, FRAMES + 1)]
    seconds = time.perf_counter() - start
    inst.destroy()
    host.unload()
    assert host.errors == []
    print(
        f"OFX path: {FRAMES} frames of 2048x1080 RGBA float in {seconds:.1f} s ({FRAMES / seconds:.2f} "
        "frames/s)"
    )

    expected = vh_harmonize(plate, matte, tmp_path)
    worst = 0.0
    for t, got in enumerate(outputs, 1):
        want, original = expected(t), source(t)
        assert got.shape == want.shape == (1080, 2048, 4)
        np.testing.assert_allclose(
            got, want, rtol=2**-10, atol=2**-14, err_msg=f"frame {t}"
        )  # half precision
        worst = max(worst, float(np.abs(got - want).max()))
        background = original[..., 3] == 0
        np.testing.assert_array_equal(got[background], original[background])  # background bit-exact
        fg = original[..., 3] > 0.9
        assert np.abs(got[fg, :3] - original[fg, :3]).mean() > 0.005, f"frame {t}: foreground not repainted"
    print(f"largest difference from vh harmonize: {worst:.3g}")
