"""Reading the 8-bit photos and masks that training sets are made of, with one-line errors for bad files.

Images come back as float32 [H, W, 3] RGB in 0..1 (sRGB-encoded, the model working space); masks as float32
[H, W] with values 0 or 1.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vh.core.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")


def read_image(path: str | Path) -> np.ndarray:
    """An 8- or 16-bit RGB(A) file as float32 [H, W, 3] in 0..1."""
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise InputError(f"cannot read image {path}: missing, empty or not an image")
    scale = 65535.0 if data.dtype == np.uint16 else 255.0
    if data.ndim == 2:
        data = np.repeat(data[:, :, None], 3, axis=2)
    rgb = cv2.cvtColor(np.ascontiguousarray(data[:, :, :3]), cv2.COLOR_BGR2RGB)
    return rgb.astype(np.float32) / scale  # [H, W, 3]


def read_mask(path: str | Path, threshold: int = 127) -> np.ndarray:
    """A binary mask as float32 [H, W]: a pixel is foreground when any channel > threshold (iHarmony4
    rule)."""
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise InputError(f"cannot read mask {path}: missing, empty or not an image")
    if data.dtype == np.uint16:
        data = (data >> 8).astype(np.uint8)
    if data.ndim == 3:
        data = data[:, :, :3].max(axis=2)  # "any channel" = the max over colour channels
    return (data > threshold).astype(np.float32)  # [H, W]


def read_label_map(path: str | Path) -> np.ndarray:
    """A DAVIS annotation as uint8 [H, W] object ids.

    Palette PNGs (DAVIS 2017, several objects) store the object id as the palette index, which OpenCV would
    expand to colours, so they are read with Pillow. Greyscale 0/255 PNGs (DAVIS 2016, one object) map to id
    1."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            if im.mode == "P":
                return np.asarray(im, dtype=np.uint8).copy()
            grey = np.asarray(im.convert("L"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError) as exc:
        raise InputError(f"cannot read annotation {path}: {exc}") from exc
    return (grey > 127).astype(np.uint8)


def check_same_size(image: np.ndarray, mask: np.ndarray, image_path: Path, mask_path: Path) -> None:
    if image.shape[:2] != mask.shape[:2]:
        raise InputError(
            f"size mismatch: image {image_path} is {image.shape[1]}x{image.shape[0]} "
            f"but mask {mask_path} is {mask.shape[1]}x{mask.shape[0]}"
        )


def list_images(folder: Path) -> list[Path]:
    return sorted(
        p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def read_list_file(path: Path) -> list[str]:
    """Non-empty, non-comment lines of a list file; an empty list is an error (it would train on nothing)."""
    if not path.is_file():
        raise InputError(f"list file {path} does not exist")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith("#")]
    if not lines:
        raise InputError(f"list file {path} is empty")
    return lines
