"""The grade check: real footage, a foreground given a known grade, the ungraded original as ground truth.

Two shots, both through the product's engine at full resolution (the path of `vh harmonize`):

- `video_composite`: the real 1920x1080 portrait clip (../shared/data/video_composite) composited over its
  real background, `mask * fg + (1 - mask) * bg`, with the foreground graded inside the matte;
- `lemur`: the bundled CC0 lemur photo over its own background layer (one frame).

Each grade is a scene-linear grade (vh.training.recolor.grade) that a mismatched element typically carries:
orange and darker, cool and flat, a small exposure slip. fMSE is on the 0..255 scale over matte > 0.5 pixels
at full resolution, averaged over frames. Lower is better; the composite's own fMSE is "cut".

    python benchmarks/bench_grade_check.py [--models cut,stats,histogram,vhmae] [--frames 24] [--png DIR]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from vh.core.color import working_space
from vh.core.engine import Engine
from vh.core.metrics import fmse
from vh.training.recolor import grade

GRADES = {
    "orange_darker": [("exposure", (-0.8,)), ("white_balance", (0.3, -0.05))],
    "cool_flat": [("white_balance", (-0.25, 0.05)), ("saturation", (0.6,)), ("contrast", (0.8,))],
    "exposure_slip": [("exposure", (0.35,))],
}


def _data() -> Path:
    return Path(
        os.environ.get("VH_SHARED_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data")
    )


def video_shot(frames: int):
    from vh.core.io import probe, read_frames

    root = _data() / "video_composite"
    streams = [read_frames(probe(str(root / f"{n}.mp4"))) for n in ("foreground", "mask", "background")]
    for _, (fg, m, bg) in zip(range(frames), zip(*streams)):
        yield fg[..., :3], m[..., 0], bg[..., :3]


def lemur_shot():
    from vh.core.io import read_image

    assets = Path(__file__).resolve().parents[1] / "core" / "assets" / "lemur"
    fg = read_image(assets / "lemur_foreground.png")[..., :3]
    bg = read_image(assets / "lemur_background.png")[..., :3]
    alpha = read_image(assets / "lemur_alpha.png")[..., 0]
    yield fg, alpha, bg


def score(engine: Engine | None, shot, grade_ops) -> tuple[float, np.ndarray]:
    comps, truths, mattes = [], [], []
    for fg, m, bg in shot:
        a = m[..., None]
        truths.append(a * fg + (1 - a) * bg)
        comps.append((a * grade(fg, grade_ops) + (1 - a) * bg).astype(np.float32))
        mattes.append(m.astype(np.float32))
    outs = comps if engine is None else list(engine.run(comps, mattes, working_space()))
    errors = [fmse(o * 255, t * 255, m > 0.5) for o, t, m in zip(outs, truths, mattes)]
    mid = len(outs) // 2
    return float(np.mean(errors)), np.concatenate([comps[mid], outs[mid], truths[mid]], axis=1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="cut,stats,histogram,vhmae")
    p.add_argument("--checkpoint", help="weights for vhmae instead of the shipped ones")
    p.add_argument("--frames", type=int, default=24)
    p.add_argument("--png", type=Path, help="write composite | result | original of each case here")
    args = p.parse_args()
    from vh.core.io import write_image

    models = args.models.split(",")
    engines = {m: Engine(m, checkpoint=args.checkpoint if m.startswith("vhmae") else None) for m in models}
    print("shot            grade          " + "  ".join(f"{m:>10}" for m in models))
    for shot_name, shot in (("video_composite", lambda: video_shot(args.frames)), ("lemur", lemur_shot)):
        for grade_name, ops in GRADES.items():
            row = []
            for m in models:
                value, strip = score(None if m == "cut" else engines[m], shot(), ops)
                row.append(value)
                if args.png:
                    args.png.mkdir(parents=True, exist_ok=True)
                    write_image(
                        args.png / f"{shot_name}_{grade_name}_{m}.png",
                        np.clip(strip, 0, 1),
                        pixel_type="uint8",
                    )
            print(f"{shot_name:<15} {grade_name:<14} " + "  ".join(f"{v:10.1f}" for v in row), flush=True)


if __name__ == "__main__":
    main()
