"""`vh harmonize`: repaint the matted foreground of a shot so that it matches its plate.

    vh harmonize comp.####.exr --matte matte.####.exr -o harmonized.####.exr
    vh harmonize comp.mp4 --matte matte.mp4 -o harmonized.mp4 --model vhmae --checkpoint runs/vhmae/last
    vh harmonize comp.####.exr -o out.####.exr                  # the matte is the plate's own alpha
    vh harmonize comp.mp4 --matte auto -o out.mp4 --model huang        # the model finds the matte

The output's format follows its name (EXR in -> EXR out keeps the pixel type; .mp4 -> H.264). Its colourspace
is the input's, unless the output stores a different kind of data (scene-linear EXR written to a video is
encoded to sRGB) or `--output-colorspace` says otherwise. The output appears only when every frame is written:
an error or Ctrl-C leaves nothing that looks complete, and an unwritable output path fails before any work."""

from __future__ import annotations

import argparse
import logging

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vh.core.cli import common

    parser.add_argument(
        "input", help="composite shot: a video, an image, or a sequence (shot.####.exr, shot.%%04d.png)"
    )
    common.add_output(
        parser,
        "where to write: an image, a sequence pattern (out.####.exr) or a video (.mp4/.mov); "
        "never one of the input's or matte's files",
    )
    parser.add_argument(
        "--matte",
        default=None,
        help="foreground matte (image, sequence or video; 1 = repaint), or 'auto' for models that "
        "predict it; default: the input's alpha channel",
    )
    common.add_model(
        parser,
        default_help=" (default: the checkpoint's model, else the shipped default that `vh models` marks)",
    )
    common.add_strength(parser)
    common.add_color(parser)
    parser.add_argument("--output-colorspace", help="the output's colourspace (default: see above)")
    common.add_shot_run(parser)
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads, at most the cores this process may use (default: all cores for a network on "
        "the CPU, else 1: the transfer then runs one band per core, and decoding and encoding get the rest)",
    )
    parser.add_argument(
        "--transfer",
        default=None,
        help="full-resolution transfer: lut+affine (default), lut, poly, poly+affine, affine, upsample",
    )
    common.add_video_output(parser)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    from vh.core import lut_export  # --export-cube / --export-cdl

    lut_export.add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from contextlib import closing

    from tqdm import tqdm

    from vh.core import color, runtime
    from vh.core.cli import common
    from vh.core.engine import Engine
    from vh.core.errors import InputError
    from vh.core.io import alpha_of, open_writer, parse_frame_range, probe, read_frames, read_mattes
    from vh.core.io.threads import WriteBehind, prefetch
    from vh.core.options import check_options, model_options, parse_options
    from vh.core.transfer import TransferConfig

    if args.batch < 1:
        raise InputError(f"--batch must be at least 1, got {args.batch}")
    if args.threads is not None and not 1 <= args.threads <= runtime.cores():
        raise InputError(
            f"--threads must be 1..{runtime.cores()} (the cores this process may use), got {args.threads}"
        )
    strength = common.check_strength(args.strength)
    runtime.tune_allocator()
    try:
        transfer = TransferConfig(method=args.transfer) if args.transfer else TransferConfig()
    except ValueError as exc:
        raise InputError(str(exc)) from None
    name = model_name(args.model, args.checkpoint)
    overrides = check_options(model_options(name), parse_options(args.option), name)

    info = probe(args.input, parse_frame_range(args.frames))
    if info.channels < 3:
        raise InputError(f"{args.input} has {info.channels} channel(s); harmonization needs RGB")
    src = color.resolve_colorspace(
        args.colorspace
        or color.default_colorspace(
            args.input, args.ocio, is_float=info.is_float, chromaticities=info.extra.get("chromaticities")
        ),
        args.ocio,
    )
    auto = args.matte is not None and args.matte.lower() == "auto"
    if auto:
        mattes = None
    elif args.matte is None:
        if not info.has_alpha:
            raise InputError(
                f"{args.input} has no alpha channel to use as the matte; give --matte FILE or 'auto'"
            )
        mattes = None  # taken from each frame's own alpha below, so the plate is decoded once
    else:
        mattes = read_mattes(args.matte, info)  # sizes and counts checked here, before any work

    # the output's colourspace: the input's, unless the output format stores the other kind of data
    from vh.core.io import is_video_path

    out_is_float = not is_video_path(args.output) and args.output.lower().endswith((".exr", ".hdr"))
    if args.output_colorspace:
        dst = color.resolve_colorspace(args.output_colorspace, args.ocio)
    elif out_is_float == info.is_float:
        dst = src
    else:
        # an EXR we write carries no chromaticities, which readers take as Rec.709: write it in that space
        dst = color.default_colorspace(
            args.output,
            args.ocio,
            is_float=out_is_float,
            chromaticities=color.REC709_CHROMATICITIES if out_is_float else None,
        )

    frames = read_frames(info)
    sources = [info] + ([args.matte] if args.matte is not None and not auto else [])
    # open the writer before building the model: an unwritable output fails before any work
    with open_writer(args.output, info, sources=sources, **_writer_options(args, info)) as writer:
        engine = Engine(
            args.model,
            checkpoint=args.checkpoint,
            device=args.device,
            batch=args.batch,
            transfer=transfer,
            **overrides,
        )
        if auto and not engine.model.supports_auto_matte:
            raise InputError(
                f"--matte auto: model {type(engine.model).__name__} cannot predict a matte; give a matte"
            )
        stream = engine.stream(src, args.ocio, strength=strength)
        bar = tqdm(total=info.n_frames, unit="frame", desc="harmonize", disable=args.quiet, leave=False)

        def to_output(out):
            return color.convert(out, src, dst, args.ocio)

        # decode ahead and encode behind on their own threads, so I/O overlaps the engine instead of adding to
        # it; one frame of slack each way: at 4K every frame more in flight is 133 MB of peak memory
        with (
            runtime.torch_threads(args.threads or engine.torch_threads),
            WriteBehind(writer, to_output if dst != src else None, depth=1) as behind,
        ):

            def write(outs: list) -> None:
                for out in outs:
                    behind.write(out)
                    bar.update(1)

            # frame numbers label errors; the count check below catches a shot that ends early
            no_mattes = iter(lambda: None, 0)  # auto matte: None for every frame
            pairs = zip(info.frames, frames, mattes if mattes is not None else no_mattes)
            # closing(): on any error the read-ahead thread is stopped and joined here, not left decoding
            # while the interpreter shuts down (which aborts the process from inside the image library)
            with closing(prefetch(pairs, depth=1)) as ahead:
                try:
                    for number, frame, matte in ahead:
                        if args.matte is None:
                            matte = alpha_of(frame, info, number)
                        write(stream.push(frame, matte, label=number))
                    write(stream.finish())
                finally:
                    bar.close()
        if writer.count != info.n_frames:  # raised inside the writer: nothing is published
            raise InputError(f"{args.input}: got {writer.count} of {info.n_frames} frames")
    log.info("harmonized %d frame(s) of %s into %s", info.n_frames, args.input, args.output)
    if args.export_cube or args.export_cdl:
        from vh.core import lut_export

        lut_export.export_from_files(args, info, src, dst)
    return 0


def model_name(model: str | None, checkpoint: str | None) -> str:
    """The model a run uses: the one named, else the checkpoint's, else the default."""
    from vh.core.models.registry import DEFAULT_MODEL

    if model:
        return model
    if checkpoint:
        from vh.core.checkpoint import read_meta

        return read_meta(checkpoint)["model"]
    return DEFAULT_MODEL


def _writer_options(args: argparse.Namespace, info) -> dict:
    from vh.core.cli import common
    from vh.core.errors import InputError
    from vh.core.io import is_video_path

    video = common.video_options(args)
    if video and not is_video_path(args.output):
        raise InputError(
            f"--{next(iter(video)).replace('_', '-')} is for video outputs; {args.output} is not one"
        )
    return video
