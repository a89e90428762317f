"""`vh detect`: write the disharmony matte a model predicts for a shot (Huang et al.'s pixel-wise
discriminator).

    vh detect comp.####.exr -o matte.####.exr                  # the shipped huang weights
    vh detect comp.mp4 -o matte.mp4 --checkpoint ckpt --threshold 0.5

Frames go through the engine's own stream (`matte_only`): resized to the model's working size (area
averaging), converted to the working space and clamped to 0..1, passed to `model.detect` window by window,
cleaned (`vh.core.auto_matte`: temporal smoothing, the model's calibrated level, largest components, feather),
and upsampled bilinearly to the plate's size: exactly the matte `vh harmonize --matte auto` repaints by (all
zero where the detector is sure of nothing, and that frame is then left alone). Images and sequences get a
single-channel (Y) matte; a video gets the matte as grey RGB, which is how video mattes travel. The output
appears only when every frame is written."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vh.core.cli import common

    parser.add_argument(
        "input", help="composite shot: a video, an image, or a sequence (shot.####.exr, shot.%%04d.png)"
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="matte to write: an image, a sequence pattern (matte.####.exr) or a video (.mp4/.mov)",
    )
    parser.add_argument(
        "--checkpoint",
        help="trained weights (the model is read from the checkpoint's sidecar; default: the shipped huang)",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="registered model name (default: the checkpoint's model, else huang); must support auto mattes",
    )
    common.add_shot_run(parser)
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="binarize the matte at this level in (0, 1); default: keep the soft map",
    )
    parser.add_argument(
        "--colorspace", help="the input's colourspace (default: scene_linear for EXR, else sRGB)"
    )
    parser.add_argument("--ocio", help="OCIO config (default: $OCIO, else the built-in ACES config)")


def run(args: argparse.Namespace) -> int:
    import dataclasses

    import numpy as np

    from vh.core import color
    from vh.core.engine import Engine
    from vh.core.errors import InputError
    from vh.core.io import open_writer, parse_frame_range, probe, read_frames

    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise InputError(f"--threshold must lie in (0, 1), got {args.threshold}")
    if args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")

    info = probe(args.input, parse_frame_range(args.frames))
    if info.channels < 3:
        raise InputError(f"{args.input} has {info.channels} channel(s); detection needs RGB")
    colorspace = args.colorspace or color.default_colorspace(
        args.input, args.ocio, is_float=info.is_float, chromaticities=info.extra.get("chromaticities")
    )
    model = args.model or (
        None if args.checkpoint else "huang"
    )  # a model without weights is refused in one line
    engine = Engine(model, checkpoint=args.checkpoint, device=args.device, batch=args.batch)
    if not engine.model.supports_auto_matte:
        raise InputError(
            f"model {type(engine.model).__name__} cannot predict a matte; use a Huang checkpoint"
        )
    # the matte `vh harmonize --matte auto` repaints by: the engine's resize, colour and windows
    stream = engine.stream(colorspace, args.ocio, matte_only=True)

    video_out = _is_video(args.output)
    channels = 3 if video_out else 1
    like = dataclasses.replace(
        info, channels=channels, channel_names=("R", "G", "B") if video_out else ("Y",), alpha_channel=None
    )
    written = 0
    with open_writer(args.output, like, sources=[info]) as writer:  # never over the shot it reads

        def write(mattes: list[np.ndarray]) -> None:
            nonlocal written
            for matte in mattes:  # [H, W]
                if args.threshold is not None:
                    matte = (matte > args.threshold).astype(np.float32)
                writer.write(np.repeat(matte[:, :, None], channels, axis=2))  # [H, W, 1 or 3]
                written += 1

        for number, frame in zip(info.frames, read_frames(info), strict=False):
            write(stream.push(frame, None, label=number))
        write(stream.finish())
    log.info("wrote %d matte frame(s) to %s", written, args.output)
    return 0


def _is_video(path: str) -> bool:
    from vh.core.io import is_video_path

    return is_video_path(path)
