"""How well the Huang et al. detector finds the disharmonious region: IoU of the auto matte against the truth.

    python benchmarks/bench_huang_detect.py --data out/unseen/lut                 # the shipped huang weights
    python benchmarks/bench_huang_detect.py --checkpoint CKPT --data DIR --thresholds 0.5 0.25 --json out.json

This is the mask-free mode of the paper (Sec. III-C): no matte goes in, D predicts one. For every clip of a
HYouTube-layout folder, composites and masks go to --size x --size as the evaluation protocol of the shared
data README says (bilinear frames, nearest masks > 127); D sees each frame as the engine feeds it
(area-resized to the model's working size). Scored per clip (per-frame IoU averaged over the clip, then over
clips; also pooled):

  - auto matte: D's maps through the engine's cleaning (vh.core.auto_matte: temporal smoothing, largest
    components, feather) at the model's calibrated `matte_threshold`: the matte `--matte auto` and `vh detect`
    use;
  - D > t: D's raw map cut at each --thresholds level, without cleaning;
  - all ones and a centred ellipse: guesses that know nothing of colour, which a detector must beat;
  - mean D inside / outside the true mask: the separation D learned;
  - on the real footage each composite was made from, where there is nothing to find: the share of frames on
    which the auto matte stays empty (a detector of objects rather than of disharmony fails here).

A frame where both the true and the predicted matte are empty counts as IoU 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vh.core.checkpoint import read_meta, shipped_checkpoint
from vh.core.engine import Engine, resize
from vh.core.io.hyoutube import HYouTube
from vh.core.models.registry import resolve_name
from vh.training.calibrate_matte import IoU, auto_mattes, load_clip, soft_maps

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = "../shared/data/hyoutube_val"


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


def centred_ellipse(shape: tuple[int, ...]) -> np.ndarray:
    """bool [T, H, W]: the ellipse inscribed in the frame's central half, a guess that knows only framing."""
    t, h, w = shape
    y, x = np.mgrid[:h, :w]
    inside = ((y - (h - 1) / 2) / (h / 4)) ** 2 + ((x - (w - 1) / 2) / (w / 4)) ** 2 <= 1.0
    return np.broadcast_to(inside, shape)


def run(args: argparse.Namespace) -> dict:
    data = resolve_data(args.data)
    ds = HYouTube(data, split="test")
    # the shipped weights, as `--model huang` loads them, unless a checkpoint is named
    engine = Engine(None if args.checkpoint else "huang", checkpoint=args.checkpoint, device=args.device)
    if engine.detector is None:
        raise SystemExit(f"{args.checkpoint} holds a model with no detector; pass a Huang checkpoint")
    meta = read_meta(args.checkpoint or shipped_checkpoint(resolve_name("huang")))
    raw = {t: IoU() for t in args.thresholds}
    auto, untouched, ones, ellipse, separation = IoU(), IoU(), IoU(), IoU(), Separation()
    start = time.perf_counter()
    for index in range(len(ds)):
        comps, reals, truth = load_clip(ds, index, args.size)
        untouched.add_clip(auto_mattes(engine, reals), np.zeros_like(truth))
        auto.add_clip(auto_mattes(engine, comps), truth)
        soft = np.stack([resize(m, truth.shape[1:]) for m in soft_maps(engine, comps)])  # [T, S, S], bilinear
        for t, score in raw.items():
            score.add_clip(soft > t, truth)
        ones.add_clip(np.ones_like(truth), truth)
        ellipse.add_clip(centred_ellipse(truth.shape), truth)
        separation.add_clip(soft, truth)
    return {
        "data": str(data),
        "checkpoint": str(args.checkpoint or "shipped"),
        "model": meta["model"],
        "step": meta.get("step"),
        "clips": len(ds),
        "frames": sum(len(c) for c in ds),
        "size": args.size,
        "seconds": time.perf_counter() - start,
        "matte_threshold": engine.detector.matte_threshold,
        "auto_matte": auto.summary(),
        "real_frames_left_alone": untouched.summary()["left_alone"],
        "thresholds": {str(t): score.summary() for t, score in raw.items()},
        "all_ones": ones.summary(),
        "centred_ellipse": ellipse.summary(),
        **separation.summary(),
    }


def print_table(result: dict) -> None:
    print(
        f"{result['model']} step {result['step']} on {result['data']}: {result['clips']} clips, "
        f"{result['frames']} frames at {result['size']}x{result['size']} ({result['seconds']:.1f} s)"
    )
    rows = {f"auto matte ({result['matte_threshold']:.2f})": result["auto_matte"]}
    rows.update({f"D > {t}": s for t, s in result["thresholds"].items()})
    rows.update({"all ones": result["all_ones"], "centred ellipse": result["centred_ellipse"]})
    print(f"{'matte':<20}{'mean IoU':>10}{'pooled IoU':>12}{'marked':>9}")
    for name, s in rows.items():
        print(f"{name:<20}{s['mean_iou']:>10.4f}{s['pooled_iou']:>12.4f}{s['marked']:>9.4f}")
    print(f"mean D inside the true mask {result['d_inside']:.4f}, outside {result['d_outside']:.4f}")
    print(
        "real footage (nothing to find): the auto matte stays empty on "
        f"{result['real_frames_left_alone']:.1%} "
        "of frames"
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--data",
        default=DEFAULT_DATA,
        help=(
            f"HYouTube-layout folder with test_list.txt, relative to the repo root (default: {DEFAULT_DATA})"
        ),
    )
    ap.add_argument("--checkpoint", help="a Huang checkpoint (default: the shipped huang weights)")
    ap.add_argument(
        "--thresholds",
        type=float,
        nargs="+",
        default=[0.5, 0.25],
        help="levels at which D's raw map is cut, beside the auto matte (default: 0.5 0.25)",
    )
    ap.add_argument("--size", type=int, default=256, help="protocol frame size, square (default: 256)")
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
    logging.getLogger("vh.core.engine").setLevel(logging.ERROR)  # "nothing found" is a result here, not news
    result = run(args)
    print_table(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
