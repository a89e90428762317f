"""`vh harmonize` keeps what the plate carries: EXR metadata per frame, data windows, source frame numbers; a
variable-frame-rate video is refused instead of being re-timed."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import OpenImageIO as oiio

from tests.core.cli.test_harmonize import _error_line
from vh.core.cli.main import main
from vh.core.io import read_image

CHROMA = (0.64, 0.33, 0.3, 0.6, 0.15, 0.06, 0.3127, 0.329)


def _plate(folder, numbers=(1001, 1002, 1003)):
    for i, n in enumerate(numbers):
        spec = oiio.ImageSpec(40, 30, 4, "half")
        spec.channelnames, spec.alpha_channel = ("R", "G", "B", "A"), 3
        spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, 64, 48
        spec.x, spec.y = 10, 8  # a render's bounding box: 40x30 stored of a 64x48 frame
        spec.attribute("smpte:TimeCode", oiio.TypeDesc("timecode"), (0x01000000 + i, 0))
        spec.attribute("framesPerSecond", oiio.TypeDesc("rational2i"), (24, 1))
        spec.attribute("chromaticities", oiio.TypeDesc("float[8]"), CHROMA)
        spec.attribute("studio:shot", "sh010")
        spec.attribute("studio:take", 3)
        px = np.full((30, 40, 4), 0.4, np.float32)
        px[..., 3] = 0.0
        px[5:20, 5:25, 3] = 1.0
        px[5:20, 5:25, :3] = (0.9, 0.3, 0.1)
        out = oiio.ImageOutput.create("exr")
        assert out.open(str(folder / f"p.{n}.exr"), spec)
        out.write_image(px)
        out.close()
    return folder / "p.####.exr"


def _spec(path):
    inp = oiio.ImageInput.open(str(path))
    spec = inp.spec()
    inp.close()
    return spec


def test_exr_metadata_and_data_windows_pass_through_per_frame(tmp_path, capsys):
    plate = _plate(tmp_path)
    assert main(["harmonize", str(plate), "-o", str(tmp_path / "out.####.exr"), "-q"]) == 0, (
        capsys.readouterr()
    )
    for i, n in enumerate((1001, 1002, 1003)):
        src, out = _spec(tmp_path / f"p.{n}.exr"), _spec(tmp_path / f"out.{n}.exr")
        assert (out.x, out.y, out.width, out.height) == (10, 8, 40, 30)
        assert (out.full_x, out.full_y, out.full_width, out.full_height) == (0, 0, 64, 48)
        assert out.getattribute("smpte:TimeCode") == (0x01000000 + i, 0)  # this frame's own timecode
        assert out.getattribute("framesPerSecond") == (24, 1)
        np.testing.assert_allclose(out.getattribute("chromaticities"), CHROMA, rtol=1e-6)
        assert out.getattribute("studio:shot") == "sh010" and out.getattribute("studio:take") == 3
        assert src.getattribute("smpte:TimeCode") == out.getattribute("smpte:TimeCode")
    # the pixels: the background where the matte is 0 is bit-exact, inside the window
    a, b = read_image(tmp_path / "p.1002.exr"), read_image(tmp_path / "out.1002.exr")
    assert a.shape == b.shape == (48, 64, 4)
    np.testing.assert_array_equal(a[a[..., 3] == 0], b[a[..., 3] == 0])
    assert not np.array_equal(a, b)  # the foreground was repainted


def test_video_to_sequence_numbers_follow_the_source_frames(tmp_path, capsys):
    video = tmp_path / "v.mov"
    with av.open(str(video), "w") as c:
        s = c.add_stream("prores_ks", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuva444p10le"
        for i in range(14):
            px = np.zeros((48, 64, 4), np.uint16)
            px[..., :3] = 20000 + i * 1000
            px[10:30, 10:40, 3] = 65535
            for pk in s.encode(av.VideoFrame.from_ndarray(px, format="rgba64le")):
                c.mux(pk)
        for pk in s.encode(None):
            c.mux(pk)
    code = main(["harmonize", str(video), "--frames", "10-12", "-o", str(tmp_path / "o.####.exr"), "-q"])
    assert code == 0, capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.glob("o.*.exr")) == ["o.0010.exr", "o.0011.exr", "o.0012.exr"]


def test_variable_frame_rate_video_is_refused_clearly(tmp_path, capsys):
    video = tmp_path / "vfr.mp4"
    pts = [0, 512, 1024, 2560, 3072, 3584, 5120, 5632, 6144, 6656, 8192, 8704]  # holes: a phone's VFR capture
    with av.open(str(video), "w") as c:
        s = c.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        s.codec_context.time_base = Fraction(1, 12288)
        for i, p in enumerate(pts):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 20, np.uint8), format="rgb24")
            f.pts, f.time_base = p, Fraction(1, 12288)
            for pk in s.encode(f):
                c.mux(pk)
        for pk in s.encode(None):
            c.mux(pk)
    code = main(["harmonize", str(video), "--matte", str(video), "-o", str(tmp_path / "o.mp4"), "-q"])
    line = _error_line(capsys.readouterr().err)
    assert code == 2 and "variable frame rate" in line and "constant rate" in line
    assert not (tmp_path / "o.mp4").exists()
