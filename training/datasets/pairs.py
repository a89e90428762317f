"""Image+mask folders: `images/<stem>.jpg` with `masks/<stem>.png`, the raw material of dancing clips.

A root is either one such folder or a parent of several (as `train_pairs/<source>/images|masks`); an optional
list file names the stems to use. Pairs are checked up front (every image has its mask) so that a long build
does not fail an hour in; sizes are checked when a pair is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vh.core.errors import InputError
from vh.training.datasets.imagefiles import (
    check_same_size,
    list_images,
    read_image,
    read_list_file,
    read_mask,
)


@dataclass(frozen=True)
class ImagePair:
    """One photo and its region mask; `read()` loads them."""

    name: str
    image_path: Path
    mask_path: Path

    def read(self) -> tuple[np.ndarray, np.ndarray]:
        """(image float32 [H, W, 3] in 0..1, mask float32 [H, W] in {0, 1})."""
        image, mask = read_image(self.image_path), read_mask(self.mask_path)
        check_same_size(image, mask, self.image_path, self.mask_path)
        return image, mask


def _pairs_in(folder: Path, prefix: str) -> list[ImagePair]:
    masks = {p.stem: p for p in list_images(folder / "masks")} if (folder / "masks").is_dir() else {}
    if not masks:
        raise InputError(f"{folder} has images/ but no masks in masks/")
    pairs = []
    for image in list_images(folder / "images"):
        if image.stem not in masks:
            raise InputError(f"missing mask for {image}: expected {folder / 'masks' / image.stem}.png")
        pairs.append(ImagePair(prefix + image.stem, image, masks[image.stem]))
    return pairs


class ImageMaskFolder:
    """The pairs under `root` (one folder with images/+masks/, or several such subfolders)."""

    def __init__(self, root: str | Path, list_file: str | Path | None = None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"image+mask folder {self.root} does not exist")
        if (self.root / "images").is_dir():
            pairs = _pairs_in(self.root, "")
        else:
            sources = sorted(d for d in self.root.iterdir() if (d / "images").is_dir())
            if not sources:
                raise InputError(
                    f"{self.root} has no images/ folder (nor subfolders with images/ and masks/)"
                )
            pairs = [p for d in sources for p in _pairs_in(d, d.name + "/")]
        if list_file is not None:
            wanted = read_list_file(Path(list_file))
            by_name = {p.name: p for p in pairs} | {p.image_path.stem: p for p in pairs}
            unknown = [w for w in wanted if Path(w).stem not in by_name and w not in by_name]
            if unknown:
                raise InputError(
                    f"list file {list_file} names {len(unknown)} unknown pairs, e.g. {unknown[0]!r}"
                )
            pairs = [by_name.get(w) or by_name[Path(w).stem] for w in wanted]
        if not pairs:
            raise InputError(f"{self.root} holds no image+mask pairs")
        self.pairs: list[ImagePair] = pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> ImagePair:
        return self.pairs[index]

    def __iter__(self) -> Iterator[ImagePair]:
        return iter(self.pairs)
