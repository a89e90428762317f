"""Image+mask folders: real train_pairs, and clear errors for broken folders."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from tests.training.conftest import write_pairs
from vh.core.errors import InputError
from vh.training.datasets.pairs import ImageMaskFolder


@pytest.mark.realdata
def test_reads_the_real_training_pairs(shared_data):
    folder = ImageMaskFolder(shared_data / "train_pairs")
    assert len(folder) == 2607
    names = {p.name.split("/")[0] for p in folder}
    assert names == {"lalonde_efros_labelme", "vikram_human_seg", "weizmann_horses"}
    image, mask = folder[len(folder) - 1].read()
    assert image.dtype == np.float32 and image.shape[2] == 3 and min(image.shape[:2]) == 288
    assert mask.shape == image.shape[:2] and set(np.unique(mask)) == {0.0, 1.0}


def test_list_file_selects_pairs(tmp_path):
    root = write_pairs(tmp_path / "p", n=4)
    (tmp_path / "list.txt").write_text("# two of them\np02\np00.jpg\n")
    folder = ImageMaskFolder(root, tmp_path / "list.txt")
    assert [p.name for p in folder] == ["p02", "p00"]


def test_missing_mask_size_mismatch_and_empty_list_fail_clearly(tmp_path):
    root = write_pairs(tmp_path / "p", n=3)
    (root / "masks" / "p01.png").unlink()
    with pytest.raises(InputError, match=r"missing mask for .*p01\.jpg"):
        ImageMaskFolder(root)
    cv2.imwrite(str(root / "masks" / "p01.png"), np.zeros((5, 7), np.uint8))
    folder = ImageMaskFolder(root)
    with pytest.raises(
        InputError, match=r"size mismatch: image .*p01\.jpg is 96x72 but mask .*p01\.png is 7x5"
    ):
        folder[1].read()
    (tmp_path / "empty.txt").write_text("\n# nothing\n")
    with pytest.raises(InputError, match="list file .*empty.txt is empty"):
        ImageMaskFolder(root, tmp_path / "empty.txt")
    shutil.rmtree(root / "images")
    with pytest.raises(InputError, match="has no images/ folder"):
        ImageMaskFolder(root)
    with pytest.raises(InputError, match="does not exist"):
        ImageMaskFolder(tmp_path / "nowhere")
