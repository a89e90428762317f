"""The held-out discipline, written once: which sequences, photos and LUTs training may touch.

Three splits, each a whole set of sequences, photos and LUTs that no other split shares:

- `unseen` is what models and defaults are measured and chosen on. Training and calibration never read it.
- `calib` is what a trained model's post-hoc settings (the never-worse guard's floor) are fitted on:
  content the model never trained on, like the footage it will meet, yet not the footage it is measured on.
  A setting fitted on the training side sees the model's errors on content it has learned and so trusts it
  too much.
- `train` is everything else.

| split | DAVIS sequences | LUTs | photos (CRC of the pair's name mod 10) |
|---|---|---|---|
| train | `camel`, `cows` (and any sequence not listed) | 1-48 | 2-9 |
| calib | `blackswan` | 49-55 | 1 |
| unseen | `car-shadow`, `dog`, `goat` | 56-70 | 0 |

The CRC is stable across machines and orderings. Models trained before `calib` existed (`vhmae_cpu`,
`huang_cpu`) trained on today's `train` and `calib` together: their sidecars say `train`, the two-split
`train` of that time.

`hyoutube_val` shares sequences and LUTs 1-70 with this training pool, so scores on it are *seen* scores.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from vh.core.errors import InputError

SPLITS = ("train", "calib", "unseen")
DAVIS = {"train": ("camel", "cows"), "calib": ("blackswan",), "unseen": ("car-shadow", "dog", "goat")}
LUT_NUMBERS = {"train": range(1, 49), "calib": range(49, 56), "unseen": range(56, 71)}
PAIR_BUCKETS = 10  # a pair's bucket is the CRC of its name mod PAIR_BUCKETS
PAIR_SPLIT = {0: "unseen", 1: "calib"}  # every other bucket is train


def check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise InputError(f"data split {split!r} is not one of {SPLITS} (or null for no held-out filter)")


def pair_split(name: str) -> str:
    return PAIR_SPLIT.get(zlib.crc32(name.encode()) % PAIR_BUCKETS, "train")


def lut_split(path: Path) -> str | None:
    """The split of a LUT named `<n>.cube`; None for LUTs outside the numbered set (never held out)."""
    try:
        n = int(Path(path).stem)
    except ValueError:
        return None
    return next((s for s, numbers in LUT_NUMBERS.items() if n in numbers), None)


def filter_luts(luts: list[Path], split: str | None) -> list[Path]:
    if split is None:
        return luts
    kept = [p for p in luts if lut_split(p) in (split, None)]
    if not kept:
        raise InputError(f"no LUT of split {split!r} among {len(luts)} LUTs")
    return kept


def davis_sequences(split: str | None, available: list[str]) -> list[str] | None:
    """The DAVIS sequences of `split` that `available` holds; None = all (no filter)."""
    if split is None:
        return None
    held = {s for other in SPLITS if other != "train" for s in DAVIS[other]}
    names = [s for s in available if s in DAVIS[split] or (split == "train" and s not in held)]
    if not names:
        raise InputError(f"no DAVIS sequence of split {split!r} among {available}")
    return names
