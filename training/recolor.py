"""Foreground recolouring that turns a real image into a composite: the disharmony a model learns to undo.

Three families, drawn per clip (seed 002 III-A and the HYouTube recipe):

- `adjust`: a random chain of colour adjustments: exposure, hue, saturation, temperature, contrast, tone curve;
- `reinhard`: mean/std transfer in Lab from another image's foreground (Reinhard et al. 2001);
- `lut`: one 3D LUT from a folder of .cube files, applied by OCIO (`vh.training.lut`).

A `Recolor` is sampled once, then `bind(frame0, mask0)` fixes everything that depends on the clip (Reinhard's
source statistics), so every frame of a clip gets the *same* transform and the composite does not flicker.
All functions take and return float32 [H, W, 3] sRGB-encoded images in 0..1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .lut import apply_lut

KINDS = ("adjust", "reinhard", "lut")
ADJUSTMENTS = ("exposure", "hue", "saturation", "temperature", "contrast", "tone_curve")


def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.where(x <= 0.0031308, x * 12.92, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)


def _hsv_edit(image: np.ndarray, hue_deg: float = 0.0, sat: float = 1.0) -> np.ndarray:
    import cv2

    hsv = cv2.cvtColor(np.clip(image, 0, 1).astype(np.float32), cv2.COLOR_RGB2HSV)  # H in 0..360, S, V in 0..1
    hsv[..., 0] = (hsv[..., 0] + hue_deg) % 360.0
    hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0.0, 1.0)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def adjust(image: np.ndarray, op: str, amount: float | tuple[float, ...]) -> np.ndarray:
    """One named adjustment with its parameter (see `sample_adjustments` for the ranges)."""
    if op == "exposure":  # stops, in linear light as a camera would
        return linear_to_srgb(srgb_to_linear(image) * np.float32(2.0**amount))
    if op == "temperature":  # opposite R/B gains in linear light: + warmer, - cooler
        gains = np.array([1.0 + amount, 1.0, 1.0 - amount], np.float32)
        return linear_to_srgb(srgb_to_linear(image) * gains)
    if op == "hue":
        return _hsv_edit(image, hue_deg=float(amount))
    if op == "saturation":
        return _hsv_edit(image, sat=float(amount))
    if op == "contrast":  # around mid-grey in the encoded space, where contrast is perceived
        return np.clip((image - 0.5) * np.float32(amount) + 0.5, 0.0, 1.0)
    if op == "tone_curve":  # a monotone curve through (0,0), (.25,a), (.5,b), (.75,c), (1,1)
        xs = np.array([0.0, 0.25, 0.5, 0.75, 1.0], np.float32)
        ys = np.array([0.0, *amount, 1.0], np.float32)
        return np.interp(np.clip(image, 0, 1), xs, ys).astype(np.float32)
    raise ValueError(f"unknown adjustment {op!r}")


def sample_adjustments(rng: np.random.Generator) -> list[tuple[str, float | tuple[float, ...]]]:
    """2-4 distinct adjustments with amounts strong enough to be visible, weak enough to stay plausible."""
    ops = rng.choice(ADJUSTMENTS, size=int(rng.integers(2, 5)), replace=False)
    chain: list[tuple[str, float | tuple[float, ...]]] = []
    for op in ops:
        if op == "exposure":
            chain.append((str(op), float(rng.choice([-1, 1]) * rng.uniform(0.3, 1.2))))
        elif op == "hue":
            chain.append((str(op), float(rng.uniform(-30, 30))))
        elif op == "saturation":
            chain.append((str(op), float(rng.choice([rng.uniform(0.3, 0.8), rng.uniform(1.25, 1.8)]))))
        elif op == "temperature":
            chain.append((str(op), float(rng.choice([-1, 1]) * rng.uniform(0.08, 0.3))))
        elif op == "contrast":
            chain.append((str(op), float(rng.choice([rng.uniform(0.6, 0.85), rng.uniform(1.15, 1.5)]))))
        else:
            mid = np.clip(0.5 + rng.uniform(-0.15, 0.15), 0.3, 0.7)
            lo = np.clip(mid / 2 + rng.uniform(-0.06, 0.06), 0.05, mid - 0.05)
            hi = np.clip((mid + 1) / 2 + rng.uniform(-0.06, 0.06), mid + 0.05, 0.95)
            chain.append((str(op), (float(lo), float(mid), float(hi))))
    return chain


def lab_stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of `image` in CIE Lab inside `mask` > 0.5 (whole image if it is empty)."""
    import cv2

    lab = cv2.cvtColor(np.clip(image, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)  # [H, W, 3]
    sel = lab[mask > 0.5] if (mask > 0.5).any() else lab.reshape(-1, 3)  # [N, 3]
    return sel.mean(axis=0), sel.std(axis=0) + 1e-3


def reinhard(image: np.ndarray, src: tuple[np.ndarray, np.ndarray], dst: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Map Lab statistics `src` (mean, std) of `image` onto `dst`."""
    import cv2

    lab = cv2.cvtColor(np.clip(image, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)
    lab = (lab - src[0]) / src[1] * dst[1] + dst[0]
    lab[..., 0] = np.clip(lab[..., 0], 0.0, 100.0)
    return np.clip(cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB), 0.0, 1.0)


@dataclass
class Recolor:
    """One sampled recolouring; `bind` it to a clip's first frame, then apply the result to every frame."""

    kind: str
    adjustments: list[tuple[str, float | tuple[float, ...]]] = field(default_factory=list)
    lut: Path | None = None
    donor_stats: tuple[np.ndarray, np.ndarray] | None = None  # Lab (mean, std) of another image's foreground
    donor: str = ""

    def bind(self, frame: np.ndarray, mask: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        if self.kind == "adjust":

            def run(image: np.ndarray) -> np.ndarray:
                for op, amount in self.adjustments:
                    image = adjust(image, op, amount)
                return np.clip(image, 0.0, 1.0).astype(np.float32)

            return run
        if self.kind == "lut":
            assert self.lut is not None
            return lambda image: np.clip(apply_lut(image, self.lut), 0.0, 1.0)
        if self.kind == "reinhard":
            assert self.donor_stats is not None
            src = lab_stats(frame, mask)  # fixed from the first frame: one transform for the whole clip
            return lambda image: reinhard(image, src, self.donor_stats)
        raise ValueError(f"unknown recolour kind {self.kind!r}")

    def describe(self) -> dict:
        if self.kind == "adjust":
            return {"kind": "adjust", "ops": [[op, amount] for op, amount in self.adjustments]}
        if self.kind == "lut":
            return {"kind": "lut", "lut": Path(self.lut).name if self.lut else ""}
        return {"kind": "reinhard", "donor": self.donor}


def sample_recolor(
    rng: np.random.Generator,
    kinds: tuple[str, ...] = KINDS,
    luts: list[Path] | None = None,
    donor: Callable[[np.random.Generator], tuple[str, np.ndarray, np.ndarray]] | None = None,
) -> Recolor:
    """Draw a kind uniformly among those available (`lut` needs `luts`, `reinhard` needs a `donor` sampler)."""
    usable = [k for k in kinds if (k != "lut" or luts) and (k != "reinhard" or donor is not None)]
    if not usable:
        raise ValueError(f"no usable recolour kind among {kinds}")
    kind = str(rng.choice(usable))
    if kind == "adjust":
        return Recolor("adjust", adjustments=sample_adjustments(rng))
    if kind == "lut":
        return Recolor("lut", lut=luts[int(rng.integers(len(luts)))])
    name, image, mask = donor(rng)
    return Recolor("reinhard", donor_stats=lab_stats(image, mask), donor=name)
