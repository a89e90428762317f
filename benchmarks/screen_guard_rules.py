"""Screen never-worse guard rules on a model's raw corrections, fitted on one set of clips and read on others.

    python benchmarks/bench_background_direction.py --guard off --data out/calib/lut out/calib/grade \\
        out/unseen/lut out/unseen/grade --json raw.json
    python benchmarks/screen_guard_rules.py raw.json --fit out/calib/lut out/calib/grade

A guard scales a window's correction by s in [0, 1]. Given one clip's raw correction (the `terms` that
bench_background_direction records: ee, de, dd), the error of comp + s (result - comp), pooled over the clip's
foreground pixels, is a quadratic in s, so any rule that sets one s per clip is scored exactly and at once,
with no model run. The shipped guard sets s per 8-frame window and runs through the full-resolution transfer,
so these numbers approximate the product path; calibrate_guard measures the chosen candidates on it. Two
families share the shrink s0 = m2 / (m2 + floor) (m2: the correction's mean square over the foreground, 0..1
scale):

  - step: s = s0 where cos(D, B) >= direction, else 0 (the shipped form, vh.core.models.guard);
  - ramp: s = s0 * clip((cos(D, B) - low) / (1 - low), 0, 1), which fades the correction out as it turns
    away from the background's pull instead of cutting it at one angle.
  - step, else shift: the step, but a clip whose correction it drops moves every foreground pixel a fraction
    gamma of B (the background's mean minus the foreground's) instead of staying as it came. Its error is
    exact too: ee - 2 N c.T + N |c|^2 for a shift c, from the clip's pixel count N and mean truth step T.
  - learned (with `--learn`): s = smax * sigmoid(MLP(features)), a small network fitted on the `--learn`
    folders' clips to minimise the same cost (mean ratio plus a penalty on ratios above 1). Its features are
    what the guard can see at run time: the composite's foreground mean and spread, the background's spread,
    B, D, the correction's size and cos(D, B). It is the issue's "confidence that shrinks the correction
    when the evidence is weak", learned instead of written; record the `--learn` folders with the rest.

Rules are ranked by calibrate_guard's cost (mean ratio to the composite plus the share of clips made worse) on
the `--fit` folders alone; every folder's mean ratio and count of clips made worse are printed beside it, so a
rule that wins on the fit set but loses on held-out sets shows as such.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_background_direction import _cos, ratio_at  # noqa: E402

from vh.core.models.guard import DEFAULT_DIRECTION, DEFAULT_FLOOR  # noqa: E402
from vh.training.calibrate_guard import cost as rank_cost  # noqa: E402

FLOORS = (0.0005, 0.001, DEFAULT_FLOOR, 0.01)
DIRECTIONS = (-1.0, 0.3, DEFAULT_DIRECTION, 0.7)
LOWS = (-0.5, 0.0, 0.3, 0.5)

Rule = Callable[[dict], float]  # one clip's recorded row -> its error over the composite's under the rule
SHIFTS = (0.1, 0.2, 0.3)


def mean_square(row: dict) -> float:
    """m2: the correction's mean square over the clip's foreground pixels and channels (0..1 scale)."""
    return row["terms"]["dd"] / max(3 * row["terms"]["pixels"], 1)


def shrink(row: dict, floor: float) -> float:
    m2 = mean_square(row)
    return m2 / max(m2 + floor, 1e-12)


def _cos_method_background(row: dict) -> float:
    return _cos(np.array(row["method"]), np.array(row["toward"]))


def scaled(scale: Callable[[dict], float]) -> Rule:
    """The rule that sets the clip's correction to comp + s (result - comp), s = scale(row)."""
    return lambda r: ratio_at(r["terms"], scale(r))


def step(floor: float, direction: float) -> Rule:
    return scaled(lambda r: shrink(r, floor) * float(_cos_method_background(r) >= direction))


def ramp(floor: float, low: float) -> Rule:
    return scaled(
        lambda r: shrink(r, floor) * float(np.clip((_cos_method_background(r) - low) / (1.0 - low), 0.0, 1.0))
    )


def shifted(row: dict, shift: np.ndarray) -> float:
    """The error ratio of adding `shift` [3] (0..1) to every foreground pixel of the composite."""
    terms, truth = row["terms"], np.array(row["truth"]) / 255.0  # T, as the pixels' mean step
    n = terms["pixels"]
    return (terms["ee"] - 2 * n * float(shift @ truth) + n * float(shift @ shift)) / max(terms["ee"], 1e-12)


def step_else_shift(floor: float, direction: float, gamma: float) -> Rule:
    def rule(r: dict) -> float:
        if _cos_method_background(r) >= direction:
            return ratio_at(r["terms"], shrink(r, floor))
        return shifted(r, gamma * np.array(r["toward"]) / 255.0)

    return rule


def clip_features(row: dict) -> np.ndarray:
    """What a guard sees of one clip at run time [18]: foreground mean and spread, background spread, B, D
    (0..1), the correction's RMS, cos(D, B) and |D| / |B|."""
    c, b, d = row["composite"], np.array(row["toward"]) / 255.0, np.array(row["method"]) / 255.0
    stats = [np.array(c[k]) / 255.0 for k in ("fg_mean", "fg_std", "bg_std")]
    shape = [np.sqrt(mean_square(row)), _cos(d, b), np.linalg.norm(d) / max(np.linalg.norm(b), 1e-6)]
    return np.concatenate([*stats, b, d, shape])


def learned(rows: list[dict], hidden: int, penalty: float, smax: float, steps: int = 1500) -> Rule:
    """Fit s = smax * sigmoid(MLP(clip_features)) on `rows` by full-batch AdamW on
    mean(ratio) + penalty * 10 * mean(relu(ratio - 1)); the ratio is exact in s (ratio_at)."""
    torch.manual_seed(0)
    x = torch.tensor(np.stack([clip_features(r) for r in rows]), dtype=torch.float32)  # [N, F]
    mean, std = x.mean(0), x.std(0) + 1e-6
    net = torch.nn.Sequential(
        torch.nn.Linear(x.shape[1], hidden), torch.nn.GELU(), torch.nn.Linear(hidden, 1)
    )
    scale = lambda f: smax * torch.sigmoid(net((f - mean) / std)).squeeze(1)  # noqa: E731  [N]
    terms = [[r["terms"][k] for k in ("ee", "de", "dd")] for r in rows]
    ee, de, dd = torch.tensor(terms, dtype=torch.float64).T  # [N] each
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=0.1)
    for _ in range(steps):
        s = scale(x).double()
        ratio = (ee - 2 * s * de + s * s * dd) / ee.clamp_min(1e-12)
        loss = ratio.mean() + penalty * 10 * torch.relu(ratio - 1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    def rule(r: dict) -> float:
        with torch.no_grad():
            s = float(scale(torch.tensor(clip_features(r), dtype=torch.float32)[None])[0])
        return ratio_at(r["terms"], s)

    return rule


def candidates(learn: list[dict] | None = None) -> dict[str, Rule]:
    rules = {"none (s = 1)": scaled(lambda r: 1.0)}
    for floor, direction in itertools.product(FLOORS, DIRECTIONS):
        rules[f"step floor {floor} direction {direction}"] = step(floor, direction)
    for floor, low in itertools.product(FLOORS, LOWS):
        rules[f"ramp floor {floor} from {low}"] = ramp(floor, low)
    for floor, direction, gamma in itertools.product(FLOORS, DIRECTIONS[1:], SHIFTS):
        rules[f"step floor {floor} dir {direction} else {gamma} B"] = step_else_shift(floor, direction, gamma)
    for hidden, penalty, smax in itertools.product((8, 32), (0.5, 2.0), (1.0, 1.5)) if learn else ():
        rules[f"learned h{hidden} penalty {penalty} max {smax}"] = learned(learn, hidden, penalty, smax)
    return rules


def score(rule: Rule, rows: list[dict]) -> tuple[list[float], int]:
    ratios = [rule(r) for r in rows]
    return ratios, sum(x > 1.0 for x in ratios)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("recording", type=Path, help="bench_background_direction.py --guard off --json output")
    p.add_argument("--fit", nargs="+", required=True, help="folders (as recorded) that rank the rules")
    p.add_argument("--top", type=int, default=8, help="rules to print, best first")
    p.add_argument("--learn", nargs="+", default=[], help="folders (as recorded) to fit the learned rules on")
    args = p.parse_args(argv)
    everything = json.loads(args.recording.read_text())
    missing = [f for f in args.fit + args.learn if f not in everything]
    if missing or any("terms" not in r for rows in everything.values() for r in rows):
        p.error(f"{args.recording}: no terms for {missing or 'some clips'}; record with --guard off --json")
    if set(args.fit) & set(args.learn):
        p.error("--fit and --learn share a folder: the learned rules would be ranked on their own clips")
    learn = [r for f in args.learn for r in everything[f]]
    if any("composite" not in r for r in learn):
        p.error(f"{args.recording}: no composite statistics; record it again with this version")
    table = []
    for name, rule in candidates(learn).items():
        per_folder = {folder: score(rule, rows) for folder, rows in everything.items()}
        fit = [x for f in args.fit for x in per_folder[f][0]]
        table.append((rank_cost(fit, sum(per_folder[f][1] for f in args.fit)), name, per_folder))
    table.sort(key=lambda row: row[0])
    # the default model's own settings (vhmae_cpu's), for comparison
    default = f"step floor {DEFAULT_FLOOR} direction {DEFAULT_DIRECTION}"
    shipped = next(row for row in table if row[1] == default)
    print(f"{'rule':44}{'fit cost':>9}  " + "  ".join(f"{f:>22}" for f in everything))
    for cost, name, per_folder in [*table[: args.top], (shipped[0], "shipped: " + shipped[1], shipped[2])]:
        cells = "  ".join(f"{np.mean(r):>14.3f} {w:>3}/{len(r):<3}" for r, w in per_folder.values())
        print(f"{name:44}{cost:>9.3f}  {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
