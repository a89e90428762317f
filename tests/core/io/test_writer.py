"""vh.core.io.writer: output appears only on a clean close; unwritable outputs fail before any work."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vh.core.errors import InputError, OutputError
from vh.core.io import ClipInfo, open_writer, probe, read_image, write_image

LIKE = ClipInfo.make(32, 24, 4, 5, first=1001, fps=24)


def _frame(v: float = 0.5) -> np.ndarray:
    return np.full((24, 32, 4), v, np.float32)


@pytest.mark.parametrize("name", ["o.####.exr", "o.mp4", "o.mov"])
def test_nothing_visible_until_close(tmp_path, name):
    with open_writer(tmp_path / name, LIKE) as w:
        for _ in range(3):
            w.write(_frame())
        visible = [p.name for p in tmp_path.iterdir() if not p.name.startswith(".")]
        assert visible == []
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not any(n.startswith(".") for n in names)
    assert probe(tmp_path / name).n_frames == 3


@pytest.mark.parametrize("name", ["o.####.exr", "o.mp4", "o.mov", "o.png"])
def test_exception_mid_write_leaves_nothing(tmp_path, name):
    like = (
        LIKE if "#" in name or "." + name.split(".")[-1] in (".mp4", ".mov") else ClipInfo.make(32, 24, 4, 1)
    )
    with pytest.raises(RuntimeError, match="boom"):
        with open_writer(tmp_path / name, like) as w:
            w.write(_frame())
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_bad_frame_aborts_the_writer(tmp_path):
    w = open_writer(tmp_path / "o.####.exr", LIKE)
    w.write(_frame())
    with pytest.raises(InputError, match=r"expected \[24, 32, C\]"):
        w.write(np.zeros((10, 10, 4), np.float32))
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_abandoned_writer_cleans_up(tmp_path):
    w = open_writer(tmp_path / "o.####.exr", LIKE)
    w.write(_frame())
    del w
    assert list(tmp_path.iterdir()) == []


def test_missing_folder_and_file_as_folder(tmp_path):
    with pytest.raises(OutputError, match="does not exist"):
        open_writer(tmp_path / "no" / "o.####.exr", LIKE)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="not a folder"):
        open_writer(tmp_path / "file" / "o.mp4", LIKE)
    (tmp_path / "dir.exr").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        open_writer(tmp_path / "dir.exr", ClipInfo.make(4, 4))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.exr", "file"]


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_read_only_folder_is_refused_up_front(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK) and os.geteuid() == 0:
            pytest.skip("root ignores folder permissions")
        with pytest.raises(OutputError, match="cannot write to folder"):
            open_writer(ro / "o.####.exr", LIKE)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def test_read_only_mount_is_refused_up_front():
    # /proc is read-only for everyone, root included.
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc")
    with pytest.raises(OutputError, match="cannot write to folder"):
        open_writer("/proc/self/o.####.exr", LIKE)


def test_unknown_format_and_options(tmp_path):
    with pytest.raises(OutputError, match=r"cannot write \.xyz"):
        open_writer(tmp_path / "o.xyz", ClipInfo.make(4, 4))
    with pytest.raises(OutputError, match="unknown writer option"):
        open_writer(tmp_path / "o.####.exr", LIKE, quality=3)
    with pytest.raises(OutputError, match="cannot store"):
        open_writer(tmp_path / "o.####.jpg", LIKE, pixel_type="half")
    with pytest.raises(OutputError, match="unknown video codec"):
        open_writer(tmp_path / "o.mov", LIKE, codec="vp9")
    assert list(tmp_path.iterdir()) == []


def test_single_image_path_for_a_shot_is_refused(tmp_path):
    with pytest.raises(OutputError, match=r"single image .* 5 frames.*o\.####\.exr"):
        open_writer(tmp_path / "o.exr", LIKE)


def test_zero_frames_is_an_error_and_leaves_nothing(tmp_path):
    with pytest.raises(OutputError, match="no frames"):
        with open_writer(tmp_path / "o.mp4", LIKE):
            pass
    assert list(tmp_path.iterdir()) == []


def test_sequence_numbering_follows_the_input_or_first(tmp_path):
    with open_writer(tmp_path / "a.%04d.exr", LIKE) as w:
        w.write(_frame())
    with open_writer(tmp_path / "b.#.exr", LIKE, first=7) as w:
        w.write(_frame())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.1001.exr", "b.7.exr"]


def test_overwriting_the_input_is_safe(tmp_path):
    write_image(tmp_path / "x.exr", _frame(0.25))
    info = probe(tmp_path / "x.exr")
    with open_writer(tmp_path / "x.exr", info) as w:
        w.write(read_image(tmp_path / "x.exr") * 2)
    np.testing.assert_allclose(read_image(tmp_path / "x.exr"), 0.5)


def test_exr_compression_follows_the_input(tmp_path):
    from tests.core.io.helpers import oiio_write

    oiio_write(tmp_path / "in.exr", _frame(), "half", compression="piz")
    info = probe(tmp_path / "in.exr")
    assert info.extra["compression"] == "piz"
    with open_writer(tmp_path / "out.exr", info) as w:
        w.write(_frame())
    assert probe(tmp_path / "out.exr").extra["compression"] == "piz"
    write_image(tmp_path / "dwa.exr", _frame(), compression="dwaa")
    assert probe(tmp_path / "dwa.exr").extra["compression"].startswith("dwaa")


def test_video_rate_option_and_one_channel_frames(tmp_path):
    with pytest.raises(OutputError, match="frame rate 'fast'"):
        open_writer(tmp_path / "o.mp4", LIKE, fps="fast")
    with open_writer(tmp_path / "m.mp4", ClipInfo.make(32, 24, 1, 2), fps="30000/1001") as w:
        w.write(np.full((24, 32), 0.75, np.float32))  # a matte: [H, W]
        w.write(np.full((24, 32, 1), 0.25, np.float32))
    info = probe(tmp_path / "m.mp4")
    assert info.fps.numerator == 30000 and info.fps.denominator == 1001 and info.n_frames == 2
    assert list(tmp_path.iterdir()) == [tmp_path / "m.mp4"]
