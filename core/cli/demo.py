"""`vh demo`: a self-contained showcase, no downloads (the default model's weights ship in the package).

It builds a short composite from the bundled lemur photo (CC0): the lemur layer is recoloured (a warm grade
and an exposure push, as a badly matched element would be) and drifts gently over the photo's own background
layer. The untouched photo with the same motion is the ground truth. The shot goes through the same engine as
`vh harmonize` with the default model, and the command writes

    demo_composite.mp4     the mismatched composite
    demo_harmonized.mp4    the harmonized result
    demo_before_after.png  the middle frame, labelled: composite | harmonized | original

and prints the foreground MSE (0..255 scale, inside the matte) before and after against the ground truth.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parents[1] / "assets" / "lemur"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vh.core.cli import common

    common.add_output(parser, "folder to write into (default: ./vh-demo)", required=False, default="vh-demo")
    common.add_model(parser, default_help=" (default: the shipped default that `vh models` marks)")
    parser.add_argument("--length", type=int, default=24, help="length of the shot in frames (default: 24)")
    # `--frames` is a range everywhere else; here it was the length, kept as a hidden alias
    parser.add_argument("--frames", dest="length", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N (default: cpu)")


LABELS = ("composite", "harmonized", "original")


def labelled(strip, labels):
    """`strip` [H, n*W, 3] with a caption bar above each of its n panels."""
    import cv2
    import numpy as np

    h, w = strip.shape[0], strip.shape[1] // len(labels)
    bar = np.full((max(24, h // 14), strip.shape[1], 3), 20, np.uint8)  # OpenCV draws text on 8-bit images
    scale = bar.shape[0] / 32
    for i, text in enumerate(labels):
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        org = (i * w + (w - tw) // 2, (bar.shape[0] + th) // 2)
        cv2.putText(bar, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (242, 242, 242), 1, cv2.LINE_AA)
    return np.concatenate([bar.astype(np.float32) / 255.0, strip.astype(np.float32)], axis=0)


def recolour(fg):
    """The mismatch: +0.6 stop and a warm white balance, applied in linear light as a grade would be."""
    import numpy as np

    from vh.core import color

    linear = color.convert(fg, color.working_space(), "Linear Rec.709 (sRGB)")
    gain = np.array([1.45, 1.1, 0.7], np.float32) * 2**0.6
    graded = np.clip(linear * gain, 0.0, 1.0)  # the demo's video is 8-bit sRGB: no values above white
    return color.convert(graded, "Linear Rec.709 (sRGB)", color.working_space()).astype(np.float32)


def build_shot(n_frames: int):
    """Yield (composite, ground truth, matte) per frame: float32 sRGB [H, W, 3], [H, W, 3], [H, W]."""
    import cv2
    import numpy as np

    from vh.core.errors import InputError
    from vh.core.io import read_image

    try:
        fg = read_image(ASSETS / "lemur_foreground.png")[..., :3]
        bg = read_image(ASSETS / "lemur_background.png")[..., :3]
        alpha = read_image(ASSETS / "lemur_alpha.png")[..., 0]
    except (OSError, InputError) as exc:
        raise InputError(f"the demo assets are missing or unreadable ({exc}); reinstall vh") from None
    h, w = alpha.shape
    fg_graded = recolour(fg)
    for t in range(n_frames):
        phase = 2 * np.pi * t / max(n_frames, 1)
        # a gentle sub-pixel drift (the element was tracked in a little loosely)
        m = np.float32([[1, 0, 10 * np.sin(phase)], [0, 1, 4 * np.sin(2 * phase)]])

        def shift(img, m=m):
            return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)

        a = np.clip(shift(alpha), 0.0, 1.0)  # [H, W]
        a3 = a[..., None]
        truth = shift(fg) * a3 + bg * (1 - a3)
        comp = shift(fg_graded) * a3 + bg * (1 - a3)
        yield comp.astype(np.float32), truth.astype(np.float32), a.astype(np.float32)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from vh.core import color
    from vh.core.engine import Engine
    from vh.core.errors import InputError
    from vh.core.io import ClipInfo, open_writer, write_image
    from vh.core.metrics import fmse

    if args.length < 1:
        raise InputError(f"--length must be at least 1, got {args.length}")
    out = Path(args.output)
    if out.exists() and not out.is_dir():
        from vh.core.errors import OutputError

        raise OutputError(
            f"-o {out} is a file; the demo writes three files into a folder: give a folder name"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        from vh.core.errors import OutputError

        raise OutputError(f"cannot create folder {out}: {exc.strerror or exc}") from None
    shot = list(build_shot(args.length))  # 24 frames of 680x440: ~65 MB, fine to hold for the metric
    h, w = shot[0][2].shape
    like = ClipInfo.make(w, h, channels=3, n_frames=args.length, fps=24, pixel_type="uint8", kind="video")
    from vh.core.cli.harmonize import model_name
    from vh.core.options import check_options, model_options, parse_options

    name = model_name(args.model, args.checkpoint)
    options = check_options(model_options(name), parse_options(args.option), name)
    engine = Engine(args.model, checkpoint=args.checkpoint, device=args.device, **options)
    ws = color.working_space()

    before, after, middle = [], [], None
    with (
        open_writer(out / "demo_composite.mp4", like) as comp_writer,
        open_writer(out / "demo_harmonized.mp4", like) as harm_writer,
    ):
        results = engine.run((c for c, _, _ in shot), (m for _, _, m in shot), ws)
        for i, ((comp, truth, matte), harm) in enumerate(zip(shot, results, strict=True)):
            comp_writer.write(comp)
            harm_writer.write(harm)
            mask = matte > 0.5
            before.append(fmse(comp * 255, truth * 255, mask))
            after.append(fmse(harm * 255, truth * 255, mask))
            if i == args.length // 2:
                middle = np.concatenate([comp, harm, truth], axis=1)  # [H, 3W, 3]
    write_image(out / "demo_before_after.png", labelled(np.clip(middle, 0, 1), LABELS), pixel_type="uint8")
    print(f"model: {name}")
    print(
        f"fMSE vs ground truth (0..255, inside the matte, mean of {args.length} frames): "
        f"composite {np.mean(before):.1f} -> harmonized {np.mean(after):.1f}"
    )
    if np.mean(after) > np.mean(before):
        print(f"note: {name} moved the lemur further from the original photo than the composite was")
    print(
        f"wrote {out / 'demo_composite.mp4'}, {out / 'demo_harmonized.mp4'}, {out / 'demo_before_after.png'}"
    )
    return 0
