"""Training-loader throughput: 8-frame 256x256 clips per second, generated on the fly or from a built set.

    python benchmarks/bench_loader.py --data ../shared/data [--workers 2] [--batches 12]

Prints the median samples/s over batches (after warm-up) for:
  - on-the-fly dancing clips from image+mask pairs (inpainting, recolouring, exact flow);
  - on-the-fly recoloured DAVIS windows;
  - a HYouTube-layout set built by `vh make-dataset` (JPEG decode + resize only);
and the rate one H100 needs to stay busy training VHMAE base, from a FLOP count of the model.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def vhmae_base_train_flops(visible: int = 768, tokens: int = 1024) -> float:
    """FLOPs of one training step per clip: ~2 * params * tokens forward plus attention, x3 for backward."""

    def block(width: int, n: int) -> float:
        params = 12 * width * width  # qkv + proj (4 d^2) + MLP 4x (8 d^2)
        return 2 * params * n + 4 * n * n * width  # dense + (QK^T and AV)

    embed = 2 * (3 * 2 * 16 * 16) * 768 * tokens  # tubelet embedding of all tokens (background + PAM input)
    encoder = 12 * block(768, visible)
    bridge = 2 * 768 * 384 * tokens  # projector + PAM
    decoder = 4 * block(384, tokens)
    head = 2 * 384 * 1536 * tokens
    return 3 * (embed + encoder + bridge + decoder + head)


def measure(dataset, workers: int, batch: int, batches: int, warmup: int = 2) -> float:
    import torch
    from torch.utils.data import DataLoader

    from vh.training.data import init_worker

    loader = DataLoader(
        dataset,
        batch_size=batch,
        num_workers=workers,
        shuffle=False,
        persistent_workers=workers > 0,
        generator=torch.Generator(),
        worker_init_fn=init_worker,
    )
    it = iter(loader)
    for _ in range(warmup):
        next(it)
    times = []
    for _ in range(batches):
        t = time.perf_counter()
        next(it)
        times.append(time.perf_counter() - t)
    return batch / statistics.median(times)


def cpu_seconds_per_clip(dataset, clips: int = 6) -> float:
    """Median process CPU time of one clip in this process (one thread): robust to a busy, shared machine."""
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    dataset[0]  # warm caches (LUT processors, file listings)
    times = []
    for i in range(1, clips + 1):
        t = time.process_time()
        dataset[i]
        times.append(time.process_time() - t)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = os.environ.get(
        "VH_SHARED_DATA", str(Path(__file__).resolve().parents[1].parent / "shared" / "data")
    )
    parser.add_argument(
        "--data", default=default, help="the shared data folder (train_pairs/, davis/, luts/)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=12)
    args = parser.parse_args()

    from vh.training.data import ClipDataset, DataConfig
    from vh.training.writer import write_dataset

    data = Path(args.data)
    common = {"frames": 8, "size": 256, "luts": str(data / "luts"), "length": 100000, "seed": 1}
    runs = {
        "dancing (pairs, flow)": DataConfig(
            sources=[{"kind": "pairs", "root": str(data / "train_pairs")}], flow=True, **common
        ),
        "davis windows": DataConfig(sources=[{"kind": "davis", "root": str(data / "davis")}], **common),
    }
    rates, cpu = {}, {}
    for name, cfg in runs.items():
        rates[name] = measure(ClipDataset(cfg), args.workers, args.batch, args.batches)
        cpu[name] = cpu_seconds_per_clip(ClipDataset(cfg))
        print(
            f"{name:28s} {rates[name]:7.2f} samples/s  ({args.workers} workers, batch {args.batch}); "
            f"{cpu[name] * 1e3:.0f} ms CPU per clip"
        )
    with tempfile.TemporaryDirectory() as tmp:
        gen = ClipDataset(runs["dancing (pairs, flow)"])
        n = args.batch * (args.batches + 2)
        write_dataset(Path(tmp) / "set", (gen.clip(i) for i in range(n)))
        built = DataConfig(
            sources=[{"kind": "hyoutube", "root": str(Path(tmp) / "set"), "split": "train"}],
            frames=8,
            size=256,
            flow=True,
            length=n,
        )
        rates["built set"] = measure(ClipDataset(built), args.workers, args.batch, args.batches)
        cpu["built set"] = cpu_seconds_per_clip(ClipDataset(built))
        print(
            f"{'built set (JPEG + flow npz)':28s} {rates['built set']:7.2f} samples/s; "
            f"{cpu['built set'] * 1e3:.0f} ms CPU per clip"
        )

    flops = vhmae_base_train_flops()
    need = 400e12 / flops
    print(
        f"VHMAE base: {flops / 1e9:.0f} GFLOP per training clip (768 visible of 1024 tokens); one H100 at "
        f"400 TFLOP/s needs {need:.0f} clips/s"
    )
    for name, rate in rates.items():
        print(
            f"  {name:28s} need/measured = {need / rate:5.0f}x; {need * cpu[name]:5.0f} busy cores at the "
            f"measured CPU cost per clip"
        )


if __name__ == "__main__":
    main()
