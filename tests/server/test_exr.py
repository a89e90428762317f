"""The host-side EXR codec against OpenImageIO, both directions, and its errors on files it cannot read."""

import numpy as np
import OpenImageIO as oiio
import pytest

from vh.server.exr import ExrError, read_exr, write_exr


def _oiio_read(path):
    inp = oiio.ImageInput.open(str(path))
    try:
        return inp.read_image("float"), inp.spec()
    finally:
        inp.close()


def _oiio_write(path, pixels, pixel_type, compression):
    h, w, c = pixels.shape
    spec = oiio.ImageSpec(w, h, c, oiio.HALF if pixel_type == "half" else oiio.FLOAT)
    spec.attribute("compression", compression)
    out = oiio.ImageOutput.create(str(path))
    out.open(str(path), spec)
    out.write_image(pixels)
    out.close()


@pytest.fixture
def hdr_image():
    rng = np.random.default_rng(7)
    return (rng.random((37, 53, 4)) * 20 - 2).astype(np.float32)  # odd sizes, negatives and values > 1


@pytest.mark.parametrize("pixel_type", ["half", "float"])
@pytest.mark.parametrize("compression", ["none", "zips", "zip"])
def test_round_trips_with_openimageio(tmp_path, hdr_image, pixel_type, compression):
    expected = hdr_image.astype(np.float16).astype(np.float32) if pixel_type == "half" else hdr_image
    ours = tmp_path / "ours.exr"
    write_exr(ours, hdr_image, pixel_type=pixel_type, compression=compression)
    pixels, spec = _oiio_read(ours)
    assert spec.channelnames == ("R", "G", "B", "A")
    np.testing.assert_array_equal(pixels, expected)

    theirs = tmp_path / "theirs.exr"
    _oiio_write(theirs, hdr_image, pixel_type, compression)
    image = read_exr(theirs)
    assert image.channels == ["R", "G", "B", "A"] and image.pixel_type == pixel_type
    np.testing.assert_array_equal(image.pixels, expected)


def test_single_channel_matte(tmp_path):
    matte = np.linspace(0, 1, 64 * 32, dtype=np.float32).reshape(32, 64)
    write_exr(tmp_path / "m.exr", matte, pixel_type="float")
    image = read_exr(tmp_path / "m.exr")
    assert image.channels == ["Y"]
    np.testing.assert_array_equal(image.pixels[..., 0], matte)


def test_rejects_unsupported_and_corrupt_files(tmp_path, hdr_image):
    piz = tmp_path / "piz.exr"
    _oiio_write(piz, hdr_image, "half", "piz")
    with pytest.raises(ExrError, match="PIZ"):
        read_exr(piz)

    good = tmp_path / "good.exr"
    write_exr(good, hdr_image, compression="none")
    truncated = tmp_path / "truncated.exr"
    truncated.write_bytes(good.read_bytes()[:-500])
    with pytest.raises(ExrError, match="truncated"):
        read_exr(truncated)

    junk = tmp_path / "junk.exr"
    junk.write_bytes(b"not an exr at all")
    with pytest.raises(ExrError, match="not an OpenEXR"):
        read_exr(junk)


def test_write_is_atomic(tmp_path, hdr_image):
    target = tmp_path / "out.exr"
    with pytest.raises(ExrError):
        write_exr(target, hdr_image[..., :2])  # two channels need names: fails before touching the folder
    assert list(tmp_path.iterdir()) == []
