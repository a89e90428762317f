"""DAVIS: the real 2016 folder (0/255 masks), palette annotations with several objects, clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import Image

from vh.core.errors import InputError
from vh.training.datasets.davis import Davis


@pytest.mark.realdata
def test_reads_the_real_davis_sequences(shared_data):
    davis = Davis(shared_data / "davis")
    lengths = {s.name: len(s) for s in davis}
    assert lengths == {"blackswan": 50, "camel": 90, "car-shadow": 40, "cows": 104, "dog": 60, "goat": 90}
    frame, mask = davis[1].read(10)
    assert frame.shape == (480, 854, 3) and mask.shape == (480, 854)
    assert set(np.unique(mask)) == {0.0, 1.0} and 0.01 < mask.mean() < 0.5


def make_palette_davis(root, frames: int = 3):
    (root / "JPEGImages" / "two").mkdir(parents=True)
    (root / "Annotations" / "two").mkdir(parents=True)
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (256 * 3 - 9)
    for i in range(frames):
        cv2.imwrite(str(root / "JPEGImages" / "two" / f"{i:05d}.jpg"), np.full((6, 8, 3), 90, np.uint8))
        labels = np.zeros((6, 8), np.uint8)
        labels[1:3, 1:3] = 1  # object 1: 4 px, stored as palette index 1 (dark red)
        labels[3:6, 4:8] = 2  # object 2: 12 px, palette index 2 (dark green)
        im = Image.fromarray(labels, mode="P")
        im.putpalette(palette)
        im.save(root / "Annotations" / "two" / f"{i:05d}.png")


def test_palette_index_is_the_object_id(tmp_path):
    make_palette_davis(tmp_path)
    davis = Davis(tmp_path, objects="all")
    assert [s.name for s in davis] == ["two-obj1", "two-obj2"]
    assert davis[0].read(0)[1].sum() == 4 and davis[1].read(2)[1].sum() == 12
    assert Davis(tmp_path)[0].read(0)[1].sum() == 4  # default: the first object


def test_errors(tmp_path):
    make_palette_davis(tmp_path)
    (tmp_path / "Annotations" / "two" / "00001.png").unlink()
    with pytest.raises(InputError, match=r"missing mask for .*00001\.jpg"):
        Davis(tmp_path)
    Image.fromarray(np.zeros((3, 3), np.uint8), mode="P").save(tmp_path / "Annotations" / "two" / "00001.png")
    with pytest.raises(InputError, match="size mismatch"):
        Davis(tmp_path)[0].read(1)
    with pytest.raises(InputError, match="sequence 'nope' not found"):
        Davis(tmp_path, sequences=["nope"])
    with pytest.raises(InputError, match="has no JPEGImages/ subfolder"):
        Davis(tmp_path / "JPEGImages")
