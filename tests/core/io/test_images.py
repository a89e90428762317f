"""vh.core.io.images, through the public API: formats, precision, patterns, ranges, missing/corrupt frames."""

from __future__ import annotations

import numpy as np
import OpenImageIO as oiio
import pytest

from tests.core.io.helpers import oiio_write
from vh.core.errors import InputError, MissingFrameError
from vh.core.io import ClipInfo, SequencePattern, open_writer, probe, read_frames, read_image, write_image


def _write_seq(pattern: str, frames, like: ClipInfo, make) -> list[np.ndarray]:
    out = []
    with open_writer(pattern, like, first=frames[0]) as w:
        for i, _ in enumerate(frames):
            px = make(like.height, like.width, like.channels, frame=i)
            w.write(px)
            out.append(px)
    return out


def test_exr_half_round_trip_keeps_type_channels_and_hdr(tmp_path, gradient):
    px = gradient(24, 32, 5, scale=8.0) - 1.0  # [H, W, 5]: negative and > 1 values too
    names = ("R", "G", "B", "A", "Z")
    like = ClipInfo(
        path="",
        kind="image",
        width=32,
        height=24,
        channels=5,
        channel_names=names,
        frames=(0,),
        pixel_type="half",
        alpha_channel=3,
    )
    with open_writer(tmp_path / "a.exr", like) as w:
        w.write(px)
    info = probe(tmp_path / "a.exr")
    assert (info.pixel_type, info.channel_names, info.alpha_channel) == ("half", names, 3)
    back = next(read_frames(info))
    assert back.dtype == np.float32 and back.shape == (24, 32, 5)
    rel = np.abs(back - px) / np.maximum(np.abs(px), 1e-2)
    assert rel.max() <= 1e-3
    assert back.max() > 6 and back.min() < -0.5  # nothing clamped


def test_exr_float_stays_float_and_exact(tmp_path, gradient):
    px = gradient(scale=100.0)
    write_image(tmp_path / "f.exr", px, pixel_type="float")
    assert probe(tmp_path / "f.exr").pixel_type == "float"
    np.testing.assert_array_equal(read_image(tmp_path / "f.exr"), px)


def test_png16_keeps_more_than_8_bits(tmp_path):
    ramp = np.linspace(0, 1, 4096, dtype=np.float32).reshape(64, 64, 1).repeat(3, 2)  # [64, 64, 3]
    oiio_write(tmp_path / "in.png", ramp, "uint16")
    info = probe(tmp_path / "in.png")
    assert info.pixel_type == "uint16" and info.kind == "image"
    back = next(read_frames(info))
    assert len(np.unique(back)) > 1000  # an 8-bit path would leave at most 256 levels
    assert np.abs(back - ramp).max() <= 0.5 / 65535 + 1e-7
    # ... and our writer keeps 16 bits when writing it back out.
    with open_writer(tmp_path / "out.png", info) as w:
        w.write(back)
    assert probe(tmp_path / "out.png").pixel_type == "uint16"
    np.testing.assert_array_equal(read_image(tmp_path / "out.png"), back)


def test_png_straight_alpha_is_not_premultiplied(tmp_path):
    px = np.zeros((4, 4, 4), np.float32)
    px[..., :3], px[..., 3] = 0.8, 0.5
    oiio_write(tmp_path / "a.png", px, "uint8", names=("R", "G", "B", "A"), oiio__UnassociatedAlpha=1)
    back = read_image(tmp_path / "a.png")
    np.testing.assert_allclose(back[..., :3], 204 / 255)  # as stored, not 0.4
    write_image(tmp_path / "b.png", back, pixel_type="uint8")
    np.testing.assert_array_equal(read_image(tmp_path / "b.png"), back)


@pytest.mark.parametrize(
    "ext, pixel_type, tol",
    [
        ("tif", "uint16", 1 / 65535),
        ("tif", "float", 0.0),
        ("dpx", "uint16", 0.52 / 1023),
        ("jpg", "uint8", 0.02),
        ("png", "uint8", 0.5 / 255 + 1e-6),
    ],
)
def test_other_formats_round_trip(tmp_path, gradient, ext, pixel_type, tol):
    px = gradient()
    write_image(tmp_path / f"x.{ext}", px, pixel_type=pixel_type)
    info = probe(tmp_path / f"x.{ext}")
    assert info.pixel_type == pixel_type and info.channels == 3
    if ext == "dpx":
        assert info.bits == 10
    err = np.abs(next(read_frames(info)) - px)
    assert (err.mean() if ext == "jpg" else err.max()) <= tol  # JPEG is lossy: judge it on average


def test_float_into_png_becomes_16_bit_and_jpeg_drops_alpha(tmp_path, gradient):
    write_image(tmp_path / "x.png", gradient())
    assert probe(tmp_path / "x.png").pixel_type == "uint16"
    write_image(tmp_path / "x.jpg", gradient(c=4))
    assert probe(tmp_path / "x.jpg").channels == 3


@pytest.mark.parametrize("pattern", ["shot.%04d.exr", "shot.####.exr"])
def test_sequence_patterns_and_ranges(tmp_path, gradient, pattern):
    like = ClipInfo.make(32, 24, 3, 6, first=1001)
    written = _write_seq(str(tmp_path / pattern), range(1001, 1007), like, gradient)
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"shot.{f}.exr" for f in range(1001, 1007)]
    info = probe(tmp_path / pattern)
    assert info.kind == "sequence" and info.frames == tuple(range(1001, 1007))
    got = list(read_frames(tmp_path / pattern, (1003, 1004)))
    assert len(got) == 2
    np.testing.assert_allclose(got[0], written[2], atol=1e-3)
    np.testing.assert_allclose(got[1], written[3], atol=1e-3)
    with pytest.raises(InputError, match="outside"):
        probe(info, (1000, 1003))


def test_pattern_only_matches_its_own_padding(tmp_path, gradient):
    for name in ("s.0001.exr", "s.0002.exr", "s.12.exr", "s.v2.0001.exr", "s.10000.exr", "s.0003.exr.bak"):
        (tmp_path / name).write_bytes(b"")  # scanning looks at names only
    pat = SequencePattern.parse(tmp_path / "s.####.exr")
    assert pat.scan() == [1, 2, 10000]
    assert SequencePattern.parse(tmp_path / "s.%d.exr").scan() == [12, 10000]  # printf %d: no padding
    assert SequencePattern.parse("a/b.exr") is None
    assert SequencePattern.parse("a/b.@@@.png").name(7) == "b.007.png"


def test_missing_frame_names_the_file(tmp_path, gradient):
    for f in (1, 2, 4):
        oiio_write(tmp_path / f"m.{f:04d}.exr", gradient(), "half")
    with pytest.raises(MissingFrameError, match=r"m\.0003\.exr"):
        probe(tmp_path / "m.####.exr")
    with pytest.raises(MissingFrameError, match=r"m\.0005\.exr"):
        probe(tmp_path / "m.####.exr", (4, 5))
    assert len(probe(tmp_path / "m.####.exr", (1, 2))) == 2
    with pytest.raises(MissingFrameError, match="no frames match"):
        probe(tmp_path / "other.####.exr")


def test_frame_deleted_while_reading_names_the_file(tmp_path, gradient):
    for f in (1, 2, 3):
        oiio_write(tmp_path / f"d.{f:04d}.exr", gradient(), "half")
    frames = read_frames(tmp_path / "d.####.exr")
    next(frames)
    (tmp_path / "d.0002.exr").unlink()
    with pytest.raises(MissingFrameError, match=r"d\.0002\.exr"):
        next(frames)


def test_frame_size_change_mid_sequence(tmp_path, gradient):
    oiio_write(tmp_path / "z.0001.exr", gradient(24, 32), "half")
    oiio_write(tmp_path / "z.0002.exr", gradient(20, 32), "half")
    with pytest.raises(InputError, match=r"z\.0002\.exr is 32x20"):
        list(read_frames(tmp_path / "z.####.exr"))


@pytest.mark.parametrize("ext, pixel_type", [("exr", "half"), ("png", "uint16"), ("tif", "uint8")])
def test_truncated_file_is_an_input_error_naming_it(tmp_path, gradient, ext, pixel_type):
    path = oiio_write(tmp_path / f"t.{ext}", gradient(64, 64), pixel_type)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match=rf"t\.{ext}"):
        list(read_frames(path))


def test_garbage_and_absent_files(tmp_path):
    (tmp_path / "g.png").write_bytes(b"not an image at all" * 20)
    with pytest.raises(InputError, match=r"cannot read .*g\.png"):
        probe(tmp_path / "g.png")
    with pytest.raises(InputError, match="does not exist"):
        probe(tmp_path / "absent.exr")
    with pytest.raises(InputError, match="single image"):
        probe(tmp_path / "g.png", (1, 2))


def test_one_channel_image(tmp_path):
    oiio_write(tmp_path / "y.png", np.full((5, 6), 0.5, np.float32), "uint8")
    px = read_image(tmp_path / "y.png")
    assert px.shape == (5, 6, 1)


def test_cropped_exr_is_placed_in_its_display_window(tmp_path):
    data = np.full((4, 6, 3), 2.0, np.float32)  # a 6x4 bounding box ...
    spec = oiio.ImageSpec(6, 4, 3, "half")
    spec.x, spec.y = 10, -2  # ... partly above the frame
    spec.full_x, spec.full_y, spec.full_width, spec.full_height = 0, 0, 32, 24
    out = oiio.ImageOutput.create(str(tmp_path / "bbox.exr"))
    assert out.open(str(tmp_path / "bbox.exr"), spec) and out.write_image(data)
    out.close()
    info = probe(tmp_path / "bbox.exr")
    assert (info.width, info.height) == (32, 24) and info.extra["data_window"] == (10, -2, 6, 4)
    px = read_image(tmp_path / "bbox.exr")
    assert px.shape == (24, 32, 3)
    assert px[0:2, 10:16].min() == 2.0 and px.sum() == 2.0 * 2 * 6 * 3  # the 2 rows inside the frame


def test_sequence_in_a_missing_folder(tmp_path):
    with pytest.raises(InputError, match=r"folder .*nowhere does not exist"):
        probe(tmp_path / "nowhere" / "s.####.exr")


@pytest.mark.realdata
def test_real_jpeg_sequence_with_printf_pattern(shared_data):
    info = probe(shared_data / "davis" / "JPEGImages" / "blackswan" / "%05d.jpg", (0, 2))
    assert (info.width, info.height, info.frames, info.pixel_type) == (854, 480, (0, 1, 2), "uint8")
    frames = list(read_frames(info))
    assert len(frames) == 3 and 0.0 <= frames[0].min() and frames[0].max() <= 1.0
