"""The flags several commands share, declared once so that `harmonize`, `remote harmonize`, `eval` and `demo`
speak with one voice: the same name means the same thing everywhere. Old spellings stay as hidden aliases.

Only argparse here: `vh --help` imports every command's `add_arguments`, and must stay instant.
"""

from __future__ import annotations

import argparse


def add_output(parser: argparse.ArgumentParser, help: str, *, required: bool = True, default=None) -> None:
    parser.add_argument("-o", "--output", required=required, default=default, help=help)


def add_model(parser: argparse.ArgumentParser, *, repeat: bool = False, default_help: str = "") -> None:
    """--model, --checkpoint, --option NAME=VALUE (see `vh models` for every model's options and ranges)."""
    if repeat:
        parser.add_argument(
            "-m",
            "--model",
            action="append",
            default=[],
            metavar="NAME",
            help="a registered model (see `vh models`); repeatable" + default_help,
        )
    else:
        parser.add_argument(
            "-m",
            "--model",
            default=None,
            metavar="NAME",
            help="a registered model (see `vh models`)" + default_help,
        )
    parser.add_argument(
        "--checkpoint", metavar="PATH", help="trained weights; the model is read from their sidecar"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="model option, repeatable, e.g. --option time_constant=4 (`vh models` lists them)",
    )


def add_color(
    parser: argparse.ArgumentParser, *, ocio_help: str = "$OCIO, else the built-in ACES config"
) -> None:
    parser.add_argument(
        "--colorspace",
        help="the input's OCIO colourspace (default: for EXR the linear space its "
        "chromaticities name, Rec.709 when it has none; scene_linear for other float files; else "
        "sRGB-encoded Rec.709)",
    )
    parser.add_argument(
        "--ocio", metavar="CONFIG", help=f"OCIO config, a path or ocio:// name (default: {ocio_help})"
    )
    parser.add_argument("--config", dest="ocio", help=argparse.SUPPRESS)  # the old spelling of `vh remote`


def add_shot_run(parser: argparse.ArgumentParser) -> None:
    """--frames, --device and --batch: which frames run, where, and how many windows go to each model call."""
    parser.add_argument(
        "--frames", help="frame range FIRST-LAST (frame numbers for sequences, 0-based for video)"
    )
    parser.add_argument("--device", default="cpu", help="cpu or cuda:N (default: cpu)")
    parser.add_argument("--batch", type=int, default=4, help="windows per model call (default: 4)")


def add_strength(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--strength",
        type=float,
        default=None,
        help="0..1: how much of the correction to apply (default: 1, all of it)",
    )


def add_video_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--codec",
        choices=("h264", "prores"),
        default=None,
        help="video codec (default: by extension, .mp4 H.264, .mov ProRes)",
    )
    parser.add_argument(
        "--crf",
        type=int,
        default=None,
        help="H.264 quality, 0 (lossless) to 51 (worst) (default: 16, visually lossless)",
    )
    parser.add_argument(
        "--prores-profile",
        default=None,
        choices=("proxy", "lt", "standard", "hq", "4444", "4444xq"),
        help="ProRes profile (default: 4444, which keeps alpha)",
    )


def video_options(args: argparse.Namespace) -> dict:
    """The writer options the video flags ask for (only those given, so the writer's defaults stand)."""
    pairs = (("codec", args.codec), ("crf", args.crf), ("prores_profile", args.prores_profile))
    return {k: v for k, v in pairs if v is not None}


def check_strength(strength: float | None) -> float:
    from vh.core.errors import InputError

    if strength is None:
        return 1.0
    if not 0.0 <= strength <= 1.0:  # also rejects NaN
        raise InputError(f"--strength must be within 0..1, got {strength}")
    return strength
