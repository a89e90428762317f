"""Fit the never-worse guard's floor, caution and direction for a trained model, on the `calib` split.

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

The rule puts the promise first without giving up the job: the lowest mean ratio of fMSE to the
composite's (a mean over clips that weighs each clip alike however large its error) plus the share of clips
made worse than the composite, so a clip made worse costs a whole composite's error. Ship the result with the
weights: `python -m vh.training.ship ... --set guard_floor=F --set guard_caution=C --set guard_direction=D`.
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

# the default grid: 12 candidates, about 15 minutes on 48 calib clips with a 2-core CPU. Caution 4 changed no
# row by more than 2% in the ensemble's fit (MODEL_CARD.md).
FLOORS = (0.0031, 0.01, 0.03)
CAUTIONS = (1.0,)
DIRECTIONS = (-1.0, 0.3, 0.5, 0.7)


@dataclass
class Candidate:
    floor: float
    caution: float
    direction: float
    fmse: dict[str, float]  # folder -> mean fMSE
    ratios: list[float]  # per clip, fMSE / the composite's
    worse: int  # clips made worse than the composite

    @property
    def mean_ratio(self) -> float:
        return float(np.mean(self.ratios))

    @property
    def cost(self) -> float:
        return cost(self.ratios, self.worse)


def cost(ratios: list[float], worse: int) -> float:
    """Mean fMSE ratio to the composite, plus the share of clips made worse: each clip made worse costs as
    much as a whole composite's error more (the artist has to find it and redo it). Ranking by the count of
    clips made worse alone would choose doing nothing (an infinite floor, direction 1)."""
    return float(np.mean(ratios)) + worse / max(len(ratios), 1)


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
    checkpoint: str,
    folders: list[Path],
    floors=FLOORS,
    cautions=CAUTIONS,
    directions=DIRECTIONS,
    device: str = "cpu",
) -> list[Candidate]:
    """Score every (floor, caution, direction) on every clip of `folders`; one Candidate each, in grid
    order."""
    from vh.core.color import WORKING_SPACE
    from vh.core.engine import Engine
    from vh.core.models.guard import ConsensusGuard, GuardConfig

    grid = list(itertools.product(floors, cautions, directions))
    for floor, caution, direction in grid:
        GuardConfig(floor=floor, caution=caution, direction=direction).validate()
    engine = Engine(checkpoint=checkpoint, device=device)
    guard = engine.model
    if not isinstance(guard, ConsensusGuard):
        raise InputError(f"{checkpoint} holds a model the guard does not wrap (a classical or stateful one)")
    forget, current = _memoize_corrections(guard), [None]

    def method(floor: float, caution: float, direction: float) -> evaluation.Method:
        def run(clip, comps, mattes):
            if clip.name != current[0]:  # clips are the outer loop: keep one clip's windows only
                forget()
                current[0] = clip.name
            guard.floor, guard.caution, guard.direction = floor, caution, direction
            return list(engine.run(comps, mattes, colorspace=WORKING_SPACE))

        return evaluation.Method(
            name=f"floor={floor:g} caution={caution:g} direction={direction:g}", harmonize=run
        )

    per_folder = []
    for folder in folders:
        forget()
        current[0] = None
        results = evaluation.evaluate(folder, [evaluation.model_method("cut")] + [method(*g) for g in grid])
        per_folder.append((folder, results[0], results[1:]))
    candidates = []
    for i, (floor, caution, direction) in enumerate(grid):
        ratios, worse, fmse = [], 0, {}
        for folder, cut, rows in per_folder:
            row = rows[i]
            fmse[str(folder)] = row.scores.fmse
            worse += evaluation.worse_than(row, cut)
            ratios += [row.clips[k].fmse / max(cut.clips[k].fmse, 1e-6) for k in row.clips]
        candidates.append(Candidate(floor, caution, direction, fmse, ratios, worse))
    return candidates


def choose(candidates: list[Candidate]) -> Candidate:
    """The lowest `cost`; among equals, the direction check that stops the fewest corrections (the lowest
    `direction`)."""
    return min(candidates, key=lambda c: (c.cost, c.direction))


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
    p.add_argument(
        "--directions", type=float, nargs="+", default=DIRECTIONS, help="candidate directions (-1: off)"
    )
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)
    from vh.core.errors import VhError

    logging.getLogger("vh.core.engine").setLevel(logging.ERROR)
    try:
        candidates = calibrate(
            args.checkpoint, args.data, args.floors, args.cautions, args.directions, args.device
        )
    except VhError as exc:
        print(f"vh: error: {exc}", file=sys.stderr)
        return 2
    names = [Path(f).name for f in args.data]
    print(
        f"{'floor':>8}{'caution':>9}{'direction':>11}"
        + "".join(f"{'fMSE ' + n:>14}" for n in names)
        + f"{'x cut':>8}{'worse':>7}{'cost':>8}"
    )
    for c in candidates:
        cells = "".join(f"{v:>14.1f}" for v in c.fmse.values())
        print(
            f"{c.floor:>8g}{c.caution:>9g}{c.direction:>11g}{cells}"
            f"{c.mean_ratio:>8.3f}{c.worse:>7d}{c.cost:>8.3f}"
        )
    best = choose(candidates)
    print(
        f"chosen: floor {best.floor:g}, caution {best.caution:g}, direction {best.direction:g} "
        f"({best.worse} of {len(best.ratios)} clips worse, "
        f"mean {best.mean_ratio:.3f}x the composite's fMSE); ship with --set guard_floor={best.floor:g} "
        f"--set guard_caution={best.caution:g} --set guard_direction={best.direction:g}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
