"""The HYouTube reader on tiny folders built here (good and malformed) and on the real validation set."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vh.core.errors import InputError, MissingFrameError
from vh.core.io.hyoutube import HYouTube

LINE = "real_videos/{c} foreground_mask/{c}/object_0 synthetic_composite_videos/{c}/object_0"


def _write(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)


def make_dataset(root: Path, clips=("a", "b"), frames: int = 3, h: int = 12, w: int = 16) -> Path:
    rng = np.random.default_rng(0)
    for c in clips:
        for i in range(frames):
            stem = f"{i:05d}"
            _write(root / "real_videos" / c / f"{stem}.jpg", rng.integers(0, 255, (h, w, 3), np.uint8))
            _write(
                root / "synthetic_composite_videos" / c / "object_0" / f"{stem}.jpg",
                rng.integers(0, 255, (h, w, 3), np.uint8),
            )
            mask = np.zeros((h, w), np.uint8)
            mask[2:8, 3:9] = 255
            _write(root / "foreground_mask" / c / "object_0" / f"{stem}.png", mask)
    (root / "test_list.txt").write_text("\n".join(LINE.format(c=c) for c in clips) + "\n")
    return root


def test_reads_a_good_folder(tmp_path):
    ds = HYouTube(make_dataset(tmp_path))
    assert len(ds) == 2
    clip = ds[0]
    assert clip.name == "a/object_0"
    assert clip.stems == ("00000", "00001", "00002")
    frames = list(ds.read(clip))
    assert [f.index for f in frames] == [0, 1, 2]
    f = frames[1]
    assert f.comp.shape == (12, 16, 3) and f.real.shape == (12, 16, 3) and f.mask.shape == (12, 16)
    assert f.comp.dtype == np.uint8 and f.mask.max() == 255
    comp, _real, matte = f.as_float()
    assert comp.dtype == np.float32 and matte.sum() == 36.0


def test_frames_sort_numerically(tmp_path):
    root = make_dataset(tmp_path, clips=("a",), frames=11)
    assert HYouTube(root)[0].stems[-2:] == ("00009", "00010")


def test_comp_is_rgb_order(tmp_path):
    root = make_dataset(tmp_path, clips=("a",), frames=1)
    red_bgr = np.zeros((12, 16, 3), np.uint8)
    red_bgr[..., 2] = 255
    _write(root / "real_videos/a/00000.png", red_bgr)
    (root / "real_videos/a/00000.jpg").unlink()
    f = next(HYouTube(root).read(HYouTube(root)[0]))
    assert f.real[0, 0].tolist() == [255, 0, 0]


def test_missing_list_file(tmp_path):
    root = make_dataset(tmp_path)
    with pytest.raises(InputError, match="train_list.txt"):
        HYouTube(root, split="train")


def test_empty_list_file(tmp_path):
    root = make_dataset(tmp_path)
    (root / "test_list.txt").write_text("\n# nothing here\n")
    with pytest.raises(InputError, match="names no clips"):
        HYouTube(root)


def test_malformed_line_names_file_and_line(tmp_path):
    root = make_dataset(tmp_path)
    (root / "test_list.txt").write_text(LINE.format(c="a") + "\nreal_videos/b foreground_mask/b/object_0\n")
    with pytest.raises(InputError, match=r"test_list.txt:2: expected 3 paths"):
        HYouTube(root)


def test_missing_folder(tmp_path):
    root = make_dataset(tmp_path)
    (root / "test_list.txt").write_text(LINE.format(c="zzz") + "\n")
    with pytest.raises(InputError, match="real video folder not found"):
        HYouTube(root)


def test_missing_mask_frame_is_named(tmp_path):
    root = make_dataset(tmp_path)
    (root / "foreground_mask/b/object_0/00001.png").unlink()
    with pytest.raises(
        MissingFrameError, match=r"mask frame 00001 is missing in .*foreground_mask/b/object_0"
    ):
        HYouTube(root)


def test_missing_real_frame_is_named(tmp_path):
    root = make_dataset(tmp_path)
    (root / "real_videos/a/00002.jpg").unlink()
    with pytest.raises(MissingFrameError, match="real frame 00002 is missing"):
        HYouTube(root)


@pytest.mark.parametrize("kind", ["mask", "comp"])
def test_size_mismatch_is_reported_when_read(tmp_path, kind):
    root = make_dataset(tmp_path)
    if kind == "mask":
        _write(root / "foreground_mask/a/object_0/00001.png", np.zeros((12, 15), np.uint8))
    else:
        _write(root / "synthetic_composite_videos/a/object_0/00001.jpg", np.zeros((10, 16, 3), np.uint8))
    ds = HYouTube(root)
    frames = ds.read(ds[0])
    next(frames)  # frame 0 is fine
    with pytest.raises(InputError, match="size mismatch"):
        next(frames)


def test_corrupt_image(tmp_path):
    root = make_dataset(tmp_path)
    (root / "real_videos/a/00000.jpg").write_bytes(b"not a jpeg")
    ds = HYouTube(root)
    with pytest.raises(InputError, match="cannot read image"):
        ds.read_frame(ds[0], 0)


def test_missing_root(tmp_path):
    with pytest.raises(InputError, match="dataset folder not found"):
        HYouTube(tmp_path / "nope")


@pytest.mark.realdata
def test_real_validation_set(shared_data):
    ds = HYouTube(shared_data / "hyoutube_val")
    assert len(ds) == 11
    assert all(len(c) == 20 for c in ds)
    f = ds.read_frame(ds[0], 0)
    assert f.real.shape == (480, 854, 3) and f.mask.shape == (480, 854)
    assert set(np.unique(f.mask)) <= set(range(256)) and f.mask.max() > 127
