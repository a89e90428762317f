"""vh.core.io.matte: mattes from alpha, files, sequences, video and stills; soft values; mismatches."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from tests.core.io.helpers import oiio_write
from vh.core.errors import InputError
from vh.core.io import ClipInfo, alpha_of, open_writer, probe, read_frames, read_mattes

H, W = 24, 32


def _soft(frame: int = 0) -> np.ndarray:
    x = np.linspace(0.0, 1.0, W, dtype=np.float32)
    return np.broadcast_to((x + 0.02 * frame) % 1.0, (H, W)).copy()  # [H, W] soft ramp


def _plate(tmp_path, n=4, alpha=True) -> ClipInfo:
    c = 4 if alpha else 3
    for f in range(1, n + 1):
        px = np.full((H, W, c), 0.3, np.float32)
        if alpha:
            px[..., 3] = _soft(f)
        oiio_write(tmp_path / f"plate.{f:04d}.exr", px, "float", names=("R", "G", "B", "A")[:c])
    return probe(tmp_path / "plate.####.exr")


def test_matte_from_plate_alpha_is_soft(tmp_path):
    plate = _plate(tmp_path)
    mattes = list(read_mattes(None, plate))
    assert len(mattes) == 4
    for f, m in enumerate(mattes, start=1):
        assert m.shape == (H, W) and m.dtype == np.float32
        np.testing.assert_array_equal(m, _soft(f))
    frame = next(read_frames(plate))
    np.testing.assert_array_equal(alpha_of(frame, plate), _soft(1))


def test_no_alpha_and_no_matte_is_an_input_error(tmp_path):
    plate = _plate(tmp_path, alpha=False)
    with pytest.raises(InputError, match="no alpha"):
        read_mattes(None, plate)


def test_separate_sequence_uses_first_channel_and_pairs_by_number(tmp_path):
    plate = _plate(tmp_path, n=4)
    for f in range(1, 5):
        oiio_write(tmp_path / f"m.{f:04d}.exr", np.stack([_soft(10 * f)] * 3, 2), "half")
    mattes = list(read_mattes(str(tmp_path / "m.####.exr"), probe(plate, (2, 3))))
    assert len(mattes) == 2
    np.testing.assert_allclose(mattes[0], _soft(20), atol=1e-3)  # frame 2 of the matte, not frame 1
    np.testing.assert_allclose(mattes[1], _soft(30), atol=1e-3)
    assert 0.1 < np.mean((mattes[0] > 0.01) & (mattes[0] < 0.99)) <= 1  # soft values survive


def test_separate_file_alpha_wins_over_first_channel(tmp_path):
    plate = _plate(tmp_path, n=2)
    px = np.zeros((H, W, 4), np.float32)
    px[..., 3] = _soft(5)
    oiio_write(tmp_path / "still.png", px, "uint16", names=("R", "G", "B", "A"), oiio__UnassociatedAlpha=1)
    mattes = list(read_mattes(tmp_path / "still.png", plate))
    assert len(mattes) == 2 and mattes[0] is mattes[1]  # one still reused
    np.testing.assert_allclose(mattes[0], _soft(5), atol=1 / 65535)
    with pytest.raises(ValueError):
        mattes[0][0, 0] = 1.0  # read-only, so an in-place edit cannot leak into the next frame


def test_video_matte_for_a_sequence_plate(tmp_path):
    plate = _plate(tmp_path, n=3)
    like = ClipInfo.make(W, H, 3, 3, fps=Fraction(24), kind="video")
    with open_writer(tmp_path / "m.mov", like) as w:
        for f in range(3):
            w.write(np.stack([_soft(f)] * 3, 2))
    mattes = list(read_mattes(tmp_path / "m.mov", plate))
    assert len(mattes) == 3
    np.testing.assert_allclose(mattes[2], _soft(2), atol=0.01)


def test_size_and_count_mismatches_name_both(tmp_path):
    plate = _plate(tmp_path, n=4)
    oiio_write(tmp_path / "small.png", np.zeros((H // 2, W // 2), np.float32), "uint8")
    with pytest.raises(InputError, match=r"small\.png is 16x12 but plate .*plate\.####\.exr is 32x24"):
        read_mattes(tmp_path / "small.png", plate)
    for f in range(1, 3):
        oiio_write(tmp_path / f"short.{f:04d}.exr", _soft(f), "half")
    with pytest.raises(InputError, match=r"has 2 frames \(1-2\) but plate .* has 4 \(1-4\)"):
        read_mattes(tmp_path / "short.####.exr", plate)


def test_overshoot_is_clipped_and_nan_rejected(tmp_path):
    plate = _plate(tmp_path, n=1)
    m = _soft() * 1.1 - 0.05
    oiio_write(tmp_path / "o.exr", m, "float")
    got = next(read_mattes(tmp_path / "o.exr", plate))
    assert got.min() == 0.0 and got.max() == 1.0
    m[3, 3] = np.nan
    oiio_write(tmp_path / "n.exr", m, "float")
    with pytest.raises(InputError, match="NaN"):
        next(read_mattes(tmp_path / "n.exr", plate))


@pytest.mark.realdata
def test_real_soft_video_matte(shared_data):
    mask = shared_data / "video_composite" / "mask.mp4"
    plate = probe(shared_data / "video_composite" / "foreground.mp4", (0, 1))
    m = next(read_mattes(probe(mask), plate))
    assert m.shape == (1080, 1920)
    soft = np.mean((m > 0.02) & (m < 0.98))
    assert 0 < soft < 0.2 and m.max() > 0.98 and m.min() < 0.02


def test_alpha_of_a_prores_4444_plate(tmp_path):
    like = ClipInfo.make(W, H, 4, 2, fps=Fraction(25), kind="video")
    with open_writer(tmp_path / "p.mov", like) as w:
        for f in range(2):
            px = np.full((H, W, 4), 0.4, np.float32)
            px[..., 3] = _soft(f)
            w.write(px)
    plate = probe(tmp_path / "p.mov")
    mattes = list(read_mattes(None, plate))
    assert len(mattes) == 2
    np.testing.assert_allclose(mattes[1], _soft(1), atol=1.5 / 1023)


@pytest.mark.realdata
def test_real_soft_still_matte(shared_data):
    plate = probe(shared_data / "lemur" / "lemur_foreground.png")
    m = next(read_mattes(shared_data / "lemur" / "lemur_alpha.png", plate))
    assert m.shape == (440, 680)
    assert np.mean((m > 0.02) & (m < 0.98)) > 0.005  # the estimated alpha has soft fur edges
