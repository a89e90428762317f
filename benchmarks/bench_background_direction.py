"""Which clips a harmonizer makes worse, beside the one thing the background can say: the way to go.

    python benchmarks/bench_background_direction.py --data out/calib/grade out/calib/lut    # the default
    python benchmarks/bench_background_direction.py --data DIR -m stats --checkpoint CKPT --json out.json
    python benchmarks/bench_background_direction.py --data out/calib/grade --guard off     # the headroom

Every method we have, classical or learned, moves the foreground's colour toward what the background
suggests. Per clip of a HYouTube-layout folder this prints three mean colour vectors over the foreground
(0..255 RGB, frames as stored):

  - B, the background's mean minus the foreground's, in the composite: where the background points;
  - T, the ground truth minus the composite: the correction the clip needs;
  - D, the method's result minus the composite: the correction it made (through the product path,
    vh.core.evaluation, so guard and full-resolution transfer included);

with the cosines cos(T, B) and cos(D, B) and the method's fMSE against cut-and-paste, and the headroom of the
correction: the one scale k per clip that brings comp + k (result - comp) nearest the truth, pixel by pixel
inside the matte, and the fMSE ratio that k would reach. k < 0 means the correction points the wrong way; the
mean ratio at the best k >= 0 bounds what any per-clip shrink or gain of these corrections (a guard, a
confidence) could achieve: a target below it needs better corrections, not a better guard. `--guard off`
measures the model's raw correction, as the guard receives it. A clip whose true
correction points *away* from the background (cos(T, B) < 0) was recoloured toward it: its composite looks
more in harmony than the real footage. A method that reads harmony from the background moves it the wrong
way, and no check of the correction against the background can tell, because the evidence agrees with it.
The summary counts the clips made worse on each side of that line.

`--again` also runs the method a second time on its own result (same mattes) and reports how far that second
step goes along the first: rho = <D2, D1> / <D1, D1> over the foreground's pixels, D1 = result - composite,
D2 = second result - result. An idempotent harmonizer, one that leaves a finished shot alone, has rho = 0.
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
from vh.core.models.guard import GuardConfig
from vh.core.models.registry import DEFAULT_MODEL

AWAY = 0.0  # cos(T, B) below this: the truth lies away from the background


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(float(np.linalg.norm(a) * np.linalg.norm(b)), 1e-9))


def _region_pixels(frames: list[np.ndarray], mattes: list[np.ndarray], inside: bool) -> np.ndarray:
    """The frames' foreground (or background) pixels [N, 3], 0..255."""
    pixels = [np.asarray(f, np.float64)[(m > 0.5) == inside][:, :3] for f, m in zip(frames, mattes)]
    return np.concatenate(pixels) * 255.0


def _region_mean(frames: list[np.ndarray], mattes: list[np.ndarray], inside: bool) -> np.ndarray:
    """Mean colour [3] (0..255) over the frames' foreground (or background) pixels."""
    return _region_pixels(frames, mattes, inside).mean(0)


def error_terms(comps, preds, reals, mattes) -> dict[str, float]:
    """The squared error of comp + k (pred - comp) against the truth over the matte's pixels (frames as
    stored, 0..1) is ee - 2 k de + k^2 dd for every scale k: {dd, de, ee, pixels}."""
    dd = de = ee = 0.0
    pixels = 0
    for comp, pred, real, matte in zip(comps, preds, reals, mattes):
        inside = matte > 0.5
        d = (np.asarray(pred, np.float64)[..., :3] - comp[..., :3])[inside]
        e = (real - comp[..., :3])[inside]
        dd, de, ee = dd + float((d * d).sum()), de + float((d * e).sum()), ee + float((e * e).sum())
        pixels += int(inside.sum())
    return {"dd": dd, "de": de, "ee": ee, "pixels": pixels}


def ratio_at(terms: dict[str, float], k: float) -> float:
    """The error of comp + k (pred - comp) over the composite's, from `error_terms`."""
    return (terms["ee"] - 2 * k * terms["de"] + k * k * terms["dd"]) / max(terms["ee"], 1e-12)


def best_scale(terms: dict[str, float]) -> tuple[float, float]:
    """(k, error ratio to the composite at max(k, 0)): the k that minimises the error of
    comp + k (pred - comp)."""
    k = terms["de"] / terms["dd"] if terms["dd"] > 0 else 0.0
    return k, ratio_at(terms, max(k, 0.0))


def _as_float(frames: list[np.ndarray]) -> list[np.ndarray]:
    return [f.astype(np.float64) / 255.0 if f.dtype == np.uint8 else f for f in frames]


def second_step(comps, firsts, seconds, mattes) -> dict[str, float]:
    """How far a second run moves along the first one's correction, over the matte's pixels:
    {rho: <D2, D1> / <D1, D1>, cos: the cosine between D2 and D1}."""

    def inside(after, before):  # [pixels * 3]
        steps = [(a[..., :3] - b[..., :3])[m > 0.5] for a, b, m in zip(after, before, mattes)]
        return np.concatenate(steps).ravel()

    d1, d2 = inside(firsts, comps), inside(seconds, firsts)
    return {"rho": float(d2 @ d1 / max(float(d1 @ d1), 1e-12)), "cos": _cos(d2, d1)}


def recording(
    method: evaluation.Method, vectors: dict[str, dict], ds: HYouTube, again: bool = False
) -> evaluation.Method:
    """`method`, also keeping in `vectors[clip]` the clip's mean colour vectors B, T and D and the best scale
    of its correction (with `again`, the second step's too); the truth is read here, once per clip."""

    def run(clip, comps, mattes):
        preds = method.harmonize(clip, comps, mattes)
        as_float = _as_float(preds)
        reals = [f.real.astype(np.float64) / 255.0 for f in ds.read(clip, 0, len(comps))]
        fg_pixels, bg_pixels = _region_pixels(comps, mattes, True), _region_pixels(comps, mattes, False)
        fg = fg_pixels.mean(0)
        terms = error_terms(comps, as_float, reals, mattes)
        k, ratio_at_k = best_scale(terms)
        vectors[clip.name] = {
            "toward": bg_pixels.mean(0) - fg,  # B
            "composite": {"fg_mean": fg, "fg_std": fg_pixels.std(0), "bg_std": bg_pixels.std(0)},
            "truth": _region_mean(reals, mattes, True) - fg,  # T
            "method": _region_mean(as_float, mattes, True) - fg,  # D
            "best_scale": k,
            "ratio_at_best_scale": ratio_at_k,
            "terms": terms,
        }
        if again:  # the result, as a composite is given (float32 0..1), is the next composite
            seconds = method.harmonize(clip, [f.astype(np.float32) for f in as_float], mattes)
            vectors[clip.name]["again"] = second_step(comps, as_float, _as_float(seconds), mattes)
        return preds

    return evaluation.Method(name=method.name, harmonize=run, options=method.options)


def measure(
    folder: Path, model: str, checkpoint: str | None, device: str, guard: bool = True, again: bool = False
) -> list[dict]:
    vectors: dict[str, dict] = {}
    ds = HYouTube(folder, split="test")
    options = {} if guard else {"guard": GuardConfig(views=1, floor=0.0, direction=-1.0)}  # the engine's none
    method = evaluation.model_method(model, device=device, checkpoint=checkpoint, engine_options=options)
    cut, result = evaluation.evaluate(
        folder, [evaluation.model_method("cut"), recording(method, vectors, ds, again)]
    )
    rows = []
    for name, v in vectors.items():  # clips the evaluation skipped (empty masks) never reached `recording`
        toward, truth, d = v["toward"], v["truth"], v["method"]
        rows.append(
            {
                "clip": name,
                "cut_fmse": cut.clips[name].fmse,
                "fmse": result.clips[name].fmse,
                "cos_truth_background": _cos(truth, toward),
                "cos_method_background": _cos(d, toward),
                "cos_method_truth": _cos(d, truth),
                "best_scale": v["best_scale"],
                "ratio_at_best_scale": v["ratio_at_best_scale"],
                "toward": toward.tolist(),
                "truth": truth.tolist(),
                "method": d.tolist(),
                "terms": v["terms"],
                "composite": {k: x.tolist() for k, x in v["composite"].items()},
            }
            | ({"again": v["again"]} if "again" in v else {})
        )
    return rows


def summary(rows: list[dict]) -> str:
    away = [r for r in rows if r["cos_truth_background"] < AWAY]
    near = [r for r in rows if r["cos_truth_background"] >= AWAY]
    worse = lambda rs: sum(r["fmse"] > r["cut_fmse"] for r in rs)  # noqa: E731
    ratio = np.mean([r["fmse"] / max(r["cut_fmse"], 1e-6) for r in rows])
    best = np.mean([r["ratio_at_best_scale"] for r in rows])
    return (
        f"truth away from the background: {worse(away)} of {len(away)} clips made worse; "
        f"toward it: {worse(near)} of {len(near)}\n"
        f"  mean x cut {ratio:.3f}; at each clip's best scale >= 0 it would be {best:.3f} "
        f"({sum(r['best_scale'] < 0 for r in rows)} clips whose correction points the wrong way)"
    ) + _again_summary(rows)


def _again_summary(rows: list[dict]) -> str:
    steps = [r["again"] for r in rows if "again" in r]
    if not steps:
        return ""
    low, mid, high = np.quantile([s["rho"] for s in steps], (0.25, 0.5, 0.75))
    return (
        f"\n  run again on its own result: median rho {mid:.2f} (quartiles {low:.2f} to {high:.2f}), "
        f"median cos(D2, D1) {np.median([s['cos'] for s in steps]):.2f}"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", nargs="+", type=Path, required=True, help="HYouTube-layout folders")
    p.add_argument("-m", "--model", default=None, help="a registered model (default: the default model)")
    p.add_argument("--checkpoint", default=None, help="trained weights for --model")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", type=Path, default=None, help="write every clip's vectors here")
    p.add_argument(
        "--guard", choices=("on", "off"), default="on", help="off: the model's correction before the guard"
    )
    p.add_argument("--again", action="store_true", help="also run it on its own result: the second step")
    args = p.parse_args(argv)
    logging.getLogger("vh.core.engine").setLevel(logging.ERROR)
    model = args.model or (read_meta(args.checkpoint)["model"] if args.checkpoint else DEFAULT_MODEL)
    everything = {}
    for folder in args.data:
        rows = measure(folder, model, args.checkpoint, args.device, args.guard == "on", args.again)
        everything[str(folder)] = rows
        print(f"{folder}  ({model}{' from ' + args.checkpoint if args.checkpoint else ''})")
        print(
            f"  {'clip':44}{'cut':>8}{'x cut':>7}{'cos(T,B)':>10}{'cos(D,B)':>10}{'cos(D,T)':>10}"
            f"{'best k':>8}{'x cut at k':>12}"
        )
        for r in rows:
            flag = "  worse" if r["fmse"] > r["cut_fmse"] else ""
            print(
                f"  {r['clip'][:44]:44}{r['cut_fmse']:>8.1f}{r['fmse'] / max(r['cut_fmse'], 1e-6):>7.2f}"
                f"{r['cos_truth_background']:>10.2f}{r['cos_method_background']:>10.2f}"
                f"{r['cos_method_truth']:>10.2f}{r['best_scale']:>8.2f}{r['ratio_at_best_scale']:>12.2f}{flag}"
            )
        print(f"  {summary(rows)}")
    if args.json:
        args.json.write_text(json.dumps(everything, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
