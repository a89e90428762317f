"""Pack the training split's sources, downscaled, into one folder a training machine can be sent.

    python -m vh.training.pack_sources pack --pairs ../shared/data/train_pairs \
        --davis ../shared/data/davis --luts ../shared/data/luts --short-side 160 --quality 85
    vh train training/configs/vhmae_gpu.yaml --run-dir runs/vhmae_gpu --device cuda   # reads pack/ from here

Only the `train` split leaves (vh.training.splits): held-out photos, sequences and LUTs are never copied, so a
remote run cannot touch the unseen sets even by a config mistake. Downscaling to the training resolution's
neighbourhood (a 128x128 run crops from a short side of 160) keeps the pack small and makes the dancing clips'
background inpainting, the costliest step of clip generation, several times cheaper.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

import numpy as np

from vh.core.errors import InputError, OutputError
from vh.training.splits import davis_sequences, filter_luts, pair_split
from vh.training.writer import refuse_sources


def _resized(image: np.ndarray, short_side: int, nearest: bool) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    f = short_side / min(h, w)
    if f >= 1.0:
        return image
    size = (max(1, round(w * f)), max(1, round(h * f)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def _copy_image(src: Path, dst: Path, short_side: int, mask: bool, quality: int) -> None:
    """Re-encode `src` downscaled: photos as JPEG, masks and label maps as lossless PNG (ids kept)."""
    import cv2

    if mask:
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(src) as im:  # palette PNGs keep their object ids only through Pillow
                mode, palette = im.mode, im.getpalette() if im.mode == "P" else None
                data = _resized(np.asarray(im), short_side, nearest=True)
        except (OSError, UnidentifiedImageError) as exc:
            raise InputError(f"cannot read mask {src}: {exc}") from exc
        out = Image.fromarray(data, mode="P" if mode == "P" else None)
        if palette is not None:
            out.putpalette(palette)
        out.save(dst.with_suffix(".png"))
        return
    data = cv2.imread(str(src), cv2.IMREAD_COLOR)
    if data is None:
        raise InputError(f"cannot read image {src}")
    params = [cv2.IMWRITE_JPEG_QUALITY, quality]
    if not cv2.imwrite(str(dst.with_suffix(".jpg")), _resized(data, short_side, False), params):
        raise OutputError(f"cannot write {dst.with_suffix('.jpg')}")


def pack_pairs(root: Path, out: Path, short_side: int, quality: int) -> int:
    from vh.training.datasets.pairs import ImageMaskFolder

    count = 0
    for pair in ImageMaskFolder(root):
        if pair_split(pair.name) != "train":
            continue
        folder = out / Path(pair.name).parent  # `<source>/` of a multi-source root, or out itself
        for kind, src, is_mask in (("images", pair.image_path, False), ("masks", pair.mask_path, True)):
            (folder / kind).mkdir(parents=True, exist_ok=True)
            _copy_image(src, folder / kind / src.stem, short_side, is_mask, quality)
        count += 1
    return count


def pack_davis(root: Path, out: Path, short_side: int, quality: int) -> int:
    from vh.training.datasets.davis import Davis

    available = sorted(p.name for p in (root / "JPEGImages").iterdir() if p.is_dir())
    count = 0
    for seq in Davis(root, davis_sequences("train", available)).sequences:
        kinds = (("JPEGImages", seq.frame_paths, False), ("Annotations", seq.mask_paths, True))
        for kind, paths, is_mask in kinds:
            (out / kind / seq.name).mkdir(parents=True, exist_ok=True)
            for src in paths:
                _copy_image(src, out / kind / seq.name / src.stem, short_side, is_mask, quality)
        count += len(seq)
    return count


def pack_luts(root: Path, out: Path) -> int:
    from vh.training.lut import list_luts

    out.mkdir(parents=True, exist_ok=True)
    luts = filter_luts(list_luts(root), "train")
    for lut in luts:
        shutil.copy2(lut, out / lut.name)
    return len(luts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vh.training.pack_sources", description=__doc__.split("\n")[0]
    )
    parser.add_argument("out", type=Path, help="new folder to write (must not exist)")
    parser.add_argument("--pairs", type=Path, help="image+mask folder (train_pairs layout)")
    parser.add_argument("--davis", type=Path, help="DAVIS root (JPEGImages/, Annotations/)")
    parser.add_argument("--luts", type=Path, help="folder of numbered .cube LUTs")
    parser.add_argument(
        "--short-side", type=int, default=160, help="downscale so the short side is at most this"
    )
    parser.add_argument("--quality", type=int, default=85, help="JPEG quality of the photos")
    args = parser.parse_args(argv)
    try:
        if args.out.exists():
            raise InputError(f"{args.out} exists; packing writes a new folder and never merges into one")
        if not (args.pairs or args.davis or args.luts):
            raise InputError("nothing to pack: give --pairs, --davis and/or --luts")
        refuse_sources(args.out, [p for p in (args.pairs, args.davis, args.luts) if p])
        if args.short_side < 16 or not 1 <= args.quality <= 100:
            raise InputError(
                f"--short-side must be at least 16 and --quality 1..100, got {args.short_side}, "
                f"{args.quality}"
            )
        # built beside its final name and renamed when complete: an error or a Ctrl-C leaves no half pack
        args.out.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{args.out.name}.partial-", dir=args.out.parent))
        try:
            size, quality = args.short_side, args.quality
            if args.pairs:
                print(f"pairs: {pack_pairs(args.pairs, partial / 'train_pairs', size, quality)}")
            if args.davis:
                print(f"davis frames: {pack_davis(args.davis, partial / 'davis', size, quality)}")
            if args.luts:
                print(f"luts: {pack_luts(args.luts, partial / 'luts')}")
            partial.chmod(0o755)  # mkdtemp's 0700 would keep the pack from other users of a shared machine
            partial.rename(args.out)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    except (InputError, OutputError) as exc:
        parser.exit(2, f"error: {exc}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
