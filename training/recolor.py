"""Foreground recolouring that turns a real image into a composite: the disharmony a model learns to undo.

Families, drawn per clip (seed 002 III-A, the HYouTube recipe, and the grades compositors meet):

- `adjust`: a random chain of colour adjustments: exposure, hue, saturation, temperature, contrast, tone
  curve;
- `grade`: a scene-linear grade: exposure in stops, white balance (temperature and tint gains), saturation,
  ASC-CDL slope/offset/power and contrast about mid-grey, applied to linearised pixels as a colourist would;
- `reinhard`: mean/std transfer in Lab from another image's foreground (Reinhard et al. 2001);
- `lut`: one 3D LUT from a folder of .cube files, applied by OCIO (`vh.training.lut`);
- `hyoutube`: HYouTube's own recipe: a LUT, then pillow-lut's
  `rgb_color_enhance(exposure=0.2, contrast=0.1, vibrance=0.5, gamma=1.3)`, on 8-bit pixels as HYouTube did;
- `none`: the foreground is left as it is. A model must learn to leave a harmonious foreground alone.

A kind listed twice in a config is drawn twice as often.

A `Recolor` is sampled once, then `bind(frame0, mask0)` fixes everything that depends on the clip (Reinhard's
source statistics), so every frame of a clip gets the *same* transform and the composite does not flicker.
All functions take and return float32 [H, W, 3] sRGB-encoded images in 0..1.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vh.core.color import REC709_LUMA, linear_to_srgb, srgb_to_linear
from vh.training.lut import apply_lut

KINDS = ("adjust", "grade", "reinhard", "lut", "hyoutube", "none")
DEFAULT_KINDS = ("adjust", "reinhard", "lut")
ADJUSTMENTS = ("exposure", "hue", "saturation", "temperature", "contrast", "tone_curve")
GRADE_OPS = ("exposure", "white_balance", "saturation", "cdl", "contrast")
MID_GREY = 0.18


def _hsv_edit(image: np.ndarray, hue_deg: float = 0.0, sat: float = 1.0) -> np.ndarray:
    import cv2

    hsv = cv2.cvtColor(
        np.clip(image, 0, 1).astype(np.float32), cv2.COLOR_RGB2HSV
    )  # H in 0..360, S, V in 0..1
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


def grade(image: np.ndarray, ops: list[tuple[str, tuple[float, ...]]]) -> np.ndarray:
    """A scene-linear grade: `ops` applied in order to the linearised image, then encoded back to sRGB."""
    lin = srgb_to_linear(image)  # [..., 3]: a frame or a whole clip, per pixel
    for op, p in ops:
        if op == "exposure":  # (stops,)
            lin = lin * np.float32(2.0 ** p[0])
        elif op == "white_balance":  # (temperature, tint): opposite R/B gains, then a G gain
            lin = lin * np.array([1.0 + p[0], 1.0 - p[1], 1.0 - p[0]], np.float32)
        elif op == "saturation":  # (s,) about Rec.709 luminance, which it keeps
            luma = (lin @ REC709_LUMA)[..., None]
            lin = luma + np.float32(p[0]) * (lin - luma)
        elif op == "cdl":  # (slope r g b, offset r g b, power r g b): ASC CDL per channel
            slope, offset, power = (np.array(p[i : i + 3], np.float32) for i in (0, 3, 6))
            lin = np.maximum(lin * slope + offset, 0.0) ** power
        elif op == "contrast":  # (c,) a power about mid-grey: what a log-space contrast does to linear light
            lin = np.float32(MID_GREY) * (np.maximum(lin, 0.0) / np.float32(MID_GREY)) ** np.float32(p[0])
        else:
            raise ValueError(f"unknown grade operation {op!r}")
    return linear_to_srgb(lin)


def sample_grade(rng: np.random.Generator) -> list[tuple[str, tuple[float, ...]]]:
    """2-4 distinct grade operations, in a colourist's order, with amounts seen on real jobs."""
    chosen = set(rng.choice(GRADE_OPS, size=int(rng.integers(2, 5)), replace=False).tolist())
    sign = lambda: float(rng.choice([-1.0, 1.0]))  # noqa: E731
    ops: list[tuple[str, tuple[float, ...]]] = []
    for op in GRADE_OPS:
        if op not in chosen:
            continue
        if op == "exposure":
            ops.append((op, (sign() * rng.uniform(0.3, 1.5),)))
        elif op == "white_balance":
            ops.append((op, (sign() * rng.uniform(0.05, 0.35), float(rng.uniform(-0.15, 0.15)))))
        elif op == "saturation":
            ops.append((op, (float(rng.choice([rng.uniform(0.35, 0.8), rng.uniform(1.2, 1.8)])),)))
        elif op == "cdl":
            ops.append(
                (op, (*rng.uniform(0.75, 1.3, 3), *rng.uniform(-0.03, 0.03, 3), *rng.uniform(0.75, 1.3, 3)))
            )
        else:
            ops.append((op, (float(rng.choice([rng.uniform(0.7, 0.9), rng.uniform(1.12, 1.4)])),)))
    return [(op, tuple(float(v) for v in p)) for op, p in ops]


@functools.lru_cache(maxsize=128)
def _hyoutube_lut(path: str):
    import pillow_lut

    # Some published .cube files carry latin-1 bytes in their comments.
    lines = Path(path).read_bytes().decode("latin-1").splitlines()
    return pillow_lut.rgb_color_enhance(
        pillow_lut.load_cube_file(lines), exposure=0.2, contrast=0.1, vibrance=0.5, gamma=1.3
    )


def hyoutube_recolor(image: np.ndarray, lut_path: str | Path) -> np.ndarray:
    """HYouTube's recipe on one frame: the LUT enhanced by pillow-lut, applied to the 8-bit image by
    Pillow."""
    from PIL import Image

    u8 = (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    out = Image.fromarray(u8, "RGB").filter(_hyoutube_lut(str(lut_path)))
    return np.asarray(out, np.float32) / 255.0


def lab_stats(image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std of `image` in CIE Lab inside `mask` > 0.5 (whole image if it is empty)."""
    import cv2

    lab = cv2.cvtColor(np.clip(image, 0, 1).astype(np.float32), cv2.COLOR_RGB2Lab)  # [H, W, 3]
    sel = lab[mask > 0.5] if (mask > 0.5).any() else lab.reshape(-1, 3)  # [N, 3]
    return sel.mean(axis=0), sel.std(axis=0) + 1e-3


def reinhard(
    image: np.ndarray, src: tuple[np.ndarray, np.ndarray], dst: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
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
    adjustments: list[tuple[str, float | tuple[float, ...]]] = field(default_factory=list)  # adjust and grade
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
        if self.kind == "grade":
            return lambda image: grade(image, self.adjustments)
        if self.kind == "lut":
            assert self.lut is not None
            return lambda image: np.clip(apply_lut(image, self.lut), 0.0, 1.0)
        if self.kind == "hyoutube":
            assert self.lut is not None
            return lambda image: hyoutube_recolor(image, self.lut)
        if self.kind == "none":
            return lambda image: np.array(image, np.float32)
        if self.kind == "reinhard":
            assert self.donor_stats is not None
            src = lab_stats(frame, mask)  # fixed from the first frame: one transform for the whole clip
            return lambda image: reinhard(image, src, self.donor_stats)
        raise ValueError(f"unknown recolour kind {self.kind!r}")

    def describe(self) -> dict:
        if self.kind == "adjust":
            return {"kind": "adjust", "ops": [[op, amount] for op, amount in self.adjustments]}
        if self.kind == "grade":
            return {"kind": "grade", "ops": [[op, list(p)] for op, p in self.adjustments]}
        if self.kind in ("lut", "hyoutube"):
            return {"kind": self.kind, "lut": Path(self.lut).name if self.lut else ""}
        if self.kind == "none":
            return {"kind": "none"}
        return {"kind": "reinhard", "donor": self.donor}


def sample_recolor(
    rng: np.random.Generator,
    kinds: tuple[str, ...] = DEFAULT_KINDS,
    luts: list[Path] | None = None,
    donor: Callable[[np.random.Generator], tuple[str, np.ndarray, np.ndarray]] | None = None,
) -> Recolor:
    """Draw a kind uniformly among the listed ones that are available (`lut` and `hyoutube` need `luts`,
    `reinhard` needs a `donor` sampler); a kind listed twice is drawn twice as often."""
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise ValueError(f"unknown recolour kind(s) {unknown}; known: {list(KINDS)}")
    usable = [
        k for k in kinds if (k not in ("lut", "hyoutube") or luts) and (k != "reinhard" or donor is not None)
    ]
    if not usable:
        raise ValueError(f"no usable recolour kind among {kinds}")
    kind = str(rng.choice(usable))
    if kind == "adjust":
        return Recolor("adjust", adjustments=sample_adjustments(rng))
    if kind == "grade":
        return Recolor("grade", adjustments=sample_grade(rng))
    if kind == "none":
        return Recolor("none")
    if kind in ("lut", "hyoutube"):
        return Recolor(kind, lut=luts[int(rng.integers(len(luts)))])
    name, image, mask = donor(rng)
    return Recolor("reinhard", donor_stats=lab_stats(image, mask), donor=name)
