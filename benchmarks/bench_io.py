"""Throughput and memory of vh.core.io on synthetic shots in a temporary folder.

    python benchmarks/bench_io.py [--frames 24] [--repeats 3] [--rss-frames 50 200] [--rss-size 3840x2160]

1. Read and write frames/s for a 1920x1080 RGB sequence of half-float EXRs (zip, OIIO's default) and a
   1920x1080 H.264 mp4 (crf 16, preset medium), medians over repeats. Write includes the rename on close;
   read includes the conversion to float32.
2. Peak RSS above the post-import baseline while writing, then reading, N frames of a 4K half EXR sequence
   (RLE, smooth gradients, so the disk stays small), each in a fresh process. Streaming means the 200-frame
   numbers match the 50-frame ones instead of growing 4x (one 4K RGB float32 frame is 95 MiB).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np

from vh.core.io import ClipInfo, open_writer, probe, read_frames


def _frames(h: int, w: int, n: int):
    """n smooth RGB gradients [h, w, 3] that differ per frame (so codecs cannot skip frames)."""
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    for i in range(n):
        t = np.float32(i / max(n, 1))
        # Filled channel by channel, so the generator holds one frame and no full-size temporaries: the memory
        # table should show the writer, not the test-pattern maker.
        frame = np.empty((h, w, 3), np.float32)  # [h, w, 3]
        frame[:, :, 0] = x * 0.9 + 0.1 * t
        frame[:, :, 1] = y * 0.8 + 0.05 * np.sin(6 * x + t)
        frame[:, :, 2] = (x + y) * 0.4 + 0.1 * t
        yield frame


def _time_write(path: Path, like: ClipInfo, frames, **opts) -> tuple[float, float]:
    """(wall seconds, CPU seconds of all this process's threads) to write `frames` to `path`."""
    wall, cpu = time.perf_counter(), time.process_time()
    with open_writer(path, like, **opts) as w:
        for f in frames:
            w.write(f)
    return time.perf_counter() - wall, time.process_time() - cpu


def _time_read(path: Path) -> tuple[float, float, int]:
    wall, cpu = time.perf_counter(), time.process_time()
    n = sum(1 for _ in read_frames(path))
    return time.perf_counter() - wall, time.process_time() - cpu, n


def throughput(folder: Path, n: int, repeats: int) -> list[tuple[str, float, float, float, float]]:
    """Per format: median read fps, write fps, and CPU ms per frame read / written. CPU time is the steadier
    number on a shared machine; fps is what a user waits for."""
    h, w = 1080, 1920
    frames = list(_frames(h, w, n))  # generated once: the synthetic source is not what is timed
    rows = []
    for label, name, kind in (
        ("EXR half zip 1080p", "t.####.exr", "sequence"),
        ("H.264 mp4 1080p", "t.mp4", "video"),
    ):
        like = ClipInfo.make(w, h, 3, n, fps=Fraction(24), pixel_type="half", kind=kind)
        rfps, wfps, rcpu, wcpu = [], [], [], []
        for _ in range(repeats):
            wall, cpu = _time_write(folder / name, like, frames)
            wfps.append(n / wall)
            wcpu.append(1000 * cpu / n)
            wall, cpu, count = _time_read(folder / name)
            assert count == n, (count, n)
            rfps.append(n / wall)
            rcpu.append(1000 * cpu / n)
        med = statistics.median
        rows.append((label, med(rfps), med(wfps), med(rcpu), med(wcpu)))
    return rows


def _rss_mib() -> float:
    """Peak RSS of this process so far, MiB. VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec,
    so a child started by a big parent would report the parent's size."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux reports KiB


def _child(mode: str, folder: str, n: int, w: int, h: int) -> None:
    """Runs in a fresh process: prints the peak RSS growth (MiB) of writing or reading n frames."""
    base = _rss_mib()
    path = Path(folder) / "r.####.exr"
    if mode == "write":
        like = ClipInfo.make(w, h, 3, n, pixel_type="half")
        _time_write(path, like, _frames(h, w, n), compression="rle")  # frames made lazily, like a renderer
    else:
        info = probe(path)
        assert sum(1 for _ in read_frames(info)) == n
    print(f"{_rss_mib() - base:.1f}")


def rss(n_values: list[int], w: int, h: int) -> list[tuple[int, float, float]]:
    rows = []
    for n in n_values:
        with tempfile.TemporaryDirectory(prefix="vh-bench-io-") as folder:
            got = []
            for mode in ("write", "read"):
                out = subprocess.run(
                    [sys.executable, __file__, "--child", mode, folder, str(n), str(w), str(h)],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                got.append(float(out.stdout.strip().splitlines()[-1]))
            rows.append((n, got[0], got[1]))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=24, help="frames per throughput run (0 skips it)")
    parser.add_argument("--repeats", type=int, default=3, help="throughput repeats; medians are reported")
    parser.add_argument(
        "--rss-frames", type=int, nargs="*", default=[50, 200], help="frame counts; none skips"
    )
    parser.add_argument("--rss-size", default="3840x2160", help="WIDTHxHEIGHT of the memory test frames")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        mode, folder, n, w, h = args.child
        _child(mode, folder, int(n), int(w), int(h))
        return 0
    w, h = (int(v) for v in args.rss_size.lower().split("x"))

    if args.frames > 0:
        with tempfile.TemporaryDirectory(prefix="vh-bench-io-") as folder:
            rows = throughput(Path(folder), args.frames, args.repeats)
        print(f"\nthroughput, {args.frames} frames, median of {args.repeats}")
        print(f"{'format':<22}{'read fps':>10}{'write fps':>11}{'read cpu ms':>13}{'write cpu ms':>14}")
        for label, r, wr, rc, wc in rows:
            print(f"{label:<22}{r:>10.1f}{wr:>11.1f}{rc:>13.0f}{wc:>14.0f}")

    if not args.rss_frames:
        return 0
    rows = rss(args.rss_frames, w, h)
    frame_mib = w * h * 3 * 4 / 2**20
    print(
        f"\npeak RSS growth over the post-import baseline, {w}x{h} half EXR "
        f"(one float32 frame = {frame_mib:.0f} MiB)"
    )
    print(f"{'frames':>6}{'write MiB':>11}{'read MiB':>10}")
    for n, wr, r in rows:
        print(f"{n:>6}{wr:>11.1f}{r:>10.1f}")
    if len(rows) >= 2 and min(rows[0][1:]) > 1.0:  # ratios of near-zero growth are noise
        print(
            f"ratio {rows[-1][0]}/{rows[0][0]} frames: write {rows[-1][1] / max(rows[0][1], 1e-9):.2f}x, "
            f"read {rows[-1][2] / max(rows[0][2], 1e-9):.2f}x (1.00x = flat)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
