"""`vh detect`: write the disharmony matte a model predicts for a shot (Huang et al.'s pixel-wise discriminator).

    vh detect comp.####.exr -o matte.####.exr --checkpoint runs/huang_tiny/last
    vh detect comp.mp4 -o matte.mp4 --checkpoint ckpt --threshold 0.5

Each frame goes through the engine's conventions: resized to the model's working size (area averaging), converted
to the working space and clamped to 0..1, passed to `model.detect`, and the low-resolution matte is upsampled
bilinearly to the plate's size. Images and sequences get a single-channel (Y) matte; a video gets the matte as grey
RGB, which is how video mattes travel. The output appears only when every frame is written.
"""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
        "--checkpoint", help="trained weights (the model is read from the checkpoint's sidecar)"
    )
    parser.add_argument(
        "--model",
        default=None,
        help="registered model name (default: the checkpoint's model); must support auto mattes",
    )
    parser.add_argument(
        "--frames", help="frame range FIRST-LAST (frame numbers for sequences, 0-based for video)"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N (default: cpu)")
    parser.add_argument("--batch", type=int, default=4, help="frames per model call (default: 4)")
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
    import torch

    from vh.core import color
    from vh.core.engine import Engine, resize, working_size
    from vh.core.errors import InputError
    from vh.core.io import open_writer, parse_frame_range, probe, read_frames

    if args.checkpoint is None:
        raise InputError(
            "vh detect needs trained weights: pass --checkpoint (an untrained discriminator predicts noise)"
        )
    if args.threshold is not None and not 0.0 < args.threshold < 1.0:
        raise InputError(f"--threshold must lie in (0, 1), got {args.threshold}")
    if args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")

    info = probe(args.input, parse_frame_range(args.frames))
    colorspace = args.colorspace or color.default_colorspace(
        args.input, args.ocio, is_float=info.is_float, chromaticities=info.extra.get("chromaticities")
    )
    colorspace = color.resolve_colorspace(colorspace, args.ocio)
    working = color.working_space(args.ocio)
    engine = Engine(args.model, checkpoint=args.checkpoint, device=args.device, batch=args.batch)
    inner = getattr(engine.model, "inner", engine.model)  # the model behind the engine's never-worse guard
    if not getattr(inner, "supports_auto_matte", False) or not hasattr(inner, "detect"):
        raise InputError(
            f"model {type(engine.model).__name__} cannot predict a matte; use a Huang checkpoint"
        )

    video_out = _is_video(args.output)
    channels = 3 if video_out else 1
    like = dataclasses.replace(
        info, channels=channels, channel_names=("R", "G", "B") if video_out else ("Y",), alpha_channel=None
    )
    size_lo = working_size(engine.model, info.height, info.width)

    def predict(batch: list[np.ndarray]) -> list[np.ndarray]:
        comp = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2)[:, None]  # [B, T=1, 3, h, w]
        mattes = engine.detect(comp)[:, 0, 0].numpy()  # [B, h, w]
        out = []
        for m in mattes:
            full = np.clip(resize(m, (info.height, info.width)), 0.0, 1.0)  # [H, W]
            if args.threshold is not None:
                full = (full > args.threshold).astype(np.float32)
            out.append(np.repeat(full[:, :, None], channels, axis=2))  # [H, W, 1 or 3]
        return out

    written = 0
    with open_writer(args.output, like, sources=[info]) as writer:  # never over the shot it reads
        pending: list[np.ndarray] = []
        for index, frame in enumerate(read_frames(info)):
            if frame.shape[2] < 3:
                raise InputError(f"{args.input} has {frame.shape[2]} channel(s); detection needs RGB")
            if not np.isfinite(frame[..., :3]).all():
                raise InputError(f"frame {info.frames[index]} of {args.input} has NaN/Inf pixel values")
            lo = resize(frame[..., :3], size_lo)  # [h, w, 3] in the plate's colourspace
            if colorspace != working:
                lo = color.convert(lo, colorspace, working, args.ocio)
            pending.append(np.clip(lo, 0.0, 1.0))
            if len(pending) == args.batch:
                for matte in predict(pending):
                    writer.write(matte)
                    written += 1
                pending = []
        for matte in predict(pending) if pending else []:
            writer.write(matte)
            written += 1
    log.info("wrote %d matte frame(s) to %s", written, args.output)
    return 0


def _is_video(path: str) -> bool:
    from vh.core.io import is_video_path

    return is_video_path(path)
