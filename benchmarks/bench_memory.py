"""Peak resident memory of `vh harmonize` on a 4K EXR sequence: short vs long shot (it must stay flat).

    python benchmarks/bench_memory.py [--short 50] [--long 200] [--model NAME]

The plate is a 3840x2160 RGBA half-float EXR (scene-linear, with highlights above 1.0; the alpha is the
matte). Every frame of the sequence is a symbolic link to one file, so building a 200-frame shot costs no
disk; the reader still opens and decodes each frame. Each run is a fresh process; its peak RSS (ru_maxrss) is
reported beside the frame count. The target is <= 2 GiB and no growth from the short to the long shot."""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN = """
import resource, sys
from vh.core.cli.main import main
code = main(sys.argv[1:])
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "CODE", code)
"""

H, W = 2160, 3840


def make_plate(path: Path) -> None:
    import cv2
    import numpy as np

    from vh.core.io import ClipInfo, open_writer

    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    rgb = np.stack([xx / W, yy / H, 0.3 + 0.2 * np.sin(xx / 300.0)], -1) ** 2.2  # smooth, scene-linear
    rgb[200:400, 200:600] = 16.0  # a highlight
    alpha = np.zeros((H, W), np.float32)
    cv2.ellipse(alpha, (W // 2, H // 2), (W // 6, H // 3), 0, 0, 360, 1.0, -1)
    alpha = cv2.GaussianBlur(alpha, (0, 0), 4)
    frame = np.concatenate([rgb, alpha[..., None]], -1).astype(np.float32)
    with open_writer(
        str(path.parent / "src.####.exr"), ClipInfo.make(W, H, channels=4, n_frames=1, first=1)
    ) as w:
        w.write(frame)
    (path.parent / "src.0001.exr").rename(path)


def run_once(folder: Path, plate: Path, n: int, model: str | None) -> tuple[float, float]:
    shot = folder / f"shot{n}"
    shot.mkdir()
    for i in range(1, n + 1):
        (shot / f"plate.{i:04d}.exr").symlink_to(plate)
    cmd = [
        sys.executable,
        "-c",
        RUN,
        "harmonize",
        str(shot / "plate.####.exr"),
        "-o",
        str(shot / "out.####.exr"),
        "-q",
    ]
    if model:
        cmd += ["--model", model]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("MAXRSS_KB")]
    if proc.returncode != 0 or not lines or not lines[0].endswith("CODE 0"):
        raise SystemExit(f"harmonize failed:\n{proc.stdout}\n{proc.stderr}")
    for out in shot.glob("out.*.exr"):  # keep the disk footprint of the benchmark small
        out.unlink()
    return int(lines[0].split()[1]) / 2**20, elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--short", type=int, default=50)
    ap.add_argument("--long", type=int, default=200)
    ap.add_argument("--model", default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        plate = folder / "plate.exr"
        make_plate(plate)
        print(f"vh harmonize, {W}x{H} RGBA half EXR, model {args.model or 'default'}")
        print(f"{'frames':>8}{'peak RSS GiB':>14}{'s/frame':>10}")
        for n in (args.short, args.long):
            rss, secs = run_once(folder, plate, n, args.model)
            print(f"{n:>8}{rss:>14.2f}{secs / n:>10.2f}")


if __name__ == "__main__":
    main()
