"""`vh harmonize` throughput on a real 1080p shot, beside a decode+encode-only pass in the same run.

    python benchmarks/bench_cli.py [--data DIR] [--frames 75] [--model NAME] [--repeats 3]

The composite is built from video_composite/{foreground,mask,background}.mp4 (1920x1080, 25 fps, 75 frames) as
mask * fg + (1 - mask) * bg and written, with its matte, to temporary mp4 files first (not timed). Then, each
in a fresh process (so imports and start-up count, as they do for a user):

    harmonize   vh harmonize comp.mp4 --matte matte.mp4 -o out.mp4 [--model NAME]
    io only     read comp.mp4 and matte.mp4 and write out.mp4 with the same writer, no engine

and the ratio of their frame rates (harmonize fps / io-only fps; the target is >= 0.5). The two passes
alternate `--repeats` times and the medians are reported, since one run on a shared machine can be off by
10-20%."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IO_ONLY = """
import sys
from vh.core.io import open_writer, probe, read_frames, read_mattes
info = probe(sys.argv[1])
with open_writer(sys.argv[3], info) as w:
    for frame, matte in zip(read_frames(info), read_mattes(sys.argv[2], info)):
        w.write(frame)
"""


def build_composite(data: Path, folder: Path, n_frames: int) -> tuple[Path, Path]:
    from vh.core.io import open_writer, probe, read_frames

    src = data / "video_composite"
    fg_info = probe(str(src / "foreground.mp4"), (0, n_frames - 1))
    comp_path, matte_path = folder / "comp.mp4", folder / "matte.mp4"
    with open_writer(comp_path, fg_info) as comp_w, open_writer(matte_path, fg_info) as matte_w:
        streams = zip(
            read_frames(fg_info),
            read_frames(str(src / "mask.mp4"), (0, n_frames - 1)),
            read_frames(str(src / "background.mp4"), (0, n_frames - 1)),
        )
        for fg, mask, bg in streams:
            m = mask[..., :1]  # [H, W, 1]; the matte video is grey
            comp_w.write(m * fg + (1 - m) * bg)
            matte_w.write(mask)
    return comp_path, matte_path


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr}")
    return elapsed


def main() -> None:
    default_data = os.environ.get(
        "VH_SHARED_DATA", str(Path(__file__).resolve().parents[2] / "shared" / "data")
    )
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=default_data)
    ap.add_argument("--frames", type=int, default=75)
    ap.add_argument("--model", default=None)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        comp, matte = build_composite(Path(args.data), folder, args.frames)
        io_cmd = [sys.executable, "-c", IO_ONLY, str(comp), str(matte), str(folder / "io.mp4")]
        harm_cmd = [
            sys.executable,
            "-m",
            "vh.core.cli.main",
            "harmonize",
            str(comp),
            "--matte",
            str(matte),
            "-o",
            str(folder / "out.mp4"),
            "-q",
        ]
        if args.model:
            harm_cmd += ["--model", args.model]
        io_runs, harm_runs = [], []
        for _ in range(args.repeats):
            io_runs.append(timed(io_cmd))
            harm_runs.append(timed(harm_cmd))
    io_s, harm_s = statistics.median(io_runs), statistics.median(harm_runs)
    n = args.frames
    print(f"1920x1080, {n} frames, model {args.model or 'default'}, median of {args.repeats}")
    print(f"{'pass':<12}{'seconds':>10}{'fps':>8}   runs (s)")
    print(f"{'harmonize':<12}{harm_s:>10.1f}{n / harm_s:>8.2f}   {' '.join(f'{t:.1f}' for t in harm_runs)}")
    print(f"{'io only':<12}{io_s:>10.1f}{n / io_s:>8.2f}   {' '.join(f'{t:.1f}' for t in io_runs)}")
    print(f"ratio (harmonize fps / io-only fps): {io_s / harm_s:.2f}")


if __name__ == "__main__":
    main()
