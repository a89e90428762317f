"""`vh eval DATASET`: measure models (or a folder of predictions) on a HYouTube-layout folder.

    vh eval ../data/hyoutube_val --model cut --model stats -o results.json
    vh eval ../data/hyoutube_val --model stats --option time_constant=8 --option space=rgb
    vh eval ../data/hyoutube_val --predictions my_results/ -o theirs.json

Prints one row per method (MSE, fMSE, PSNR, fSSIM, TL, flicker, seconds per frame) following the
HYouTube/CO2Net protocol (scored at 256x256; see `vh.core.metrics`). Models run through the inference engine
on the stored frames, exactly as `vh harmonize` runs them, and are scored as the 8-bit files it would write;
`--model-only` scores the model's own low-res output (upsampled, no full-resolution transfer) through the same
engine."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from vh.core.cli import common

    parser.add_argument(
        "dataset",
        help="a HYouTube-layout folder (real_videos/, foreground_mask/, "
        "synthetic_composite_videos/, <split>_list.txt)",
    )
    common.add_model(
        parser,
        repeat=True,
        default_help=" (default: cut and the default model); options apply to every --model that has them",
    )
    parser.add_argument(
        "--predictions",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of precomputed results laid out like synthetic_composite_videos "
        "(DIR/<clip>/object_k/NNNNN.jpg|png); repeatable",
    )
    parser.add_argument("--split", default="test", help="list file to read: <split>_list.txt (default: test)")
    parser.add_argument(
        "--clip",
        action="append",
        default=None,
        metavar="NAME",
        help="evaluate only this clip (e.g. camel-0); repeatable",
    )
    parser.add_argument(
        "--size", type=int, default=256, help="evaluation size in pixels (default: 256, the protocol)"
    )
    parser.add_argument(
        "--device", default="cpu", help="torch device for the models, e.g. cuda:0 (default: cpu)"
    )
    parser.add_argument(
        "--limit", type=int, default=None, metavar="N", help="evaluate only the first N clips"
    )
    parser.add_argument(
        "--max-frames", type=int, default=None, metavar="N", help="only the first N frames of each clip"
    )
    parser.add_argument(
        "--model-only",
        "--direct",
        dest="model_only",
        action="store_true",
        help="score the model's own output at its working size, upsampled and composited, without the "
        "full-resolution transfer (same engine, windows and resize)",
    )
    parser.add_argument(
        "--matte",
        choices=("given", "auto"),
        default="given",
        help="auto: models that find their own matte (huang) get none and are scored as `name+auto`; the "
        "others keep the clip's matte as references (default: given)",
    )
    # models always get the stored frames now; the flag stays for old command lines
    parser.add_argument("--full-res", action="store_true", help=argparse.SUPPRESS)
    common.add_output(
        parser, "write the results (overall, per clip, skipped clips) to this JSON file", required=False
    )
    parser.add_argument("--json", dest="output", help=argparse.SUPPRESS)  # the old spelling of --output
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    import json
    from pathlib import Path

    from tqdm import tqdm

    from vh.core import evaluation
    from vh.core.cli.harmonize import model_name
    from vh.core.errors import InputError, OutputError
    from vh.core.io.publish import atomic_write_text
    from vh.core.models import DEFAULT_MODEL
    from vh.core.options import check_options, model_options, parse_options

    if args.output and "=" in args.output and not args.output.lower().endswith(".json"):
        raise InputError(f"-o names the results file; pass the model option {args.output!r} as --option")
    options = parse_options(args.option)
    names = args.model or ([] if args.predictions else ["cut", DEFAULT_MODEL])
    methods = []
    for name in names:
        # options apply to the models that know them, so `-m cut -m stats --option time_constant=8` just
        # works; each is range-checked as `vh harmonize` and the server check it
        specs = model_options(model_name(name, args.checkpoint))
        known = {o.name for o in specs}
        own = {k: v for k, v in options.items() if k in known}
        check_options(specs, own, name)  # labels keep the values as typed (time_constant=2, not 2.0)
        methods.append(
            evaluation.model_method(
                name,
                device=args.device,
                model_only=args.model_only,
                checkpoint=args.checkpoint,
                auto_matte=args.matte == "auto",
                **own,
            )
        )
    unused = set(options) - set().union(*(m.options for m in methods)) if methods else set(options)
    if unused:
        raise InputError(f"no selected model has the option(s) {', '.join(sorted(unused))}")
    methods += [evaluation.predictions_method(p) for p in args.predictions]
    out_path = Path(args.output) if args.output else None
    if out_path is not None and not out_path.parent.is_dir():
        raise OutputError(f"cannot write {out_path}: folder {out_path.parent} does not exist")

    bars = []  # made once the clips are known: an error found before then is the only line printed

    def start(n: int) -> None:
        bars.append(tqdm(total=n, unit="clip", desc="eval", disable=args.quiet, leave=False))

    def progress(name: str) -> None:
        bars[0].set_postfix_str(name, refresh=False)
        bars[0].update(1)

    try:
        results = evaluation.evaluate(
            args.dataset,
            methods,
            split=args.split,
            size=args.size,
            clips=args.clip,
            progress=progress,
            start=start,
            max_clips=args.limit,
            max_frames=args.max_frames,
        )
    finally:
        for bar in bars:
            bar.close()
    print(evaluation.format_table(results))
    if results and results[0].skipped:
        print(
            f"skipped {len(results[0].skipped)} clip(s) with an empty mask: {', '.join(results[0].skipped)}"
        )
    if out_path is not None:
        payload = {
            "dataset": str(args.dataset),
            "split": args.split,
            "size": args.size,
            "model_only": args.model_only,
            "matte": args.matte,
            "results": [r.as_dict() for r in results],
        }
        try:
            # strict JSON (allow_nan=False): a metric that does not exist is null, never NaN or Infinity
            atomic_write_text(out_path, json.dumps(payload, indent=2, allow_nan=False))
        except OSError as exc:
            raise OutputError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    return 0
