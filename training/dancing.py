"""The dancing-video builder (Huang et al. 2019, III-A): an N-frame clip with exact flow from one image +
mask.

Geometry. Every frame is an affine resampling of the source image, so its flow is known in closed form:

- the background moves by a random crop-and-resize path: `C_t` maps output pixels to source pixels, the crop
  box drifting and zooming linearly from a start box to an end box;
- the foreground "dances": a random walk of small affines `F_t` (rotation, scale, shear, shift about its
  centroid; `F_0` = identity) applied in source coordinates, so output pixel p of frame t shows source point
  `G_t p` with `G_t = F_t^-1 C_t`;
- the background under the foreground is inpainted (OpenCV Telea) so the moving foreground uncovers plausible
  pixels instead of a ghost of itself.

Flow. Frame t+1 shows at p the source point `G_{t+1} p` (foreground) or `C_{t+1} p` (background); frame t
shows that point at `G_t^-1 G_{t+1} p` or `C_t^-1 C_{t+1} p`. The difference to p is the backward flow of the
batch convention (`warp(frame_t, flow_t) ~= frame_{t+1}`), exact up to resampling; pixels are assigned to the
foreground by frame t+1's matte. Only dis-occluded background (revealed when the foreground moves) has no true
correspondence.

Colour. The composite's foreground is the recoloured source (`vh.training.recolor`), moved by the same `G_t`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from vh.core.errors import InputError
from vh.core.options import option
from vh.training.recolor import Recolor
from vh.training.training_clip import TrainingClip


@dataclass
class DancingConfig:
    frames: int = 8
    size: int = 256  # output frames are size x size
    max_rotation: float = 2.0  # degrees per frame (random-walk step)
    max_scale: float = 0.02  # relative scale change per frame
    max_shear: float = 0.015  # per frame
    max_shift: float = 0.015  # per frame, as a fraction of the output size
    crop_min: float = option(
        0.65, help="crop side as a fraction of the image's short side", min=0.05, max=1.0
    )
    crop_drift: float = option(
        0.12, help="the crop moves/zooms up to this fraction of its side over the clip", min=0.0, max=1.0
    )
    inpaint_radius: int = option(5, help="pixels", min=1)
    min_coverage: float = option(
        0.01, help="reject masks covering less of the image (nothing to learn from)", min=0.0, max=1.0
    )
    # larger sources are downscaled first: bounds inpainting cost, barely any loss
    max_source_side: int = option(640, help="pixels", min=16)


def crop_matrix(x0: float, y0: float, side: float, size: int) -> np.ndarray:
    """3x3 map from output pixel centres (0..size-1) to source pixel coordinates of the box (x0, y0, side)."""
    k = side / size
    return np.array([[k, 0.0, x0 + 0.5 * k - 0.5], [0.0, k, y0 + 0.5 * k - 0.5], [0.0, 0.0, 1.0]])


def foreground_affine(
    center: np.ndarray, angle_deg: float, scale: float, shear: float, shift: np.ndarray
) -> np.ndarray:
    """3x3 affine in source coordinates: about `center`, rotate+scale+shear, then translate by `shift`."""
    a = np.deg2rad(angle_deg)
    rs = (
        np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        @ np.array([[1.0, shear], [0.0, 1.0]])
        * scale
    )
    m = np.eye(3)
    m[:2, :2] = rs
    m[:2, 2] = center + shift - rs @ center
    return m


def inpaint_background(image: np.ndarray, mask: np.ndarray, radius: int) -> np.ndarray:
    """`image` with the (dilated) foreground filled from its surroundings; float32 [H, W, 3]."""
    import cv2

    hole = cv2.dilate((mask > 0.5).astype(np.uint8) * 255, np.ones((7, 7), np.uint8))  # cover the edge halo
    u8 = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    filled = cv2.inpaint(u8, hole, radius, cv2.INPAINT_TELEA).astype(np.float32) / 255.0
    # keep exact source pixels outside the hole: only the hole is invented
    keep = (hole == 0)[:, :, None]
    return np.where(keep, image, filled).astype(np.float32)


def _affine_flow(a: np.ndarray, size: int) -> np.ndarray:
    """Flow [2, S, S] of the 3x3 map a: a(p) - p over the output pixel grid."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
    fx = a[0, 0] * xs + a[0, 1] * ys + a[0, 2] - xs
    fy = a[1, 0] * xs + a[1, 1] * ys + a[1, 2] - ys
    return np.stack([fx, fy]).astype(np.float32)


def make_dancing_clip(
    image: np.ndarray,
    mask: np.ndarray,
    recolor: Recolor,
    rng: np.random.Generator,
    config: DancingConfig | None = None,
    name: str = "clip",
) -> TrainingClip:
    """A dancing clip from `image` float32 [H, W, 3] and `mask` [H, W] (1 = foreground); see the module
    doc."""
    import cv2

    config = config or DancingConfig()
    if image.shape[:2] != mask.shape[:2]:
        raise InputError(
            f"{name}: image is {image.shape[1]}x{image.shape[0]}, mask {mask.shape[1]}x{mask.shape[0]}"
        )
    coverage = float((mask > 0.5).mean())
    if coverage < config.min_coverage:
        raise InputError(
            f"{name}: mask covers {coverage:.2%} of the image, below min_coverage {config.min_coverage:.2%}"
        )
    h, w = image.shape[:2]
    if max(h, w) > config.max_source_side:
        f = config.max_source_side / max(h, w)
        image = cv2.resize(image, (round(w * f), round(h * f)), interpolation=cv2.INTER_AREA)
        mask = (
            cv2.resize(mask, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_AREA) > 0.5
        ).astype(np.float32)
        h, w = image.shape[:2]
    n, size = config.frames, config.size
    background = inpaint_background(image, mask, config.inpaint_radius)  # [H, W, 3]
    recolored = recolor.bind(image, mask)(image)  # [H, W, 3] the whole source, recoloured once

    # Background: a crop box that drifts and zooms linearly, kept inside the image and near the foreground.
    short = min(h, w)
    ys, xs = np.nonzero(mask > 0.5)
    center = np.array([xs.mean(), ys.mean()])
    side0 = rng.uniform(config.crop_min, 1.0) * short
    side1 = float(
        np.clip(side0 * (1.0 + rng.uniform(-config.crop_drift, config.crop_drift)), 0.3 * short, short)
    )
    c0 = center + rng.uniform(-0.2, 0.2, 2) * side0
    c1 = c0 + rng.uniform(-config.crop_drift, config.crop_drift, 2) * side0

    def box(c: np.ndarray, side: float) -> tuple[float, float]:
        return float(np.clip(c[0] - side / 2, 0, w - side)), float(np.clip(c[1] - side / 2, 0, h - side))

    # Foreground: a random walk of small affine steps about the centroid (in source pixels).
    px = side0 / size  # one output pixel in source pixels
    steps = rng.uniform(-1.0, 1.0, size=(n - 1, 5)) * [
        config.max_rotation,
        config.max_scale,
        config.max_shear,
        config.max_shift * size * px,
        config.max_shift * size * px,
    ]
    walk = np.vstack([np.zeros(5), np.cumsum(steps, axis=0)])  # [T, 5]: angle, dscale, shear, dx, dy

    def warp(src: np.ndarray, m: np.ndarray, border: int) -> np.ndarray:
        # m maps output pixels to source pixels, i.e. OpenCV's inverse map
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        return cv2.warpAffine(src, m[:2].astype(np.float64), (size, size), flags=flags, borderMode=border)

    comp = np.empty((n, size, size, 3), np.float32)
    real = np.empty((n, size, size, 3), np.float32)
    matte = np.empty((n, size, size), np.float32)
    crops, fgs = [], []
    for t in range(n):
        a = t / max(n - 1, 1)
        side = side0 + (side1 - side0) * a
        c = crop_matrix(*box(c0 + (c1 - c0) * a, side), side, size)
        f = foreground_affine(center, walk[t, 0], 1.0 + walk[t, 1], walk[t, 2], walk[t, 3:5])
        g = np.linalg.inv(f) @ c  # output -> source, for foreground pixels
        crops.append(c)
        fgs.append(g)
        m_t = np.clip(warp(mask, g, cv2.BORDER_CONSTANT), 0.0, 1.0)  # [S, S]
        bg_t = warp(background, c, cv2.BORDER_REFLECT)  # [S, S, 3]
        fg_t = warp(image, g, cv2.BORDER_REFLECT)
        fgc_t = warp(recolored, g, cv2.BORDER_REFLECT)
        alpha = m_t[:, :, None]
        real[t] = alpha * fg_t + (1.0 - alpha) * bg_t
        comp[t] = alpha * fgc_t + (1.0 - alpha) * bg_t
        matte[t] = m_t

    flow = np.empty((n - 1, 2, size, size), np.float32)
    for t in range(n - 1):
        fg_flow = _affine_flow(np.linalg.inv(fgs[t]) @ fgs[t + 1], size)  # [2, S, S]
        bg_flow = _affine_flow(np.linalg.inv(crops[t]) @ crops[t + 1], size)
        flow[t] = np.where(matte[t + 1][None] > 0.5, fg_flow, bg_flow)

    meta = {"source": name, "kind": "dancing", "recolor": recolor.describe(), "config": asdict(config)}
    return TrainingClip(name, comp, real, matte, flow, meta)
