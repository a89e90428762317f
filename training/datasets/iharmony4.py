"""iHarmony4 triplets: `composite/<name>`, `mask/<name>.png` (foreground = any channel > 127), `real/<name>`.

In the original release composites are named `<real>_<mask>_<k>.jpg` with real `<real>.jpg` and mask
`<real>_<mask>.png`; flattened copies use one stem for all three. Both are accepted. An optional list file
(e.g. `IHD_train.txt`) names the composites to use.
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
class Triplet:
    name: str
    composite_path: Path
    mask_path: Path
    real_path: Path

    def read(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(composite [H, W, 3], mask [H, W] in {0, 1}, real [H, W, 3]), float32."""
        comp, mask, real = (
            read_image(self.composite_path),
            read_mask(self.mask_path),
            read_image(self.real_path),
        )
        check_same_size(comp, mask, self.composite_path, self.mask_path)
        check_same_size(real, mask, self.real_path, self.mask_path)
        return comp, mask, real


def _find(folder: Path, stems: list[str], what: str, comp: Path) -> Path:
    for stem in stems:
        for p in folder.glob(stem + ".*"):
            return p
    raise InputError(f"missing {what} for composite {comp}: looked for {folder}/{stems[0]}.*")


class IHarmony4:
    def __init__(self, root: str | Path, list_file: str | Path | None = None):
        self.root = Path(root)
        for sub in ("composite", "mask", "real"):
            if not (self.root / sub).is_dir():
                raise InputError(f"iHarmony4 folder {self.root} has no {sub}/ subfolder")
        if list_file is not None:
            comps = [self.root / "composite" / Path(n).name for n in read_list_file(Path(list_file))]
            missing = [c for c in comps if not c.is_file()]
            if missing:
                raise InputError(f"list file {list_file} names a missing composite: {missing[0]}")
        else:
            comps = list_images(self.root / "composite")
        if not comps:
            raise InputError(f"{self.root / 'composite'} holds no images")
        self.triplets: list[Triplet] = []
        for c in comps:
            parts = c.stem.split("_")
            mask = _find(self.root / "mask", [c.stem, "_".join(parts[:-1])], "mask", c)
            real = _find(self.root / "real", [c.stem, parts[0]], "real image", c)
            self.triplets.append(Triplet(c.stem, c, mask, real))

    def __len__(self) -> int:
        return len(self.triplets)

    def __getitem__(self, index: int) -> Triplet:
        return self.triplets[index]

    def __iter__(self) -> Iterator[Triplet]:
        return iter(self.triplets)
