"""Which clips a harmonizer makes worse, beside the one thing the background can say: the way to go.

    python benchmarks/bench_background_direction.py --data out/calib/grade out/calib/lut    # the default
    python benchmarks/bench_background_direction.py --data DIR -m stats --checkpoint CKPT --json out.json

Every method we have, classical or learned, moves the foreground's colour toward what the background
suggests. Per clip of a HYouTube-layout folder this prints three mean colour vectors over the foreground
(0..255 RGB, frames as stored):

  - B, the background's mean minus the foreground's, in the composite: where the background points;
  - T, the ground truth minus the composite: the correction the clip needs;
  - D, the method's result minus the composite: the correction it made (through the product path,
    vh.core.evaluation, so guard and full-resolution transfer included);

with the cosines cos(T, B) and cos(D, B) and the method's fMSE against cut-and-paste. A clip whose true
correction points *away* from the background (cos(T, B) < 0) was recoloured toward it: its composite looks
more in harmony than the real footage. A method that reads harmony from the background moves it the wrong
way, and no check of the correction against the background can tell, because the evidence agrees with it.
The summary counts the clips made worse on each side of that line.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from vh.core import evaluation
from vh.core.checkpoint import read_meta
from vh.core.io.hyoutube import HYouTube
from vh.core.models.registry import DEFAULT_MODEL

AWAY = 0.0  # cos(T, B) below this: the truth lies away from the background


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9))


def _region_mean(frames: list[np.ndarray], mattes: list[np.ndarray], inside: bool) -> np.ndarray:
    """Mean colour [3] (0..255) over the frames' foreground (or background) pixels."""
    pixels = [np.asarray(f, np.float64)[(m > 0.5) == inside][:, :3] for f, m in zip(frames, mattes)]
    return np.concatenate(pixels).mean(0) * 255.0


def recording(method: evaluation.Method, corrections: dict[str, np.ndarray]) -> evaluation.Method:
    """`method`, also keeping each clip's mean foreground correction D in `corrections`."""

    def run(clip, comps, mattes):
        preds = method.harmonize(clip, comps, mattes)
        as_float = [p.astype(np.float64) / 255.0 if p.dtype == np.uint8 else p for p in preds]
        corrections[clip.name] = _region_mean(as_float, mattes, True) - _region_mean(comps, mattes, True)
        return preds

    return evaluation.Method(name=method.name, harmonize=run, options=method.options)


def measure(folder: Path, model: str, checkpoint: str | None, device: str) -> list[dict]:
    corrections: dict[str, np.ndarray] = {}
    method = recording(evaluation.model_method(model, device=device, checkpoint=checkpoint), corrections)
    cut, result = evaluation.evaluate(folder, [evaluation.model_method("cut"), method])
    ds, rows = HYouTube(folder, split="test"), []
    for record in ds:
        if record.name not in result.clips:
            continue  # skipped by the evaluation (empty masks)
        comps, reals, mattes = [], [], []
        for f in ds.read(record, 0, None):
            comp, _, matte = f.as_float()
            comps.append(comp)
            reals.append(f.real.astype(np.float64) / 255.0)
            mattes.append(matte)
        fg = _region_mean(comps, mattes, True)
        toward = _region_mean(comps, mattes, False) - fg  # B
        truth = _region_mean(reals, mattes, True) - fg  # T
        d = corrections[record.name]
        rows.append(
            {
                "clip": record.name,
                "cut_fmse": cut.clips[record.name].fmse,
                "fmse": result.clips[record.name].fmse,
                "cos_truth_background": _cos(truth, toward),
                "cos_method_background": _cos(d, toward),
                "cos_method_truth": _cos(d, truth),
                "truth": truth.tolist(),
                "method": d.tolist(),
            }
        )
    return rows


def summary(rows: list[dict]) -> str:
    away = [r for r in rows if r["cos_truth_background"] < AWAY]
    near = [r for r in rows if r["cos_truth_background"] >= AWAY]
    worse = lambda rs: sum(r["fmse"] > r["cut_fmse"] for r in rs)  # noqa: E731
    return (
        f"truth away from the background: {worse(away)} of {len(away)} clips made worse; "
        f"toward it: {worse(near)} of {len(near)}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", nargs="+", type=Path, required=True, help="HYouTube-layout folders")
    p.add_argument("-m", "--model", default=None, help="a registered model (default: the default model)")
    p.add_argument("--checkpoint", default=None, help="trained weights for --model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, help="write every clip's vectors here")
    args = p.parse_args(argv)
    logging.getLogger("vh.core.engine").setLevel(logging.ERROR)
    model = args.model or (read_meta(args.checkpoint)["model"] if args.checkpoint else DEFAULT_MODEL)
    everything = {}
    for folder in args.data:
        rows = measure(folder, model, args.checkpoint, args.device)
        everything[str(folder)] = rows
        print(f"{folder}  ({model}{' from ' + args.checkpoint if args.checkpoint else ''})")
        print(f"  {'clip':44}{'cut':>8}{'x cut':>7}{'cos(T,B)':>10}{'cos(D,B)':>10}{'cos(D,T)':>10}")
        for r in rows:
            flag = "  worse" if r["fmse"] > r["cut_fmse"] else ""
            print(
                f"  {r['clip'][:44]:44}{r['cut_fmse']:>8.1f}{r['fmse'] / max(r['cut_fmse'], 1e-6):>7.2f}"
                f"{r['cos_truth_background']:>10.2f}{r['cos_method_background']:>10.2f}"
                f"{r['cos_method_truth']:>10.2f}{flag}"
            )
        print(f"  {summary(rows)}")
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
