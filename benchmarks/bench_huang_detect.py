"""Mask agreement of the Huang et al. disharmony discriminator: IoU between D(I_t) and the true mask on HYouTube.

    python benchmarks/bench_huang_detect.py --checkpoint runs/ht/checkpoints/ckpt-0001024
    python benchmarks/bench_huang_detect.py --checkpoint CKPT --thresholds 0.5 0.25 0.1 --json detect.json

This is the mask-free mode of the paper (Sec. III-C): no matte goes in, D predicts one. For each frame of every
clip of a HYouTube-layout folder (read with `vh.core.io.hyoutube`), the composite and the mask go to
--size x --size as the evaluation protocol of ../shared/data/README.md says (cv2.INTER_LINEAR for the frame,
cv2.INTER_NEAREST then > 127 for the mask). D then sees the frame the way `vh detect` and the engine feed it: resized
to the model's working size (area averaging), and its soft map comes back to --size bilinearly
(`--detect-size protocol` runs D directly on the --size frame instead). The predicted matte is map > threshold.

Reported per threshold:
  - mean IoU:   per-frame IoU averaged over the frames of a clip, then over clips (the protocol's averaging)
  - pooled IoU: sum of intersections / sum of unions over every pixel of every frame
  - marked:     the fraction of pixels the predicted matte marks, to tell a detector from a flood fill
and once, independent of the threshold:
  - mean D inside / outside the true mask (the clamped 0..1 map, pooled over pixels), the separation D learned
  - the IoU an all-ones matte scores (the foreground's coverage): a detector must beat it to be useful.
A frame where both the true and the predicted matte are empty counts as IoU 1 (they agree exactly).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from vh.core.checkpoint import load_checkpoint
from vh.core.engine import resize, working_size
from vh.core.io.hyoutube import HYouTube
from vh.core.models.base import Harmonizer

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = "../shared/data/hyoutube_val"


@dataclass
class Counts:
    """Running IoU sums for one threshold (or for the all-ones reference)."""

    clip_ious: list[float] = field(default_factory=list)  # one mean per clip
    intersection: int = 0
    union: int = 0
    marked: int = 0
    pixels: int = 0

    def add_clip(self, preds: np.ndarray, truth: np.ndarray) -> None:
        """preds, truth: bool [T, H, W] for one clip."""
        inter = np.logical_and(preds, truth).sum(axis=(1, 2))  # [T]
        union = np.logical_or(preds, truth).sum(axis=(1, 2))  # [T]
        # both empty means perfect agreement; the protocol averages per frame, so such a frame must get a value
        frame_iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)  # [T]
        self.clip_ious.append(float(frame_iou.mean()))
        self.intersection += int(inter.sum())
        self.union += int(union.sum())
        self.marked += int(preds.sum())
        self.pixels += preds.size

    def summary(self) -> dict[str, float]:
        return {
            "mean_iou": float(np.mean(self.clip_ious)),
            "pooled_iou": self.intersection / max(self.union, 1),
            "marked": self.marked / max(self.pixels, 1),
        }


@dataclass
class Separation:
    """Pooled sums of D inside and outside the true mask."""

    inside_sum: float = 0.0
    inside_n: int = 0
    outside_sum: float = 0.0
    outside_n: int = 0

    def add_clip(self, soft: np.ndarray, truth: np.ndarray) -> None:
        # float64 sums: a few million float32 values summed in float32 would drift in the 4th digit
        self.inside_sum += float(soft[truth].sum(dtype=np.float64))
        self.inside_n += int(truth.sum())
        self.outside_sum += float(soft[~truth].sum(dtype=np.float64))
        self.outside_n += int((~truth).sum())

    def summary(self) -> dict[str, float]:
        return {
            "d_inside": self.inside_sum / max(self.inside_n, 1),
            "d_outside": self.outside_sum / max(self.outside_n, 1),
        }


def resolve_data(path: str) -> Path:
    """--data relative to the repo root (not the cwd), so the default works from any directory."""
    root = Path(path) if Path(path).is_absolute() else (REPO / path).resolve()
    if not (root / "test_list.txt").is_file():
        raise SystemExit(
            f"HYouTube-layout folder not found: {root} (expected test_list.txt there). "
            f"Pass --data DIR; the default {DEFAULT_DATA} is the shared workplace data beside the checkout."
        )
    return root


def load_clip(ds: HYouTube, index: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(composites float32 [T, size, size, 3] in 0..1, true mask bool [T, size, size]) per the protocol."""
    comps, masks = [], []
    for frame in ds.read(ds[index]):
        comp = cv2.resize(frame.comp, (size, size), interpolation=cv2.INTER_LINEAR)
        mask = cv2.resize(frame.mask, (size, size), interpolation=cv2.INTER_NEAREST)
        comps.append(comp.astype(np.float32) / 255.0)
        masks.append(mask > 127)
    return np.stack(comps), np.stack(masks)


def detect_clip(
    model: Harmonizer, comps: np.ndarray, detect_size: tuple[int, int] | None, device: str
) -> np.ndarray:
    """D's soft map in 0..1 for one clip: comps [T, S, S, 3] -> [T, S, S]; detect_size None runs D at S."""
    size = comps.shape[1:3]
    frames = (
        comps if detect_size is None else np.stack([resize(c, detect_size) for c in comps])
    )  # [T, h, w, 3]
    x = torch.from_numpy(frames).permute(0, 3, 1, 2)[None].to(device)  # [B=1, T, 3, h, w]: a clip in one call
    with torch.no_grad():
        soft = model.detect(x)[0, :, 0].float().cpu().numpy()  # [T, h, w]
    if detect_size is not None:
        soft = np.stack([resize(s, size) for s in soft])  # [T, S, S], bilinear when growing, as `vh detect`
    return np.clip(soft, 0.0, 1.0)


def run(args: argparse.Namespace) -> dict:
    data = resolve_data(args.data)
    ds = HYouTube(data, split="test")
    # detect_threshold=0 so detect() returns D's soft map whatever the checkpoint says; we binarize ourselves
    model, meta = load_checkpoint(args.checkpoint, args.device, detect_threshold=0.0)
    if not hasattr(model, "detect"):
        raise SystemExit(f"model {meta['model']!r} has no detect(); pass a Huang checkpoint")
    detect_size = None if args.detect_size == "protocol" else working_size(model, args.size, args.size)
    if detect_size == (args.size, args.size):
        detect_size = None  # no resampling round trip when the model already works at the protocol size

    counts = {t: Counts() for t in args.thresholds}
    ones, separation = Counts(), Separation()
    start = time.perf_counter()
    for index in range(len(ds)):
        comps, truth = load_clip(ds, index, args.size)
        soft = detect_clip(model, comps, detect_size, args.device)
        for t, c in counts.items():
            c.add_clip(soft > t, truth)
        ones.add_clip(np.ones_like(truth), truth)
        separation.add_clip(soft, truth)
    seconds = time.perf_counter() - start

    return {
        "data": str(data),
        "checkpoint": str(args.checkpoint),
        "model": meta["model"],
        "step": meta.get("step"),
        "clips": len(ds),
        "frames": sum(len(c) for c in ds),
        "size": args.size,
        "detect_size": list(detect_size) if detect_size else [args.size, args.size],
        "seconds": seconds,
        "thresholds": {str(t): c.summary() for t, c in counts.items()},
        "all_ones": ones.summary(),
        **separation.summary(),
    }


def print_table(result: dict) -> None:
    h, w = result["detect_size"]
    print(
        f"{result['model']} step {result['step']} on {result['data']}: {result['clips']} clips, "
        f"{result['frames']} frames at {result['size']}x{result['size']}, D at {w}x{h} ({result['seconds']:.1f} s)"
    )
    print(f"{'matte':<14}{'mean IoU':>10}{'pooled IoU':>12}{'marked':>9}")
    for t, s in result["thresholds"].items():
        print(f"{'D > ' + t:<14}{s['mean_iou']:>10.4f}{s['pooled_iou']:>12.4f}{s['marked']:>9.4f}")
    s = result["all_ones"]
    print(f"{'all ones':<14}{s['mean_iou']:>10.4f}{s['pooled_iou']:>12.4f}{s['marked']:>9.4f}")
    print(f"mean D inside the true mask {result['d_inside']:.4f}, outside {result['d_outside']:.4f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="IoU between the Huang discriminator's matte D(I_t) and the true mask on a HYouTube-layout folder."
    )
    ap.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help=f"HYouTube-layout folder with test_list.txt, relative to the repo root (default: {DEFAULT_DATA})",
    )
    ap.add_argument(
        "--checkpoint", required=True, help="vh checkpoint of a Huang model (.safetensors, .json or stem)"
    )
    ap.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[0.5, 0.25],
        help="levels at which D's map becomes the predicted matte (default: 0.5 0.25)",
    )
    ap.add_argument("--size", type=int, default=256, help="protocol frame size, square (default: 256)")
    ap.add_argument(
        "--detect-size",
        choices=("model", "protocol"),
        default="model",
        help="where D runs: the model's working size, as `vh detect` does (default), or --size directly",
    )
    ap.add_argument("--device", default="cpu", help="cpu or cuda:N (default: cpu)")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON to OUT")
    args = ap.parse_args(argv)
    if any(not 0.0 <= t < 1.0 for t in args.thresholds):
        ap.error(f"--thresholds must lie in [0, 1): got {args.thresholds}")
    if args.size < 1:
        ap.error(f"--size must be positive, got {args.size}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print_table(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
