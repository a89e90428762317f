"""DAVIS videos: `JPEGImages/<seq>/*.jpg` with `Annotations/<seq>/*.png`.

Annotations with several objects are palette PNGs whose index is the object id (0 = background); object k is
index k. DAVIS 2016 greyscale 0/255 annotations are object 1. Frames are read lazily, so a 100-frame 854x480
sequence costs one frame of memory at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vh.core.errors import InputError
from vh.training.datasets.imagefiles import check_same_size, list_images, read_image, read_label_map


@dataclass(frozen=True)
class DavisSequence:
    """One object of one sequence; `read(i)` gives frame i and that object's mask."""

    name: str
    frame_paths: tuple[Path, ...]
    mask_paths: tuple[Path, ...]
    object_id: int = 1

    def __len__(self) -> int:
        return len(self.frame_paths)

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(frame float32 [H, W, 3] in 0..1, mask float32 [H, W] in {0, 1})."""
        image = read_image(self.frame_paths[index])
        labels = read_label_map(self.mask_paths[index])
        check_same_size(image, labels, self.frame_paths[index], self.mask_paths[index])
        return image, (labels == self.object_id).astype(np.float32)


class Davis:
    """The sequences (and objects) under a DAVIS root; `objects="all"` makes one entry per object id."""

    def __init__(self, root: str | Path, sequences: list[str] | None = None, objects: str = "first"):
        self.root = Path(root)
        images, annotations = self.root / "JPEGImages", self.root / "Annotations"
        for d in (images, annotations):
            if not d.is_dir():
                raise InputError(f"DAVIS folder {self.root} has no {d.name}/ subfolder")
        # DAVIS 2017 nests one more level (JPEGImages/480p/<seq>); accept it when it is the only choice.
        if (images / "480p").is_dir() and (annotations / "480p").is_dir():
            images, annotations = images / "480p", annotations / "480p"
        names = sequences or sorted(d.name for d in images.iterdir() if d.is_dir())
        if not names:
            raise InputError(f"DAVIS folder {images} holds no sequences")
        self.sequences: list[DavisSequence] = []
        for name in names:
            if not (images / name).is_dir():
                raise InputError(f"DAVIS sequence {name!r} not found in {images}")
            frames = list_images(images / name)
            masks = (
                {p.stem: p for p in list_images(annotations / name)} if (annotations / name).is_dir() else {}
            )
            if not frames:
                raise InputError(f"DAVIS sequence {images / name} holds no frames")
            missing = [f for f in frames if f.stem not in masks]
            if missing:
                raise InputError(
                    f"missing mask for {missing[0]}: expected {annotations / name / missing[0].stem}.png"
                )
            mask_paths = tuple(masks[f.stem] for f in frames)
            ids = [1]
            if objects == "all":
                ids = sorted(int(i) for i in np.unique(read_label_map(mask_paths[0])) if i != 0) or [1]
            for k in ids:
                label = name if len(ids) == 1 else f"{name}-obj{k}"
                self.sequences.append(DavisSequence(label, tuple(frames), mask_paths, k))

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> DavisSequence:
        return self.sequences[index]

    def __iter__(self) -> Iterator[DavisSequence]:
        return iter(self.sequences)
