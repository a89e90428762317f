"""Frames per second through the OFX plugin at 2K, beside the same clip through the Python client, in one run.

    python benchmarks/bench_ofx.py [--frames 16] [--window 8] [--repeats 3] [--depth float|half] [--model
    stats]

Builds the plugin (incrementally, into build/ofx), starts one vh-server process on a free loopback port, and
harmonizes the same synthetic 2048x1080 RGBA plate with a separate matte (held in memory, so file reading is
not measured) two ways:

- "ofx": the headless host renders frames 1..N in order; the plugin sends windows of --window frames and
  serves the rest of each window from its cache. Measured per clip (fresh instance each repeat).
- "client": vh.client.remote.Client sends the same windows as separate streams, exactly the plugin's requests.

Both talk to the same server, so the ratio isolates the bridge's cost (host image layout, packing,
fingerprinting, C++ gRPC) from the model's. The test host builds every OFX image from a numpy array in Python,
which a real host (images already in its cache) does not; that time is measured and reported separately. Also
reported: the median Render served from the window cache (fetching frame t to check its fingerprint, and
writing the output). Medians over --repeats."""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test host lives under tests/

from tests.plugins.ofx.host import ofx_build, ofx_host  # noqa: E402

H, W = 1080, 2048


def plate(frames: int) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """A scene-linear RGBA plate (alpha = matte) with a drifting soft disc of cold foreground, and the
    matte."""
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float32)
    background = np.stack([0.2 + 0.6 * xx / W, 0.15 + 0.3 * yy / H, 0.1 + 0.05 * (xx + yy) / (W + H)], -1)
    plates, mattes = {}, {}
    for t in range(1, frames + 1):
        dist = np.sqrt((xx - W * (0.4 + 0.01 * t)) ** 2 + (yy - H * 0.5) ** 2)
        matte = np.clip((H * 0.3 - dist) / 20.0, 0.0, 1.0)
        texture = 0.5 + 0.5 * np.sin(xx / 37.0 + t) * np.cos(yy / 23.0)
        fg = np.stack([0.05 * texture, 0.08 * texture, 0.3 * texture], -1)
        rgb = background * (1 - matte[..., None]) + fg * matte[..., None]
        plates[t] = np.concatenate([rgb, matte[..., None]], -1).astype(np.float32)
        mattes[t] = matte[..., None].astype(np.float32)
    return plates, mattes


def start_server(model: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "vh.server.serve", "--port", "0", "--model", model],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for line in process.stdout:
        if match := re.search(r"ready on port (\d+)", line):
            return process, f"127.0.0.1:{match.group(1)}"
    raise SystemExit("vh-server did not start")


def run_ofx(bundle, address, plates, mattes, args) -> tuple[float, list[float], float]:
    """Seconds per clip, seconds per cached Render, and the part of the clip spent laying out host images."""
    host = ofx_host.OfxHost(bundle)
    layout = [0.0]
    make_image = host._image

    def timed_image(clip, time_):  # the test host's own cost of building an OFX image from a numpy frame
        t0 = time.perf_counter()
        image = make_image(clip, time_)
        layout[0] += time.perf_counter() - t0
        return image

    host._image = timed_image
    frames = len(plates)
    inst = host.create_instance(
        ofx_host.InputClip(plates.get, (1, frames), args.depth),
        ofx_host.InputClip(mattes.get, (1, frames), args.depth),
        params={"serverAddress": address, "model": args.model, "windowSize": args.window},
    )
    hits = []
    start = time.perf_counter()
    for t in range(1, frames + 1):
        t0 = time.perf_counter()
        inst.render(t)
        if (t - 1) % args.window:  # not the first frame of a window: served from the cache
            hits.append(time.perf_counter() - t0)
    seconds = time.perf_counter() - start
    inst.destroy()
    host.unload()
    if host.errors:
        raise SystemExit(f"host errors: {host.errors}")
    return seconds, hits, layout[0]


def run_client(address, plates, mattes, args) -> float:
    from vh.client.remote import Client

    dtype = np.float16 if args.depth == "half" else np.float32
    frames = len(plates)
    with Client(address) as client:
        start = time.perf_counter()
        for first in range(1, frames + 1, args.window):
            ts = range(first, min(first + args.window, frames + 1))
            outs = list(
                client.harmonize(
                    [plates[t].astype(dtype) for t in ts],
                    [mattes[t][..., 0].astype(dtype) for t in ts],
                    colorspace="scene_linear",
                    model=args.model,
                    frame_count=len(ts),
                )
            )
            assert len(outs) == len(ts)
        return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--window", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--depth", choices=("float", "half"), default="float")
    ap.add_argument("--model", default="stats")
    args = ap.parse_args()

    bundle = ofx_build.build_bundle()
    plates, mattes = plate(args.frames)
    server, address = start_server(args.model)
    try:
        run_client(
            address, {1: plates[1]}, {1: mattes[1]}, argparse.Namespace(**{**vars(args), "window": 1})
        )  # warm-up
        ofx_times, client_times, hit_times, layout_times = [], [], [], []
        for _ in range(args.repeats):  # interleaved, so both paths see the same machine load
            seconds, hits, layout = run_ofx(bundle, address, plates, mattes, args)
            ofx_times.append(seconds)
            hit_times += hits
            layout_times.append(layout)
            client_times.append(run_client(address, plates, mattes, args))
    finally:
        server.terminate()
        server.wait(timeout=30)

    ofx, client = statistics.median(ofx_times), statistics.median(client_times)
    print(
        f"{args.frames} frames {W}x{H} RGBA {args.depth}, model {args.model}, window {args.window}, "
        f"median of {args.repeats}"
    )
    print(f"  ofx     {args.frames / ofx:6.2f} frames/s  ({ofx:.2f} s per clip)")
    print(f"  client  {args.frames / client:6.2f} frames/s  ({client:.2f} s per clip)")
    print(f"  ofx / client throughput ratio: {client / ofx:.2f}")
    layout = statistics.median(layout_times)
    print(
        f"  of the ofx time, the Python test host building OFX images from numpy: {layout:.2f} s per clip; "
        f"without it: {args.frames / (ofx - layout):.2f} frames/s, ratio {client / (ofx - layout):.2f}"
    )
    print(
        "  cached frame (Render served from the window cache): median "
        f"{1000 * statistics.median(hit_times):.1f} ms"
    )


if __name__ == "__main__":
    main()
