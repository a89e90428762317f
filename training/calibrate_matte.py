"""Calibrate the level at which a detector's map becomes the auto matte, on training-side clips only.

    python -m vh.training.calibrate_matte runs/huang_cpu/checkpoints/ckpt-0000640 --data out/calib_matte

Per clip of a HYouTube-layout folder and per candidate level, the matte comes from the engine's matte-only
stream, the one `vh detect` writes and `vh harmonize --matte auto` repaints by (D on the area-resized frame,
then `vh.core.auto_matte`: temporal smoothing, the level, largest components, feather). The level with the
best mean IoU against the true masks wins, where the real footage each composite was made from counts as a
clip whose true matte is empty: a level that also "finds" the untouched original is marking objects, not
disharmony. The product promises more than a good average there: footage with nothing to find passes through
unchanged. So only levels that leave at least `--leave-alone` of the untouched frames with an empty matte
(default 95%) are candidates; when none does, the strictest level is taken. Ship the level as the model's
`matte_threshold` (`python -m vh.training.ship ... --set matte_threshold=LEVEL`). Build the folder from the
training side of the held-out split, e.g.

    vh make-dataset out/calib_matte --pairs ../shared/data/train_pairs --davis ../shared/data/davis \\
        --luts ../shared/data/luts --holdout train --recolor hyoutube,grade --clips 16 --frames 8 --size 256
        \\ --seed 4004 --split test --davis-share 0.5

IoU is computed per frame at --size (the protocol size of the data README: bilinear frames, nearest masks >
127) and averaged over a clip's frames, then over clips. A frame where both the true and the predicted matte
are empty counts as IoU 1."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import sys
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch

from vh.core.color import WORKING_SPACE
from vh.core.engine import Engine, resize, working_size
from vh.core.errors import InputError
from vh.core.io.hyoutube import HYouTube

#: candidate levels of the smoothed map
LEVELS = tuple(round(x, 1) for x in np.arange(0.1, 0.91, 0.1))


@dataclass
class IoU:
    """Running IoU of one predicted matte against the truth, over clips."""

    clip_ious: list[float] = field(default_factory=list)  # one mean per clip
    empty_truth_frames: int = 0  # frames whose true matte is empty (untouched footage) ...
    left_alone: int = 0  # ... and of those, the ones whose predicted matte is empty too
    intersection: int = 0
    union: int = 0
    marked: int = 0
    pixels: int = 0

    def add_clip(self, preds: np.ndarray, truth: np.ndarray) -> None:
        """preds, truth: bool [T, H, W] for one clip."""
        inter = np.logical_and(preds, truth).sum(axis=(1, 2))  # [T]
        union = np.logical_or(preds, truth).sum(axis=(1, 2))  # [T]
        # both empty means perfect agreement; the protocol averages per frame, so such a frame must get a
        # value
        self.clip_ious.append(float(np.where(union > 0, inter / np.maximum(union, 1), 1.0).mean()))
        nothing_true = ~truth.any(axis=(1, 2))  # [T]
        self.empty_truth_frames += int(nothing_true.sum())
        self.left_alone += int((nothing_true & ~preds.any(axis=(1, 2))).sum())
        self.intersection += int(inter.sum())
        self.union += int(union.sum())
        self.marked += int(preds.sum())
        self.pixels += preds.size

    @property
    def mean(self) -> float:
        return float(np.mean(self.clip_ious)) if self.clip_ious else float("nan")

    def summary(self) -> dict[str, float]:
        return {
            "mean_iou": self.mean,
            "pooled_iou": self.intersection / max(self.union, 1),
            "marked": self.marked / max(self.pixels, 1),
            "left_alone": self.left_alone / max(self.empty_truth_frames, 1),
        }


def load_clip(ds, index: int, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(composites, real frames float32 [T, size, size, 3] in 0..1, true mask bool [T, size, size]), per the
    protocol."""
    comps, reals, masks = [], [], []
    for frame in ds.read(ds[index]):
        for images, image in ((comps, frame.comp), (reals, frame.real)):
            images.append(
                cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
            )
        masks.append(cv2.resize(frame.mask, (size, size), interpolation=cv2.INTER_NEAREST) > 127)
    return np.stack(comps), np.stack(reals), np.stack(masks)


def soft_maps(engine: Engine, frames: np.ndarray) -> np.ndarray:
    """The detector's raw maps at its working size, before cleaning: frames [T, S, S, 3] -> [T, h, w] 0..1."""
    size = working_size(engine.model, *frames.shape[1:3])
    x = torch.from_numpy(np.stack([resize(f, size) for f in frames])).permute(0, 3, 1, 2)[
        None
    ]  # [1, T, 3, h, w]
    return engine.detect(x)[0, :, 0].clamp(0.0, 1.0).numpy()  # [T, h, w]


def auto_mattes(engine: Engine, frames: np.ndarray) -> np.ndarray:
    """The matte `--matte auto` repaints by (the engine's matte-only stream), cut at 0.5: [T, S, S] bool."""
    return np.stack(list(engine.run(list(frames), None, WORKING_SPACE, matte_only=True))) > 0.5


def calibrate(checkpoint: str, data: Path, size: int = 256, levels=LEVELS) -> dict[float, IoU]:
    """IoU per level over every composite clip (truth: its mask) and its real footage (truth: nothing to
    find)."""
    ds = HYouTube(data, split="test")
    clips = [load_clip(ds, index, size) for index in range(len(ds))]
    engine = Engine(checkpoint=checkpoint)  # loaded once; each level is set on the detector's config
    detector = engine.detector
    if detector is None:
        raise InputError(f"{checkpoint} holds a model with no detector")
    scores = {}
    for level in levels:
        detector.config = dataclasses.replace(detector.config, matte_threshold=level)
        scores[level] = IoU()
        for comps, reals, truth in clips:
            scores[level].add_clip(auto_mattes(engine, comps), truth)
            scores[level].add_clip(auto_mattes(engine, reals), np.zeros_like(truth))
    return scores


def choose_level(scores: dict[float, IoU], leave_alone: float) -> float:
    """The best mean IoU among the levels that leave at least `leave_alone` of the untouched frames empty;
    the strictest level when none does."""
    safe = [level for level, score in scores.items() if score.summary()["left_alone"] >= leave_alone]
    if not safe:
        return max(scores)
    return max(safe, key=lambda level: scores[level].mean)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m vh.training.calibrate_matte", description=__doc__.split("\n")[0]
    )
    p.add_argument("checkpoint", help="a detector's checkpoint (a Huang model)")
    p.add_argument("--data", required=True, type=Path, help="HYouTube-layout folder built from training data")
    p.add_argument("--size", type=int, default=256, help="protocol frame size (default: 256)")
    p.add_argument(
        "--leave-alone",
        type=float,
        default=0.95,
        help="share of untouched frames a level must leave with an empty matte (default: %(default)s)",
    )
    args = p.parse_args(argv)
    logging.getLogger("vh.core.engine").setLevel(logging.ERROR)  # "nothing found" is a result here, not news
    from vh.core.errors import VhError

    try:
        scores = calibrate(args.checkpoint, args.data, args.size)
    except VhError as exc:
        print(f"vh: error: {exc}", file=sys.stderr)
        return 2
    print(f"{'level':>6}{'mean IoU':>10}{'pooled IoU':>12}{'marked':>9}{'left alone':>12}")
    for level, score in scores.items():
        s = score.summary()
        print(
            f"{level:>6.2f}{s['mean_iou']:>10.4f}{s['pooled_iou']:>12.4f}{s['marked']:>9.4f}"
            f"{s['left_alone']:>12.1%}"
        )
    best = choose_level(scores, args.leave_alone)
    s = scores[best].summary()
    print(
        f"best level {best:.2f}: mean IoU {s['mean_iou']:.4f}, "
        f"untouched frames left alone {s['left_alone']:.1%}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
