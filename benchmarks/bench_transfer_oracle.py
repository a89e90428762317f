"""Oracle test of the full-resolution transfer: how much of a perfect low-res harmonization survives?

For every frame the ground truth resized to the model size (256x256, INTER_AREA) plays a perfect model output
(composited with the low-res matte, as a model's output is). Each transfer method carries it to the native
resolution; we report full-res fMSE against the real frames (0..255, total squared error / (3 x foreground
pixels)), averaged over frames then clips, and its ratio to naive bilinear upsampling of the 256x256 output.

    python benchmarks/bench_transfer_oracle.py [--data DIR] [--clips N] [--methods lut+affine,affine,...]

Every method except `upsample` adds the low-res residual by default; `METHOD/nores` turns it off.
DIR defaults to $VH_SHARED_DATA or ../shared/data beside the checkout. Runs hyoutube_val (854x480) and the
HAdobe5k triplet iharmony4/*/a0041_1_5 (4272x2848; mask = any channel > 127).
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from vh.core.transfer import METHODS, ColorTransfer, TransferConfig

MODEL_SIZE = (256, 256)


def _read_rgb(path: Path) -> np.ndarray:
    im = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if im is None:
        raise SystemExit(f"cannot read {path}")
    return cv2.cvtColor(im, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _read_mask(path: Path) -> np.ndarray:
    im = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if im.ndim == 3:
        im = im.max(axis=2)
    return (im > 127).astype(np.float32)


def fmse(pred: np.ndarray, real: np.ndarray, mask: np.ndarray) -> float:
    """Total squared error on 0..255 RGB / (3 x foreground pixels)."""
    fg = mask > 0.5
    err = ((pred[fg] - real[fg]) * 255.0) ** 2
    return float(err.sum() / max(3 * fg.sum(), 1))


def oracle_frame(transfer: ColorTransfer, comp: np.ndarray, real: np.ndarray, mask: np.ndarray) -> float:
    comp_lo = cv2.resize(comp, MODEL_SIZE, interpolation=cv2.INTER_AREA)
    real_lo = cv2.resize(real, MODEL_SIZE, interpolation=cv2.INTER_AREA)
    m_lo = cv2.resize(mask, MODEL_SIZE, interpolation=cv2.INTER_AREA)
    out_lo = comp_lo * (1 - m_lo[..., None]) + real_lo * m_lo[..., None]  # the perfect model's blended output
    pred = transfer.carry(comp_lo, out_lo, m_lo, comp, mask)
    return fmse(pred, real, mask)


def hyoutube_clips(root: Path) -> list[tuple[str, list[tuple[Path, Path, Path]]]]:
    clips = []
    for line in (root / "test_list.txt").read_text().split("\n"):
        if not line.strip():
            continue
        real_dir, mask_dir, comp_dir = (root / p for p in line.split())
        frames = [
            (comp_dir / r.name, real_dir / r.name, (mask_dir / r.name).with_suffix(".png"))
            for r in sorted(real_dir.glob("*.jpg"))
        ]
        clips.append((real_dir.name, frames))
    return clips


def config_for(spec: str, base: TransferConfig) -> TransferConfig:
    """`lut+affine` -> that method; `lut+affine/nores` -> the same without the low-res residual."""
    method, _, flag = spec.partition("/")
    return replace(base, method=method, residual=flag != "nores")


def run_hyoutube(root: Path, methods: list[str], n_clips: int, cfg: TransferConfig) -> dict[str, float]:
    scores: dict[str, list[float]] = {m: [] for m in methods}
    for _name, frames in hyoutube_clips(root)[:n_clips]:
        data = [(_read_rgb(c), _read_rgb(r), _read_mask(m)) for c, r, m in frames]
        for method in methods:
            transfer = ColorTransfer(config_for(method, cfg))
            scores[method].append(float(np.mean([oracle_frame(transfer, *d) for d in data])))
    return {m: float(np.mean(v)) for m, v in scores.items()}


def run_hadobe(root: Path, methods: list[str], cfg: TransferConfig) -> dict[str, float]:
    stem = "a0041_1_5"
    comp = _read_rgb(root / "composite" / f"{stem}.jpg")
    real = _read_rgb(root / "real" / f"{stem}.jpg")
    mask = _read_mask(root / "mask" / f"{stem}.png")
    return {m: oracle_frame(ColorTransfer(config_for(m, cfg)), comp, real, mask) for m in methods}


def _table(title: str, res: dict[str, float], seconds: float) -> None:
    base = res.get("upsample")
    print(f"\n{title}  ({seconds:.1f} s)")
    print(f"{'method':<20}{'fMSE':>10}{'x upsample':>12}")
    for m, v in res.items():
        ratio = f"{v / base:.3f}" if base else "-"
        print(f"{m:<20}{v:>10.2f}{ratio:>12}")


def main() -> None:
    default_data = os.environ.get(
        "VH_SHARED_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=default_data)
    ap.add_argument("--clips", type=int, default=11)
    ap.add_argument(
        "--methods",
        default=",".join([*METHODS[:-1], "lut+affine/nores", "lut/nores", "affine/nores", "upsample"]),
        help="comma-separated; METHOD/nores turns the low-res residual off",
    )
    ap.add_argument("--skip-hadobe", action="store_true")
    args = ap.parse_args()
    data = Path(args.data)
    methods = [m for m in args.methods.split(",") if m]
    if "upsample" not in methods:
        methods.append("upsample")
    cfg = TransferConfig()
    t0 = time.perf_counter()
    _table(
        f"hyoutube_val, {args.clips} clips, 854x480",
        run_hyoutube(data / "hyoutube_val", methods, args.clips, cfg),
        time.perf_counter() - t0,
    )
    if not args.skip_hadobe:
        t0 = time.perf_counter()
        _table(
            "HAdobe5k a0041_1_5, 4272x2848",
            run_hadobe(data / "iharmony4", methods, cfg),
            time.perf_counter() - t0,
        )


if __name__ == "__main__":
    main()
