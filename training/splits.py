"""The held-out discipline, written once: which sequences, photos and LUTs training may touch.

The `unseen` split is what models and defaults are chosen on. Training never reads it:

- DAVIS: `car-shadow`, `dog` and `goat` are whole held-out sequences; training sees `blackswan`, `camel`,
  `cows`.
- LUTs: `1.cube` .. `55.cube` train; `56.cube` .. `70.cube` are held out.
- Photos (image+mask pairs): one in ten, chosen by a CRC of the pair's name (stable across machines and
  orderings), is held out.

`hyoutube_val` shares sequences and LUTs 1-70 with this training pool, so scores on it are *seen* scores.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from vh.core.errors import InputError

SPLITS = ("train", "unseen")
DAVIS = {"train": ("blackswan", "camel", "cows"), "unseen": ("car-shadow", "dog", "goat")}
LUT_NUMBERS = {"train": range(1, 56), "unseen": range(56, 71)}
PAIR_HOLDOUT = 10  # one pair in PAIR_HOLDOUT is unseen


def check_split(split: str | None) -> None:
    if split is not None and split not in SPLITS:
        raise InputError(f"data split {split!r} is not one of {SPLITS} (or null for no held-out filter)")


def pair_split(name: str) -> str:
    return "unseen" if zlib.crc32(name.encode()) % PAIR_HOLDOUT == 0 else "train"


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
    names = [s for s in available if s in DAVIS[split] or (split == "train" and s not in DAVIS["unseen"])]
    if not names:
        raise InputError(f"no DAVIS sequence of split {split!r} among {available}")
    return names
