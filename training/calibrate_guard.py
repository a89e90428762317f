"""Fit the never-worse guard's floor and caution for a trained model, on the `calib` split.

    python -m vh.training.calibrate_guard runs/x/checkpoints/ckpt-0001024 --data out/calib/lut out/calib/grade

The guard (vh.core.models.guard) shortens a model's correction by s = m2 / (m2 + caution * v + floor). Fitted
on content the model trained on, `floor` comes out too small: there the model is rarely wrong, so it is
trusted on footage it has never seen. So the folders must be built from the `calib` split
(vh.training.splits), which the model never trained on and the unseen sets never share, e.g.

    vh make-dataset out/calib/grade --pairs ../shared/data/train_pairs --davis ../shared/data/davis \\
        --luts ../shared/data/luts --holdout calib --recolor grade --clips 24 --frames 20 --size 256 \\
        --seed 6006 --split test --davis-share 0.5

Every candidate is scored through the product path (vh.core.evaluation: the engine's windows and its
full-resolution transfer). The corrections do not depend on the guard's settings, so each window's are
computed once and reused by every candidate; only the shrinking and the transfer run per candidate.

The rule puts the promise first: among the candidates that make the fewest clips worse than the
composite (over all folders), the one with the lowest mean ratio of fMSE to the composite's, a mean over
clips that weighs each clip alike however large its error. Ship the result with the weights:
`python -m vh.training.ship ... --set guard_floor=F --set guard_caution=C`.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vh.core import evaluation
from vh.core.errors import InputError

FLOORS = (0.0, 0.0031, 0.006, 0.01, 0.02, 0.04)
CAUTIONS = (1.0, 4.0)


@dataclass
class Candidate:
    floor: float
    caution: float
    fmse: dict[str, float]  # folder -> mean fMSE
    ratios: list[float]  # per clip, fMSE / the composite's
    worse: int  # clips made worse than the composite

    @property
    def mean_ratio(self) -> float:
        return float(np.mean(self.ratios))


def _memoize_corrections(guard) -> callable:
    """Reuse each window's corrections across candidates; returns `forget()`, to call between clips."""
    compute, cache = guard.corrections, {}

    def corrections(comp, matte):
        parts = [comp.cpu().numpy().tobytes()] + ([] if matte is None else [matte.cpu().numpy().tobytes()])
        key = hashlib.blake2b(b"".join(parts), digest_size=16).digest()
        if key not in cache:
            cache[key] = compute(comp, matte)
        return cache[key]

    guard.corrections = corrections
    return cache.clear


def calibrate(
    checkpoint: str, folders: list[Path], floors=FLOORS, cautions=CAUTIONS, device: str = "cpu"
) -> list[Candidate]:
    """Score every (floor, caution) on every clip of `folders`; one Candidate each, in grid order."""
    from vh.core.color import WORKING_SPACE
    from vh.core.engine import Engine
    from vh.core.models.guard import ConsensusGuard, GuardConfig

    grid = list(itertools.product(floors, cautions))
    for floor, caution in grid:
        GuardConfig(floor=floor, caution=caution).validate()
    engine = Engine(checkpoint=checkpoint, device=device)
    guard = engine.model
    if not isinstance(guard, ConsensusGuard):
        raise InputError(f"{checkpoint} holds a model the guard does not wrap (a classical or stateful one)")
    forget, current = _memoize_corrections(guard), [None]

    def method(floor: float, caution: float) -> evaluation.Method:
        def run(clip, comps, mattes):
            if clip.name != current[0]:  # clips are the outer loop: keep one clip's windows only
                forget()
                current[0] = clip.name
            guard.floor, guard.caution = floor, caution
            return list(engine.run(comps, mattes, colorspace=WORKING_SPACE))

        return evaluation.Method(name=f"floor={floor:g} caution={caution:g}", harmonize=run)

    per_folder = []
    for folder in folders:
        forget()
        current[0] = None
        results = evaluation.evaluate(folder, [evaluation.model_method("cut")] + [method(*g) for g in grid])
        per_folder.append((folder, results[0], results[1:]))
    candidates = []
    for i, (floor, caution) in enumerate(grid):
        ratios, worse, fmse = [], 0, {}
        for folder, cut, rows in per_folder:
            row = rows[i]
            fmse[str(folder)] = row.scores.fmse
            worse += evaluation.worse_than(row, cut)
            ratios += [row.clips[k].fmse / max(cut.clips[k].fmse, 1e-6) for k in row.clips]
        candidates.append(Candidate(floor, caution, fmse, ratios, worse))
    return candidates


def choose(candidates: list[Candidate]) -> Candidate:
    """Fewest clips made worse, then the lowest mean fMSE ratio to the composite."""
    return min(candidates, key=lambda c: (c.worse, c.mean_ratio))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m vh.training.calibrate_guard", description=__doc__.split("\n")[0]
    )
    p.add_argument("checkpoint", help="a learned model's checkpoint (one model, or an ensemble)")
    p.add_argument(
        "--data", required=True, nargs="+", type=Path, help="HYouTube-layout folders of the calib split"
    )
    p.add_argument("--floors", type=float, nargs="+", default=FLOORS, help="candidate floors")
    p.add_argument("--cautions", type=float, nargs="+", default=CAUTIONS, help="candidate cautions")
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    from vh.core.errors import VhError

    logging.getLogger("vh.core.engine").setLevel(logging.ERROR)
    try:
        candidates = calibrate(args.checkpoint, args.data, args.floors, args.cautions, args.device)
    except VhError as exc:
        print(f"vh: error: {exc}", file=sys.stderr)
        return 2
    names = [Path(f).name for f in args.data]
    print(
        f"{'floor':>8}{'caution':>9}"
        + "".join(f"{'fMSE ' + n:>14}" for n in names)
        + f"{'x cut':>8}{'worse':>7}"
    )
    for c in candidates:
        cells = "".join(f"{v:>14.1f}" for v in c.fmse.values())
        print(f"{c.floor:>8g}{c.caution:>9g}{cells}{c.mean_ratio:>8.3f}{c.worse:>7d}")
    best = choose(candidates)
    print(
        f"chosen: floor {best.floor:g}, caution {best.caution:g} "
        f"({best.worse} of {len(best.ratios)} clips worse, "
        f"mean {best.mean_ratio:.3f}x the composite's fMSE); ship with --set guard_floor={best.floor:g} "
        f"--set guard_caution={best.caution:g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
