"""3D LUTs (.cube) applied through OCIO's FileTransform, as HYouTube recoloured its foregrounds.

Real-world .cube files carry vendor comments in latin-1 (copyright signs, umlauts) that OCIO's parser may
reject, so every LUT is first sanitised into a cached ASCII copy: comments dropped, the numeric body and
keywords kept byte-for-byte. The cache is keyed by the file's content hash, so editing a LUT can never serve a
stale copy."""

from __future__ import annotations

import hashlib
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from vh.core.errors import InputError
from vh.core.io.publish import atomic_write_text


def _cache_dir() -> Path:
    return Path(os.environ.get("VH_CACHE", Path(tempfile.gettempdir()) / "vh-cache")) / "luts"


def sanitized_cube(path: str | Path) -> Path:
    """An ASCII-only copy of the .cube at `path` (comments removed), cached by content hash."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read LUT {path}: {exc.strerror}") from exc
    digest = hashlib.sha1(raw).hexdigest()[:16]
    out = _cache_dir() / f"{path.stem}-{digest}.cube"
    if out.exists():
        return out
    lines = []
    for line in raw.decode("latin-1").splitlines():
        line = line.split("#", 1)[0].strip()  # comments are the only place non-ASCII bytes are legal
        if line:
            lines.append(line.encode("ascii", "replace").decode("ascii"))
    if not any(ln.upper().startswith("LUT_3D_SIZE") for ln in lines):
        raise InputError(f"{path} is not a 3D .cube LUT (no LUT_3D_SIZE line)")
    out.parent.mkdir(parents=True, exist_ok=True)
    # several loader workers may race to create the same file: each writes its own temporary
    atomic_write_text(out, "\n".join(lines) + "\n", encoding="ascii")
    return out


@lru_cache(maxsize=128)
def _processor(clean_path: str):
    import PyOpenColorIO as ocio

    config = ocio.Config.CreateRaw()  # a LUT file needs no colourspaces: apply it to the values as they are
    transform = ocio.FileTransform(src=clean_path, interpolation=ocio.INTERP_LINEAR)
    try:
        processor = config.getProcessor(transform)
    except ocio.Exception as exc:
        raise InputError(f"OCIO cannot load LUT {clean_path}: {exc}") from exc
    # LOSSLESS keeps OCIO from approximating the LUT (it must match an exact trilinear lookup).
    return processor.getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)


def apply_lut(image: np.ndarray, lut_path: str | Path) -> np.ndarray:
    """`image` float32 [H, W, 3] (sRGB-encoded 0..1) through the .cube at `lut_path`, trilinear; a new
    array."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"apply_lut expects an [H, W, 3] image, got shape {image.shape}")
    out = np.ascontiguousarray(image, dtype=np.float32).copy()  # [H, W, 3]; OCIO works in place
    _processor(str(sanitized_cube(lut_path))).applyRGB(out)
    return out


def list_luts(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    luts = sorted(folder.glob("*.cube"), key=lambda p: (len(p.stem), p.stem)) if folder.is_dir() else []
    if not luts:
        raise InputError(f"no .cube LUTs in {folder}")
    return luts
