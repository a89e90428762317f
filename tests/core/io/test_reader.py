"""vh.core.io.reader: probe dispatch and streaming (memory does not grow with the length of the shot)."""

from __future__ import annotations

import tracemalloc
from fractions import Fraction

import numpy as np
import pytest

from vh.core.errors import InputError
from vh.core.io import ClipInfo, open_writer, probe, read_frames, read_mattes

H, W = 96, 128  # one float32 RGBA frame = 192 KiB; holding 200 of them would be 37 MiB


def _peak_while_streaming(iterator, count: int) -> int:
    tracemalloc.start()
    try:
        n = 0
        for frame in iterator:
            assert frame.shape[:2] == (H, W)
            n += 1
            if n == count:
                break
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == count
    return peak


@pytest.fixture(scope="module")
def long_shot(tmp_path_factory):
    folder = tmp_path_factory.mktemp("long")
    like = ClipInfo.make(W, H, 4, 200, first=1, fps=Fraction(24))
    y = np.linspace(0, 1, H, dtype=np.float32)[:, None, None]
    with open_writer(folder / "s.####.exr", like) as ws, open_writer(folder / "v.mp4", like) as wv:
        for i in range(200):
            frame = np.broadcast_to(y * (i % 7) / 7, (H, W, 4)).astype(np.float32)  # [H, W, 4]
            ws.write(frame)
            wv.write(frame)
    return folder


@pytest.mark.parametrize("name", ["s.####.exr", "v.mp4"])
def test_reading_memory_is_flat_in_shot_length(long_shot, name):
    info = probe(long_shot / name)
    assert info.n_frames == 200
    short = _peak_while_streaming(read_frames(info), 20)
    long = _peak_while_streaming(read_frames(info), 200)
    frame_bytes = H * W * info.channels * 4
    assert long < short + 4 * frame_bytes, (short, long)
    assert long < 20 * frame_bytes  # far from the 200 frames a list would hold


def test_matte_streaming_is_flat_too(long_shot):
    plate = probe(long_shot / "s.####.exr")
    short = _peak_while_streaming(read_mattes(None, probe(plate, (1, 20))), 20)
    long = _peak_while_streaming(read_mattes(None, plate), 200)
    assert long < short + 4 * H * W * 4, (short, long)


def test_header_errors_come_before_iteration(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_frames(tmp_path / "nope.mov")  # raised by the call, not by the first next()
    with pytest.raises(InputError, match="no input"):
        probe("")


def test_probe_accepts_a_clipinfo_and_selects(long_shot):
    info = probe(long_shot / "s.####.exr")
    assert probe(info) is info
    sub = probe(info, (10, 12))
    assert sub.frames == (10, 11, 12) and sub.width == info.width
    assert len(list(read_frames(sub))) == 3
