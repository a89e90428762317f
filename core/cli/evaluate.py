"""`vh eval DATASET`: measure models (or a folder of predictions) on a HYouTube-layout folder.

    vh eval ../data/hyoutube_val --model cut --model stats --json results.json
    vh eval ../data/hyoutube_val --model stats --option time_constant=8 --option space=rgb
    vh eval ../data/hyoutube_val --predictions my_results/ --json theirs.json

Prints one row per method (MSE, fMSE, PSNR, fSSIM, TL, flicker, seconds per frame) following the HYouTube/CO2Net
protocol (frames at 256x256; see `vh.core.metrics`). Models run through the inference engine, the same path as
`vh harmonize` and the server, unless `--direct` asks for the bare model call.
"""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a HYouTube-layout folder (real_videos/, foreground_mask/, "
                        "synthetic_composite_videos/, <split>_list.txt)")
    parser.add_argument("--model", "-m", action="append", default=[], metavar="NAME",
                        help="a registered model to evaluate; repeat for several (default: cut and the default model)")
    parser.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                        help="a model option applied to every --model that has it, e.g. time_constant=8")
    parser.add_argument("--checkpoint", metavar="PATH", help="weights for a learned --model")
    parser.add_argument("--predictions", action="append", default=[], metavar="DIR",
                        help="a folder of precomputed results laid out like synthetic_composite_videos "
                        "(DIR/<clip>/object_k/NNNNN.jpg|png); repeatable")
    parser.add_argument("--split", default="test", help="list file to read: <split>_list.txt (default: test)")
    parser.add_argument("--clip", action="append", default=None, metavar="NAME",
                        help="evaluate only this clip (e.g. camel-0); repeatable")
    parser.add_argument("--size", type=int, default=256, help="evaluation size in pixels (default: 256, the protocol)")
    parser.add_argument("--device", default="cpu", help="torch device for the models, e.g. cuda:0 (default: cpu)")
    parser.add_argument("--direct", action="store_true",
                        help="call the model on the 256x256 frames directly instead of through the engine")
    parser.add_argument("--full-res", action="store_true",
                        help="give the models the stored full-size frames (engine: model at its size, then the "
                        "full-resolution transfer) and resize their outputs for the metrics")
    parser.add_argument("--json", metavar="OUT", help="write the results (overall and per clip) as JSON")


def _parse_options(items: list[str]) -> dict[str, str]:
    from vh.core.errors import InputError

    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--option expects KEY=VALUE, got {item!r}")
        options[key.strip()] = _coerce(value.strip())
    return options


def _coerce(value: str) -> int | float | bool | str:
    """Command-line text as the value a model config expects: int, float, bool, else the string itself."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(value.lower(), value)


def run(args: argparse.Namespace) -> int:
    import json
    import os
    import sys
    from pathlib import Path

    from vh.core import evaluation
    from vh.core.errors import InputError, OutputError
    from vh.core.models import DEFAULT_MODEL, create_model

    options = _parse_options(args.option)
    names = args.model or ([] if args.predictions else ["cut", DEFAULT_MODEL])
    methods = []
    for name in names:
        # options apply to the models that know them, so `-m cut -m stats -o time_constant=8` just works
        known = set(options) if args.checkpoint or not options else {o.name for o in create_model(name).options()}
        own = {k: v for k, v in options.items() if k in known}
        methods.append(evaluation.model_method(name, device=args.device, use_engine=not args.direct,
                                               checkpoint=args.checkpoint, **own))
    unused = set(options) - set().union(*(m.options for m in methods)) if methods else set(options)
    if unused:
        raise InputError(f"no selected model has the option(s) {', '.join(sorted(unused))}")
    methods += [evaluation.predictions_method(p) for p in args.predictions]
    out_path = Path(args.json) if args.json else None
    if out_path is not None and not out_path.parent.is_dir():
        raise OutputError(f"cannot write {out_path}: folder {out_path.parent} does not exist")

    results = evaluation.evaluate(
        args.dataset, methods, split=args.split, size=args.size, clips=args.clip,
        progress=lambda name: print(f"  {name}", file=sys.stderr, flush=True), full_res=args.full_res,
    )
    print(evaluation.format_table(results))
    if out_path is not None:
        payload = {
            "dataset": str(args.dataset),
            "split": args.split,
            "size": args.size,
            "engine": not args.direct,
            "full_res": args.full_res,
            "results": [r.as_dict() for r in results],
        }
        tmp = out_path.with_name(out_path.name + ".tmp")
        try:
            tmp.write_text(json.dumps(payload, indent=2, allow_nan=True))
            os.replace(tmp, out_path)  # never a half-written results file
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    return 0
