"""`vh make-dataset` and `vh train`: one module, two commands (the dispatcher passes the command name).

    vh make-dataset OUT --pairs train_pairs --davis davis --luts luts --clips 500 --frames 8 --size 256
    vh train CONFIG.yaml --run-dir runs/x [--resume [STATE]] [--device cuda] [--set optim.lr=1e-4 ...]
    torchrun --nproc_per_node 8 -m vh.training.cli CONFIG.yaml --run-dir runs/x    # one process per GPU

This module parses and calls `vh.training.train`, which never imports it back. Heavy imports (torch, cv2,
OCIO) happen inside `run`, so `vh --help` stays instant.
"""

from __future__ import annotations

import argparse
import logging
import sys

from vh.training.splits import SPLITS

log = logging.getLogger("vh.training")


def add_arguments(parser: argparse.ArgumentParser, name: str) -> None:
    if name == "make-dataset":
        parser.add_argument("out", help="output folder (HYouTube layout); must not exist unless --overwrite")
        src = parser.add_argument_group("sources (at least one)")
        src.add_argument(
            "--pairs",
            action="append",
            default=[],
            metavar="DIR",
            help="image+mask folder(s) (images/ + masks/, or a parent of several) -> dancing clips",
        )
        src.add_argument(
            "--iharmony4",
            action="append",
            default=[],
            metavar="DIR",
            help="iHarmony4 folder(s): their real images + masks -> dancing clips",
        )
        src.add_argument(
            "--davis",
            action="append",
            default=[],
            metavar="DIR",
            help="DAVIS folder(s) (JPEGImages/ + Annotations/) -> recoloured real-video clips",
        )
        parser.add_argument("--luts", metavar="DIR", help="folder of .cube LUTs for the `lut` recolouring")
        parser.add_argument(
            "--recolor",
            default="adjust,reinhard,lut",
            help="comma-separated recolour kinds to draw from (default: %(default)s)",
        )
        parser.add_argument("--clips", type=int, default=100, help="number of clips (default: %(default)s)")
        parser.add_argument("--frames", type=int, default=8, help="frames per clip (default: %(default)s)")
        parser.add_argument(
            "--size", type=int, default=256, help="frame width and height (default: %(default)s)"
        )
        parser.add_argument(
            "--davis-share",
            type=float,
            default=0.3,
            help="fraction of clips drawn from DAVIS when both kinds are given (default: %(default)s)",
        )
        parser.add_argument(
            "--seed", type=int, default=0, help="clip i is a function of (seed, i) (default: 0)"
        )
        parser.add_argument(
            "--split", default="train", help="list file name: SPLIT_list.txt (default: train)"
        )
        parser.add_argument(
            "--holdout",
            choices=SPLITS,
            help="draw only from this side of the held-out split of sequences, photos and LUTs "
            "(vh.training.splits); default: everything",
        )
        parser.add_argument(
            "--contact-sheet", metavar="PNG", help="also write a contact sheet of random clips"
        )
        parser.add_argument(
            "--sheet-clips", type=int, default=8, help="clips on the contact sheet (default: 8)"
        )
        parser.add_argument("--workers", type=int, default=0, help="processes generating clips (default: 0)")
        parser.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    else:
        parser.add_argument("config", help="YAML run config (see training/configs/)")
        parser.add_argument("--run-dir", required=True, help="folder for config.yaml, checkpoints/ and tb/")
        parser.add_argument(
            "--resume",
            nargs="?",
            const=True,
            default=None,
            metavar="STATE",
            help="continue from the latest state in --run-dir (or from the state file STATE)",
        )
        parser.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
        parser.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a config value, e.g. --set optim.lr=1e-4 (repeatable)",
        )


def run(args: argparse.Namespace) -> int:
    if hasattr(args, "config"):
        return _train(args)
    return _make_dataset(args)


def _train(args: argparse.Namespace) -> int:
    from vh.training.train import load_config, run_training

    config = load_config(args.config, args.overrides)
    history = run_training(config, args.run_dir, args.device, args.resume)
    log.info("done at step %d; best validation %s", history["step"], history.get("best") or "n/a")
    return 0


def _make_dataset(args: argparse.Namespace) -> int:
    from vh.core.errors import InputError
    from vh.core.options import check_option, options_of
    from vh.training.data import ClipDataset, DataConfig
    from vh.training.writer import contact_sheet, refuse_sources, write_dataset

    image_sources = [{"kind": "pairs", "root": d} for d in args.pairs]
    image_sources += [{"kind": "iharmony4", "root": d} for d in args.iharmony4]
    video_sources = [{"kind": "davis", "root": d} for d in args.davis]
    if not image_sources and not video_sources:
        raise InputError("make-dataset needs at least one source: --pairs, --iharmony4 or --davis")
    refuse_sources(args.out, [*args.pairs, *args.iharmony4, *args.davis, *([args.luts] if args.luts else [])])
    limits = {o.name: o for o in options_of(DataConfig)}  # the ranges a run config's data section has
    for flag, field in (("clips", "length"), ("frames", "frames"), ("size", "size")):
        check_option(limits[field], getattr(args, flag), f"--{flag}")
    kinds = [k.strip() for k in args.recolor.split(",") if k.strip()]
    share = args.davis_share if image_sources and video_sources else (1.0 if video_sources else 0.0)
    for s in image_sources:
        s["weight"] = (1.0 - share) / len(image_sources)
    for s in video_sources:
        s["weight"] = share / len(video_sources)
    config = DataConfig(
        sources=image_sources + video_sources,
        frames=args.frames,
        size=args.size,
        recolor=kinds,
        luts=args.luts,
        seed=args.seed,
        length=args.clips,
        split=args.holdout,
    )
    dataset = ClipDataset(config)
    indices = range(args.clips)
    if args.workers > 0:
        from multiprocessing import get_context

        pool = get_context("spawn").Pool(args.workers, initializer=_init_worker, initargs=(config,))
        clips = pool.imap(_worker_clip, indices, chunksize=4)
    else:
        pool, clips = None, (dataset.clip(i) for i in indices)
    from tqdm import tqdm

    try:
        stats = write_dataset(
            args.out, tqdm(clips, total=args.clips, desc="clips"), args.split, overwrite=args.overwrite
        )
    finally:
        if pool is not None:
            pool.terminate()
    log.info(
        "wrote %d clips, %d frames, %.1f MB to %s",
        stats["clips"],
        stats["frames"],
        stats["bytes"] / 1e6,
        args.out,
    )
    if args.contact_sheet:
        import numpy as np

        pick = np.random.default_rng(args.seed).choice(
            args.clips, min(args.sheet_clips, args.clips), replace=False
        )
        path = contact_sheet([dataset.clip(int(i)) for i in sorted(pick)], args.contact_sheet)
        log.info("contact sheet: %s", path)
    print(f"{args.out}: {stats['clips']} clips, {stats['frames']} frames, {stats['bytes'] / 1e6:.1f} MB")
    return 0


_worker_dataset = None


def _init_worker(config) -> None:
    global _worker_dataset
    from vh.training.data import ClipDataset

    _worker_dataset = ClipDataset(config)


def _worker_clip(index: int):
    return _worker_dataset.clip(index)


def main(argv: list[str] | None = None) -> int:
    """Entry point for `torchrun -m vh.training.cli` (the options of `vh train`)."""
    from vh.core.cli.main import run_command

    parser = argparse.ArgumentParser(prog="vh.training.cli")
    add_arguments(parser, "train")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    return run_command(run, args)


if __name__ == "__main__":
    sys.exit(main())
