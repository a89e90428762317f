"""A streaming reader of the HYouTube on-disk layout.

    ROOT/real_videos/<clip>/NNNNN.jpg                            ground-truth frames
    ROOT/foreground_mask/<clip>/object_k/NNNNN.png               the object's mask (0/255)
    ROOT/synthetic_composite_videos/<clip>/object_k/NNNNN.jpg    the recoloured composite
    ROOT/train_list.txt, ROOT/test_list.txt                      one clip-object per line:
        real_videos/<clip> foreground_mask/<clip>/object_k synthetic_composite_videos/<clip>/object_k

Opening a dataset parses the list file and checks that every clip's three folders hold the same frames (by
stem), so a broken folder fails at once with a message naming the missing file, not halfway through a training
run. Pixels are read lazily, one frame at a time, so memory does not grow with the clip length; a size
mismatch between the three files of a frame is reported when that frame is read.

    ds = HYouTube("data/HYouTube", split="test")
    for clip in ds:
        for f in ds.read(clip):          # FrameTriplet: comp, real uint8 [H, W, 3] RGB; mask uint8 [H, W]
            ...
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vh.core.errors import InputError, MissingFrameError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ClipRecord:
    """One clip-object of the list file; `name` is `<clip>/object_k`, the layout's path under each kind
    folder."""

    name: str
    real_dir: Path
    mask_dir: Path
    comp_dir: Path
    #: frame file names per folder, in frame order; equal stems across the three
    real_files: tuple[str, ...]
    mask_files: tuple[str, ...]
    comp_files: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.real_files)

    @property
    def stems(self) -> tuple[str, ...]:
        return tuple(Path(f).stem for f in self.real_files)


@dataclass
class FrameTriplet:
    """One frame of a clip, exactly as stored (8-bit), RGB channel order."""

    index: int  # position in the clip, 0-based
    stem: str  # file stem, e.g. "00007"
    comp: np.ndarray  # [H, W, 3] uint8
    real: np.ndarray  # [H, W, 3] uint8
    mask: np.ndarray  # [H, W] uint8, 0..255

    def as_float(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(comp, real, matte) as float32 in 0..1; the matte is binary (mask > 127), as the protocol reads
        it."""
        comp = self.comp.astype(np.float32) / 255.0  # [H, W, 3]
        real = self.real.astype(np.float32) / 255.0  # [H, W, 3]
        matte = (self.mask > 127).astype(np.float32)  # [H, W]
        return comp, real, matte


def _frame_files(folder: Path) -> dict[str, str]:
    """stem -> file name of the images in `folder`."""
    files: dict[str, str] = {}
    for entry in os.scandir(folder):
        if entry.is_file() and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
            stem = Path(entry.name).stem
            if stem in files:
                raise InputError(f"two files for frame {stem} in {folder}: {files[stem]} and {entry.name}")
            files[stem] = entry.name
    return files


def _frame_key(stem: str) -> tuple[int, int | str]:
    # numeric stems sort numerically (9 before 10), anything else lexically after them
    return (0, int(stem)) if stem.isdigit() else (1, stem)


def read_rgb(path: Path) -> np.ndarray:
    """An 8-bit image file as RGB uint8 [H, W, 3]; InputError when it is missing or unreadable."""
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise InputError(f"cannot read image {path}")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> np.ndarray:
    """A mask file as uint8 [H, W] (first channel when stored as RGB); InputError when unreadable."""
    import cv2

    mask = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if mask is None:
        raise InputError(f"cannot read mask {path}")
    if mask.ndim == 3:
        mask = mask[..., 0]
    if mask.dtype == np.uint16:  # 16-bit masks: keep the 0..255 convention of the layout
        mask = (mask // 257).astype(np.uint8)
    if mask.dtype != np.uint8:
        raise InputError(f"mask {path} has pixel type {mask.dtype}; expected 8-bit")
    return mask


class HYouTube:
    """The clip-objects of one list file of a HYouTube-layout folder."""

    def __init__(
        self, root: str | os.PathLike, split: str = "test", list_file: str | os.PathLike | None = None
    ):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"dataset folder not found: {self.root}")
        self.list_file = Path(list_file) if list_file is not None else self.root / f"{split}_list.txt"
        if not self.list_file.is_absolute() and not self.list_file.exists():
            self.list_file = self.root / self.list_file
        if not self.list_file.is_file():
            raise InputError(
                f"list file not found: {self.list_file} (expected '{split}_list.txt' in {self.root})"
            )
        self.clips: list[ClipRecord] = [self._record(line_no, line) for line_no, line in self._lines()]
        if not self.clips:
            raise InputError(f"list file {self.list_file} names no clips")

    def _lines(self) -> Iterator[tuple[int, str]]:
        text = self.list_file.read_text(encoding="utf-8", errors="replace")
        for line_no, line in enumerate(text.splitlines(), start=1):
            line = line.strip()
            if line and not line.startswith("#"):
                yield line_no, line

    def _record(self, line_no: int, line: str) -> ClipRecord:
        parts = line.split()
        where = f"{self.list_file}:{line_no}"
        if len(parts) != 3:
            raise InputError(f"{where}: expected 3 paths (real, mask, composite), got {len(parts)}: {line!r}")
        real_dir, mask_dir, comp_dir = (self.root / p for p in parts)
        for kind, folder in (("real video", real_dir), ("mask", mask_dir), ("composite", comp_dir)):
            if not folder.is_dir():
                raise InputError(f"{where}: {kind} folder not found: {folder}")
        real, mask, comp = _frame_files(real_dir), _frame_files(mask_dir), _frame_files(comp_dir)
        if not real:
            raise InputError(f"{where}: no frames in {real_dir}")
        stems = sorted(real, key=_frame_key)
        for kind, folder, files in (("mask", mask_dir, mask), ("composite", comp_dir, comp)):
            missing = [s for s in stems if s not in files]
            if missing:
                raise MissingFrameError(
                    f"{kind} frame {missing[0]} is missing in {folder} ({len(missing)} of {len(stems)} "
                    "missing)"
                )
            extra = sorted(set(files) - set(real), key=_frame_key)
            if extra:
                raise MissingFrameError(
                    f"real frame {extra[0]} is missing in {real_dir} (present in {folder})"
                )
        # the name is the composite's path below its kind folder, "<clip>/object_k", as prediction folders use
        # it
        comp_rel = Path(parts[2])
        name = Path(*comp_rel.parts[1:]).as_posix() if len(comp_rel.parts) > 1 else comp_rel.as_posix()
        return ClipRecord(
            name=name,
            real_dir=real_dir,
            mask_dir=mask_dir,
            comp_dir=comp_dir,
            real_files=tuple(real[s] for s in stems),
            mask_files=tuple(mask[s] for s in stems),
            comp_files=tuple(comp[s] for s in stems),
        )

    def __len__(self) -> int:
        return len(self.clips)

    def __iter__(self) -> Iterator[ClipRecord]:
        return iter(self.clips)

    def __getitem__(self, index: int) -> ClipRecord:
        return self.clips[index]

    def read_frame(self, clip: ClipRecord, index: int) -> FrameTriplet:
        """Frame `index` of `clip`; InputError if its three files differ in size or cannot be read."""
        if not 0 <= index < len(clip):
            raise InputError(f"frame {index} is outside clip {clip.name} ({len(clip)} frames)")
        real_path = clip.real_dir / clip.real_files[index]
        comp_path = clip.comp_dir / clip.comp_files[index]
        mask_path = clip.mask_dir / clip.mask_files[index]
        real, comp, mask = read_rgb(real_path), read_rgb(comp_path), read_mask(mask_path)
        if comp.shape != real.shape:
            raise InputError(
                f"size mismatch: composite {comp_path} is {_wh(comp)}, real {real_path} is {_wh(real)}"
            )
        if mask.shape != real.shape[:2]:
            raise InputError(
                f"size mismatch: mask {mask_path} is {_wh(mask)}, real {real_path} is {_wh(real)}"
            )
        return FrameTriplet(
            index=index, stem=Path(clip.real_files[index]).stem, comp=comp, real=real, mask=mask
        )

    def read(self, clip: ClipRecord, start: int = 0, stop: int | None = None) -> Iterator[FrameTriplet]:
        """Stream frames [start, stop) of `clip`, one at a time."""
        stop = len(clip) if stop is None else min(stop, len(clip))
        for index in range(start, stop):
            yield self.read_frame(clip, index)


def _wh(a: np.ndarray) -> str:
    return f"{a.shape[1]}x{a.shape[0]}"
