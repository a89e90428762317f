"""Frames per second of the default model beside `stats`, at 1080p and 4K, through the engine.

This is `vh harmonize`'s path (windows, model, guard, full-resolution transfer, composite), on this machine's
device.

    python benchmarks/bench_default.py [--frames 16] [--rounds 3] [--models vhmae,stats] [--device cpu]

The plate is a smooth synthetic scene-linear frame in the working space with a soft elliptical matte over
about a quarter of it (an actor). Rounds alternate the models so that drift in the machine's speed hits
both alike; each figure is the median over rounds of (frames / seconds for the whole clip, first window
included)."""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np

from vh.core.color import working_space
from vh.core.engine import Engine
from vh.core.models.registry import DEFAULT_MODEL

SIZES = {"1080p": (1080, 1920), "4K": (2160, 3840)}


def shot(h: int, w: int, n: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.random((9, 16, 3), np.float32), (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames, mattes = [], []
    for t in range(n):
        cx = w * (0.45 + 0.01 * t)
        d = ((xx - cx) / (0.18 * w)) ** 2 + ((yy - 0.55 * h) / (0.35 * h)) ** 2
        matte = np.clip((1.0 - d) * 8.0, 0.0, 1.0).astype(np.float32)
        frames.append(np.roll(base, 3 * t, axis=1) * np.float32(1.0 + 0.3 * matte[..., None]))
        mattes.append(matte)
    return frames, mattes


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--models", default=f"{DEFAULT_MODEL},stats")
    p.add_argument("--device", default="cpu")
    args = p.parse_args()
    models = list(dict.fromkeys(args.models.split(",")))
    engines = {m: Engine(m, device=args.device) for m in models}
    print(
        f"default model: {DEFAULT_MODEL}; device {args.device}; {args.frames} frames per clip, {args.rounds} "
        "rounds"
    )
    for label, (h, w) in SIZES.items():
        frames, mattes = shot(h, w, args.frames)
        fps: dict[str, list[float]] = {m: [] for m in models}
        for r in range(args.rounds):
            for m in models if r % 2 == 0 else reversed(models):
                start = time.perf_counter()
                for _ in engines[m].run(frames, mattes, working_space()):
                    pass
                fps[m].append(args.frames / (time.perf_counter() - start))
        med = {m: statistics.median(v) for m, v in fps.items()}
        ratio = med[models[0]] / med[models[-1]] if len(models) > 1 else 1.0
        print(
            f"{label:>6}: "
            + "  ".join(f"{m} {med[m]:.2f} fps" for m in models)
            + (f"  ({models[0]} / {models[-1]} = {ratio:.2f})" if len(models) > 1 else ""),
            flush=True,
        )


if __name__ == "__main__":
    main()
