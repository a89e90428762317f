"""VHMAE forward cost beside a bare `nn.TransformerEncoder` stack of the same widths and token counts.

    python benchmarks/bench_vhmae.py                      # CPU: vhmae_base, one 8x256x256 window, 0/25/50% fg
    python benchmarks/bench_vhmae.py --model vhmae_tiny   # quick look
    python benchmarks/bench_vhmae.py --gpu                # CUDA: bf16, batch 1/8/32, TFLOP/s vs a bf16 matmul

The reference is what a plain PyTorch user would write for the same computation: a 12-layer width-768
`TransformerEncoder` on the visible tokens followed by a 4-layer width-384 one on all tokens (pre-norm, GELU,
batch-first). It leaves out the tubelet embedding, PAM, projector, head and the gathers/scatters of the
variable-length token selection, so `ratio = vhmae / reference` is the price of everything VHMAE adds on top
of the two transformer stacks. Target: <= 1.15. Times are medians over repeated runs, interleaved to share
noise."""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from vh.core.models import create_model
from vh.core.models.vhmae import VHMAE


def reference_stack(model: VHMAE) -> tuple[nn.Module, nn.Module]:
    c = model.config

    def stack(dim: int, heads: int, mlp: int, depth: int) -> nn.TransformerEncoder:
        layer = nn.TransformerEncoderLayer(
            dim, heads, mlp, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
        )
        return nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)

    return stack(c.embed_dim, c.heads, c.mlp_dim, c.depth), stack(
        c.decoder_dim, c.decoder_heads, c.decoder_mlp_dim, c.decoder_depth
    )


def side_matte(batch: int, frames: int, side: int, fraction: float, patch: int) -> torch.Tensor:
    """Foreground = the leftmost `fraction` of token columns, every frame: an exact token share."""
    m = torch.zeros(batch, frames, 1, side, side)
    m[..., : int(side // patch * fraction) * patch] = 1.0
    return m


def median_times(
    fns: dict[str, Callable[[], object]],
    repeats: int,
    sync: Callable[[], None],
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    for fn in fns.values():  # warm-up (allocator, kernels, autotuning)
        fn()
    sync()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():  # interleaved: load spikes hit both sides
            t0 = clock()
            fn()
            sync()
            times[name].append(clock() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def compare(
    model: VHMAE,
    batch: int,
    fraction: float,
    device: torch.device,
    dtype: torch.dtype | None,
    repeats: int,
    clock: Callable[[], float] = time.perf_counter,
) -> dict[str, float]:
    c = model.config
    comp = torch.rand(batch, c.frames, 3, c.input_size, c.input_size, device=device)
    matte = side_matte(batch, c.frames, c.input_size, fraction, c.patch).to(device)
    n_fg = int(model.tokens_mask(matte)[0].sum())
    enc, dec = (m.to(device).eval() for m in reference_stack(model))
    x_enc = torch.randn(batch, c.num_tokens - n_fg, c.embed_dim, device=device)
    x_dec = torch.randn(batch, c.num_tokens, c.decoder_dim, device=device)
    autocast = (lambda: torch.autocast(device.type, dtype=dtype)) if dtype else torch.no_grad

    def ours():
        with torch.no_grad(), autocast():
            return model.reconstruct(comp, matte)

    def ref():
        with torch.no_grad(), autocast():
            return enc(x_enc) if x_enc.shape[1] else None, dec(x_dec)

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    t = median_times({"vhmae": ours, "reference": ref}, repeats, sync, clock)
    flops = batch * c.matmul_flops(n_fg)
    return {
        "fg": fraction,
        "batch": batch,
        "vhmae_ms": t["vhmae"] * 1e3,
        "reference_ms": t["reference"] * 1e3,
        "ratio": t["vhmae"] / t["reference"],
        "gflops": flops / 1e9,
        "tflops_s": flops / t["vhmae"] / 1e12,
    }


def matmul_tflops(device: torch.device, n: int = 8192, repeats: int = 20) -> float:
    a = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    b = torch.randn(n, n, device=device, dtype=torch.bfloat16)
    t = median_times({"mm": lambda: a @ b}, repeats, torch.cuda.synchronize)["mm"]
    return 2 * n**3 / t / 1e12


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="vhmae_base")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.25, 0.5])
    parser.add_argument("--gpu", action="store_true", help="CUDA bf16 throughput at batch 1/8/32")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="cpu: this process's CPU time, steadier than wall time on a shared, loaded machine",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = create_model(args.model).eval()
    params = sum(p.numel() for p in model.parameters())
    print(
        f"{args.model}: {params / 1e6:.1f}M parameters, window "
        f"{model.config.frames}x{model.config.input_size}^2, "
        f"{model.config.num_tokens} tokens"
    )
    header = (
        f"{'device':6} {'batch':>5} {'fg':>5} {'GFLOP':>8} {'vhmae ms':>10} {'ref ms':>10} {'ratio':>6} "
        f"{'TFLOP/s':>8}"
    )
    if args.gpu:
        if not torch.cuda.is_available():
            raise SystemExit("--gpu: no CUDA device")
        device = torch.device("cuda")
        model.to(device)
        peak = matmul_tflops(device)
        print(f"{torch.cuda.get_device_name()}: plain bf16 8192^3 matmul {peak:.1f} TFLOP/s")
        print(header + f" {'of mm':>6}")
        for batch in (1, 8, 32):
            for fraction in args.fractions:
                r = compare(model, batch, fraction, device, torch.bfloat16, args.repeats)
                print(
                    f"{'cuda':6} {batch:5d} {fraction:5.2f} {r['gflops']:8.1f} {r['vhmae_ms']:10.2f} "
                    f"{r['reference_ms']:10.2f} {r['ratio']:6.2f} {r['tflops_s']:8.1f} "
                    f"{r['tflops_s'] / peak:6.1%}"
                )
        return
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    print(
        f"cpu, {torch.get_num_threads()} threads, fp32, batch 1, median of {args.repeats}, {args.clock} clock"
    )
    print(header)
    for fraction in args.fractions:
        r = compare(model, 1, fraction, torch.device("cpu"), None, args.repeats, clock)
        print(
            f"{'cpu':6} {1:5d} {fraction:5.2f} {r['gflops']:8.1f} {r['vhmae_ms']:10.1f} "
            f"{r['reference_ms']:10.1f} "
            f"{r['ratio']:6.2f} {r['tflops_s']:8.3f}"
        )


if __name__ == "__main__":
    main()
