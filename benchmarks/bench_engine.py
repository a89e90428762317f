"""Time per 4K frame of the full-resolution transfer on CPU, beside naive upsampling in the same run.

    python benchmarks/bench_engine.py [--repeats 5] [--method lut+affine] [--colorspace ACEScg]

The plate is a synthetic 3840x2160 RGB float frame; the matte a soft ellipse over ~1/4 of the frame (a typical
actor) and, second, a full-frame matte (the worst case). "transfer" is fit + apply + composite exactly as the
engine does per frame (`EngineStream._finish_frame`), including the OCIO round trip when the plate is not in
the working space; "upsample" is bilinear upsampling of the 256x256 output plus the same composite. Medians
over repeats."""

from __future__ import annotations

import argparse
import statistics
import time

import cv2
import numpy as np
import torch

from vh.core import color
from vh.core.engine import Engine
from vh.core.models.base import Harmonizer, blend
from vh.core.transfer import TransferConfig, Transform, apply_to_plate

H, W = 2160, 3840


class _Warm(Harmonizer):
    """A stand-in model output: a warm grade of the foreground (the model's cost is not what is measured)."""

    def forward(self, comp, matte):
        return blend(comp, comp * comp.new_tensor([1.05, 0.97, 0.9])[:, None, None], matte)


def _plate(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    base = np.stack([xx / W, yy / H, 0.5 + 0.3 * np.sin(xx / 97.0)], -1)  # [H, W, 3]
    return (base * 0.8 + rng.random((H, W, 3), dtype=np.float32) * 0.2).astype(np.float32)


def _ellipse_matte() -> np.ndarray:
    m = np.zeros((H, W), np.float32)
    cv2.ellipse(m, (W // 2, H // 2), (W // 5, H // 3), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(m, (0, 0), 3)


def _time(fn, repeats: int) -> float:
    fn()  # warm-up (processor caches, allocations)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--method", default="lut+affine")
    ap.add_argument(
        "--colorspace", default=None, help="plate colourspace (default: the working space, no OCIO)"
    )
    args = ap.parse_args()
    engine = Engine(_Warm(), transfer=TransferConfig(method=args.method))
    space = args.colorspace or color.working_space()
    plate = _plate()
    print(f"4K transfer on CPU: method {args.method}, plate colourspace {space}, median of {args.repeats}")
    print(f"{'matte':<12}{'transfer s':>12}{'upsample s':>12}{'ratio':>8}")
    for name, matte in (("ellipse", _ellipse_matte()), ("full frame", np.ones((H, W), np.float32))):
        stream = engine.stream(space)
        stream.push(plate, matte)
        f = stream._frames[0]  # the low-res inputs the engine prepared for this frame
        comp = torch.from_numpy(f.comp_lo).permute(2, 0, 1)[None, None]  # [1, 1, 3, h, w]
        matte_lo = torch.from_numpy(f.matte_lo)[None, None, None]  # [1, 1, 1, h, w]
        out_lo = engine.infer(comp, matte_lo)[0, 0].permute(1, 2, 0).numpy()  # [h, w, 3]
        f.acc, f.weight = out_lo, 1.0

        def transfer(stream=stream, f=f) -> np.ndarray:
            return stream._finish_frame(f)

        def upsample(out_lo=out_lo, matte=matte) -> np.ndarray:
            return apply_to_plate(Transform("upsample", upsample=out_lo), plate, matte)

        t_tr, t_up = _time(transfer, args.repeats), _time(upsample, args.repeats)
        print(f"{name:<12}{t_tr:>12.3f}{t_up:>12.3f}{t_tr / t_up:>8.2f}")


if __name__ == "__main__":
    main()
