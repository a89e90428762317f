"""vh.core.io.video (via the public API): H.264 and ProRes 4444 round trips, rates, ranges, corrupt files."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from vh.core.errors import InputError, OutputError
from vh.core.io import ClipInfo, open_writer, probe, read_frames


def _write_video(path, n, fps, make, channels=3, w=64, h=48, time_base=None, **opts) -> list[np.ndarray]:
    like = ClipInfo.make(w, h, channels, n, fps=fps, kind="video")
    if time_base is not None:
        from dataclasses import replace

        like = replace(like, time_base=time_base)
    frames = [make(h, w, channels, frame=i) for i in range(n)]
    with open_writer(path, like, **opts) as writer:
        for f in frames:
            writer.write(f)
    return frames


@pytest.mark.parametrize("fps", [Fraction(24000, 1001), Fraction(25)])
def test_mp4_keeps_frame_count_and_rational_fps(tmp_path, gradient, fps):
    written = _write_video(tmp_path / "v.mp4", 12, fps, gradient)
    info = probe(tmp_path / "v.mp4")
    assert (info.kind, info.format, info.extra["pix_fmt"]) == ("video", "h264", "yuv420p")
    assert info.fps == fps and info.n_frames == 12 and (info.width, info.height, info.channels) == (64, 48, 3)
    frames = list(read_frames(info))
    assert len(frames) == 12
    for a, b in zip(frames, written, strict=True):
        assert a.dtype == np.float32 and a.shape == b.shape
        assert np.abs(a - b).mean() < 0.02  # 8-bit 4:2:0 H.264 at crf 16 on a smooth gradient


def test_time_base_is_kept_when_it_can_express_the_rate(tmp_path, gradient):
    _write_video(tmp_path / "v.mov", 3, Fraction(25), gradient, time_base=Fraction(1, 12800))
    info = probe(tmp_path / "v.mov")
    assert info.time_base == Fraction(1, 12800) and info.fps == 25


def test_colour_survives_the_yuv_matrix(tmp_path):
    """Flat primaries through H.264 come back as written: the read matrix/range match the write ones."""
    colours = [(0.8, 0.1, 0.1), (0.1, 0.7, 0.2), (0.2, 0.3, 0.9), (0.5, 0.5, 0.5)]
    like = ClipInfo.make(64, 48, 3, len(colours), fps=24, kind="video")
    with open_writer(tmp_path / "c.mp4", like) as w:
        for c in colours:
            w.write(np.broadcast_to(np.array(c, np.float32), (48, 64, 3)))
    for got, c in zip(read_frames(tmp_path / "c.mp4"), colours, strict=True):
        np.testing.assert_allclose(got.reshape(-1, 3).mean(0), c, atol=0.01)


def test_prores_4444_keeps_alpha_and_more_than_8_bits(tmp_path, gradient):
    written = _write_video(tmp_path / "p.mov", 4, Fraction(24), gradient, channels=4)
    info = probe(tmp_path / "p.mov")
    assert info.format == "prores" and info.has_alpha and info.channels == 4 and info.bits >= 10
    frames = list(read_frames(info))
    assert len(frames) == 4
    for a, b in zip(frames, written, strict=True):
        assert np.abs(a[..., 3] - b[..., 3]).max() <= 1.5 / 1023  # alpha: 10-bit (or better), not lost
        assert np.abs(a[..., :3] - b[..., :3]).mean() < 0.005
        assert len(np.unique(a[..., 3])) > 256


def test_prores_without_alpha_and_codec_override(tmp_path, gradient):
    _write_video(tmp_path / "p.mov", 2, 24, gradient, channels=3)
    assert not probe(tmp_path / "p.mov").has_alpha
    _write_video(tmp_path / "h.mov", 2, 24, gradient, channels=3, codec="h264")
    assert probe(tmp_path / "h.mov").format == "h264"


def test_frame_range_is_by_index(tmp_path, gradient):
    written = _write_video(tmp_path / "v.mov", 6, 24, gradient)
    got = list(read_frames(tmp_path / "v.mov", (2, 3)))
    assert len(got) == 2
    errs = [[np.abs(g - w).mean() for w in written] for g in got]
    assert [int(np.argmin(e)) for e in errs] == [2, 3]
    with pytest.raises(InputError, match="outside"):
        probe(tmp_path / "v.mov", (4, 6))


def test_garbage_and_truncated_video_are_input_errors(tmp_path, gradient):
    (tmp_path / "g.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 200)
    with pytest.raises(InputError, match=r"g\.mp4"):
        list(read_frames(tmp_path / "g.mp4"))
    (tmp_path / "t.txt.mp4").write_text("hello")
    with pytest.raises(InputError, match=r"t\.txt\.mp4"):
        probe(tmp_path / "t.txt.mp4")
    _write_video(tmp_path / "v.mp4", 10, 24, gradient)
    data = (tmp_path / "v.mp4").read_bytes()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) // 3])
    with pytest.raises(InputError, match=r"cut\.mp4"):
        list(read_frames(tmp_path / "cut.mp4"))


def test_odd_size_h264_is_refused_up_front(tmp_path):
    with pytest.raises(OutputError, match="even width"):
        open_writer(tmp_path / "o.mp4", ClipInfo.make(63, 48, 3, 2, fps=24, kind="video"))
    assert list(tmp_path.iterdir()) == []


@pytest.mark.realdata
def test_real_video_probe_and_first_frames(shared_data):
    path = shared_data / "video_composite" / "mask.mp4"
    info = probe(path)
    assert (info.width, info.height, info.n_frames, info.fps) == (1920, 1080, 75, 25)
    frames = list(read_frames(info, (0, 1)))
    assert len(frames) == 2 and frames[0].shape == (1080, 1920, 3)
    assert frames[0].min() >= 0.0 and frames[0].max() <= 1.0
