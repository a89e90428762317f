"""Writing clips to disk in the HYouTube layout, plus exact flow, a manifest and a contact sheet.

    OUT/real_videos/<clip>/00000.jpg
    OUT/foreground_mask/<clip>/object_0/00000.png
    OUT/synthetic_composite_videos/<clip>/object_0/00000.jpg
    OUT/flow/<clip>/object_0.npz            flow float16 [T-1, 2, H, W] (dancing clips only)
    OUT/<split>_list.txt                    the HYouTube list file
    OUT/manifest.jsonl                      one line per clip: provenance (source, recolouring, seed index)

The set is built in a sibling temporary folder and renamed into place at the end, so an interrupted or failed
build never leaves a half-written dataset under OUT.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from vh.core.errors import OutputError
from vh.core.io.publish import signals_held
from vh.training.training_clip import TrainingClip


def _u8(x: np.ndarray) -> np.ndarray:
    return np.clip(x * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _imwrite(path: Path, rgb_or_grey: np.ndarray, jpeg_quality: int) -> None:
    import cv2

    data = _u8(rgb_or_grey)
    if data.ndim == 3:
        data = cv2.cvtColor(data, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if path.suffix == ".jpg" else []
    if not cv2.imwrite(str(path), data, params):
        raise OutputError(f"cannot write {path}")


def clip_folder_name(index: int, clip: TrainingClip) -> str:
    """`000042_<source>`: unique even when one photo yields several clips, and sorted in build order."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in clip.name)
    return f"{index:06d}_{safe}"


def write_clip(root: Path, clip: TrainingClip, name: str, jpeg_quality: int = 95) -> str:
    """Write one clip under `root` as `name`; returns its list-file line."""
    real_dir = root / "real_videos" / name
    mask_dir = root / "foreground_mask" / name / "object_0"
    comp_dir = root / "synthetic_composite_videos" / name / "object_0"
    for d in (real_dir, mask_dir, comp_dir):
        d.mkdir(parents=True, exist_ok=True)
    for t in range(len(clip)):
        _imwrite(real_dir / f"{t:05d}.jpg", clip.real[t], jpeg_quality)
        _imwrite(mask_dir / f"{t:05d}.png", clip.matte[t], jpeg_quality)
        _imwrite(comp_dir / f"{t:05d}.jpg", clip.comp[t], jpeg_quality)
    if clip.flow is not None:
        flow_dir = root / "flow" / name
        flow_dir.mkdir(parents=True, exist_ok=True)
        # float16 keeps 1/64 px precision up to 32 px of motion: well below JPEG's own noise
        np.savez_compressed(flow_dir / "object_0.npz", flow=clip.flow.astype(np.float16))
    return f"real_videos/{name} foreground_mask/{name}/object_0 synthetic_composite_videos/{name}/object_0"


def refuse_sources(out: str | Path, sources: Iterable[str | Path]) -> None:
    """A folder being made is never one the run reads, nor above or inside one: `--overwrite` would replace
    the source, and a set inside it would be read back as more source."""
    new = Path(out).resolve()
    for source in sources:
        root = Path(source).resolve()
        if new == root or new in root.parents or root in new.parents:
            raise OutputError(
                f"{out} would write over or into the source {source}; write it somewhere else "
                "(sources are never overwritten)"
            )


def write_dataset(
    out: str | Path,
    clips: Iterable[TrainingClip],
    split: str = "train",
    jpeg_quality: int = 95,
    overwrite: bool = False,
) -> dict:
    """Write all `clips` into a new HYouTube-layout folder `out`; returns {clips, frames, bytes}."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise OutputError(f"{out} already exists; pass --overwrite to replace it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {out.parent}: {exc.strerror}") from exc
    tmp = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    lines, frames = [], 0
    try:
        tmp.mkdir()
        with open(tmp / "manifest.jsonl", "w") as manifest:
            for i, clip in enumerate(clips):
                name = clip_folder_name(i, clip)
                lines.append(write_clip(tmp, clip, name, jpeg_quality))
                frames += len(clip)
                manifest.write(
                    json.dumps(
                        {"clip": name, "source_name": clip.name, **clip.meta}, sort_keys=True, default=str
                    )
                    + "\n"
                )
        (tmp / f"{split}_list.txt").write_text("\n".join(lines) + "\n")
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        with signals_held():  # a Ctrl-C between the two renames would lose the old set and the new one
            if out.exists():
                os.replace(out, old)
            try:
                os.replace(tmp, out)
            except OSError:
                if old.exists():
                    os.replace(old, out)
                raise
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return {"clips": len(lines), "frames": frames, "bytes": size}


def contact_sheet(clips: list[TrainingClip], path: str | Path, frames: int = 4) -> Path:
    """A PNG with one row per clip: `frames` composite frames, then the same real frames, then the first
    matte."""
    import cv2

    rows = []
    for clip in clips:
        picks = np.linspace(0, len(clip) - 1, min(frames, len(clip))).round().astype(int)
        tiles = [clip.comp[t] for t in picks] + [clip.real[t] for t in picks]
        tiles.append(np.repeat(clip.matte[0][:, :, None], 3, axis=2))
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0))) for t in tiles], axis=1))
    sheet = cv2.cvtColor(_u8(np.concatenate(rows, axis=0)), cv2.COLOR_RGB2BGR)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), sheet):
        raise OutputError(f"cannot write contact sheet {path}")
    return path
