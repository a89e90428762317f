"""iHarmony4 triplets: the real folder, both naming schemes, and clear errors."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vh.core.errors import InputError
from vh.training.datasets.iharmony4 import IHarmony4


@pytest.mark.realdata
def test_reads_the_real_triplets(shared_data):
    ds = IHarmony4(shared_data / "iharmony4")
    assert len(ds) == 7
    t = next(t for t in ds if t.name == "rainnet1")
    comp, mask, real = t.read()
    assert comp.shape == real.shape == (256, 256, 3) and mask.shape == (256, 256)
    assert 0 < mask.mean() < 1 and np.abs(comp - real)[mask == 0].max() < 0.05  # background mostly equal


def make_original_layout(root, mask_value=(0, 0, 200)):
    for d in ("composite", "mask", "real"):
        (root / d).mkdir(parents=True)
    img = np.full((8, 10, 3), 100, np.uint8)
    cv2.imwrite(str(root / "composite" / "a1_2_3.jpg"), img)
    cv2.imwrite(str(root / "real" / "a1.jpg"), img)
    mask = np.zeros((8, 10, 3), np.uint8)
    mask[2:5, 3:6] = mask_value  # only one channel set: "any channel > 127" still reads it
    cv2.imwrite(str(root / "mask" / "a1_2.png"), mask)


def test_original_naming_and_any_channel_mask(tmp_path):
    make_original_layout(tmp_path)
    ((comp, mask, real),) = [t.read() for t in IHarmony4(tmp_path)]
    assert mask.sum() == 9 and comp.shape == real.shape == (8, 10, 3)


def test_errors(tmp_path):
    make_original_layout(tmp_path)
    (tmp_path / "list.txt").write_text("")
    with pytest.raises(InputError, match="is empty"):
        IHarmony4(tmp_path, tmp_path / "list.txt")
    (tmp_path / "list.txt").write_text("zz_1_1.jpg\n")
    with pytest.raises(InputError, match="names a missing composite"):
        IHarmony4(tmp_path, tmp_path / "list.txt")
    cv2.imwrite(str(tmp_path / "mask" / "a1_2.png"), np.zeros((4, 4), np.uint8))
    with pytest.raises(InputError, match="size mismatch"):
        IHarmony4(tmp_path)[0].read()
    (tmp_path / "mask" / "a1_2.png").unlink()
    with pytest.raises(InputError, match="missing mask for composite"):
        IHarmony4(tmp_path)
    import shutil

    shutil.rmtree(tmp_path / "real")
    with pytest.raises(InputError, match="has no real/ subfolder"):
        IHarmony4(tmp_path)
