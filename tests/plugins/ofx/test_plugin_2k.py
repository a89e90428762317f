"""A real 2K plate through the plugin, frame for frame against the engine `vh harmonize` runs.

The plate is the shared portrait video (1920x1080), resized to 2048x1080, its foreground given a cold cast and
composited over the real background in scene-linear, written as 12 float EXR frames with a separate matte.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from .harness import ExrSequence, ofx_host, real_plate, reference

FRAMES = 12


@pytest.fixture(scope="module")
def plate_2k(shared_data, tmp_path_factory):
    return real_plate(shared_data / "video_composite", tmp_path_factory.mktemp("ofx_2k"), frames=FRAMES)


@pytest.mark.slow
@pytest.mark.realdata
def test_12_frame_2k_float_plate_matches_the_engine(ofx_bundle, plate_2k, vh_server):
    plate, matte = plate_2k
    source, mattes = ExrSequence(plate, 1, FRAMES), ExrSequence(matte, 1, FRAMES)
    host = ofx_host.OfxHost(ofx_bundle)
    inst = host.create_instance(ofx_host.Clip(source, (1, FRAMES)), ofx_host.Clip(mattes, (1, FRAMES)),
                                params={"serverAddress": vh_server, "model": "stats"})
    start = time.perf_counter()
    outputs = [inst.render(t) for t in range(1, FRAMES + 1)]
    seconds = time.perf_counter() - start
    inst.destroy()
    host.unload()
    assert host.errors == []
    print(f"OFX path: {FRAMES} frames of 2048x1080 RGBA float in {seconds:.1f} s ({FRAMES / seconds:.2f} frames/s)")

    inputs = [source(t) for t in range(1, FRAMES + 1)]
    matte_frames = [mattes(t) for t in range(1, FRAMES + 1)]
    # The plugin's windows are frames 1-8 and 9-12 (the default window of 8): the same two clips for the engine.
    expected = reference(inputs[:8], matte_frames[:8]) + reference(inputs[8:], matte_frames[8:])
    for t, (got, want, original) in enumerate(zip(outputs, expected, inputs), 1):
        assert got.shape == (1080, 2048, 4)
        np.testing.assert_allclose(got, want, rtol=2**-10, atol=2**-14, err_msg=f"frame {t}")  # half precision
        background = original[..., 3] == 0
        np.testing.assert_array_equal(got[background], original[background])  # background bit-exact
        fg = original[..., 3] > 0.9
        assert np.abs(got[fg, :3] - original[fg, :3]).mean() > 0.005, f"frame {t}: foreground not repainted"
