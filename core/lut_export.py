"""A native, non-destructive result: the shot's harmonization as a global colour transform an artist can keep.

`vh harmonize ... --export-cube shot.cube` fits one global colour transform from the plate's foreground to the
harmonized foreground, over every frame of the shot (each frame weighs the same: the transform averaged over
time), in the plate's own colourspace, and writes it as a 3D LUT (.cube, 33^3, with DOMAIN_MIN/MAX covering
the foreground's values, so scene-linear plates above 1.0 fit too). OCIO loads it with a FileTransform; in
Nuke it is an OCIOFileTransform masked by the matte.

`--export-cdl shot.cc` fits an ASC CDL (slope, offset, power per channel, saturation 1) to the same samples
and writes it (ColorCorrection XML, which OCIO's FileTransform reads) only when it reproduces the harmonized
foreground within CDL_TOLERANCE (RMS, plate units, evaluated through OCIO's own CDLTransform); otherwise it
says how far off the best CDL is and writes nothing, since a CDL that does not match would silently change the
look.

The fitted model is a second-order polynomial in RGB with cross terms (10 terms per channel), by weighted
least squares on up to SAMPLES_PER_FRAME foreground pixels (matte > 0.5) of each frame."""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)

SAMPLES_PER_FRAME = 20000
CUBE_SIZE = 33
CDL_TOLERANCE = 0.01  # RMS over the foreground, in the plate's units
_POWERS = np.round(np.arange(0.4, 2.501, 0.02), 4)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--export-cube",
        metavar="FILE.cube",
        help="also write the shot's global colour transform (foreground, averaged over time, in "
        "the plate's colourspace) as a 3D LUT that OCIO's FileTransform loads",
    )
    parser.add_argument(
        "--export-cdl",
        metavar="FILE.cc",
        help=f"also write it as an ASC CDL, when one reproduces the result within RMS "
        f"{CDL_TOLERANCE} (else nothing is written)",
    )


# ------------------------------------------------------------------------------------------------------------
# Samples and the fit


def samples(
    frames: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray]],
    per_frame: int = SAMPLES_PER_FRAME,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(input RGB, output RGB, weight) of foreground pixels from (input, output, matte) frames, streamed; each
    frame weighs 1 in total."""
    rng = np.random.default_rng(seed)
    xs, ys, ws = [], [], []
    for x, y, m in frames:
        fg = np.flatnonzero(np.asarray(m).reshape(-1) > 0.5)
        if fg.size == 0:
            continue
        if fg.size > per_frame:
            fg = rng.choice(fg, per_frame, replace=False)
        xs.append(np.asarray(x)[..., :3].reshape(-1, 3)[fg].astype(np.float64))
        ys.append(np.asarray(y)[..., :3].reshape(-1, 3)[fg].astype(np.float64))
        ws.append(np.full(fg.size, 1.0 / fg.size))
    if not xs:
        from vh.core.errors import InputError

        raise InputError("the matte has no foreground (> 0.5) on any frame: there is no transform to export")
    return np.concatenate(xs), np.concatenate(ys), np.concatenate(ws)


def _features(rgb: np.ndarray) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return np.stack([np.ones_like(r), r, g, b, r * r, g * g, b * b, r * g, r * b, g * b], -1)


@dataclass
class GlobalTransform:
    """out = features(in) @ coefficients, clipped to the outputs' range (no wild extrapolation at LUT
    corners)."""

    coefficients: np.ndarray  # [10, 3]
    low: np.ndarray  # [3] input domain
    high: np.ndarray
    out_low: float
    out_high: float

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        out = _features(np.asarray(rgb, np.float64)) @ self.coefficients
        return np.clip(out, self.out_low, self.out_high)


def fit(x: np.ndarray, y: np.ndarray, w: np.ndarray, ridge: float = 1e-6) -> GlobalTransform:
    f = _features(x)
    a = (f * w[:, None]).T @ f
    a += ridge * np.trace(a) / a.shape[0] * np.eye(a.shape[0])
    coefficients = np.linalg.solve(a, (f * w[:, None]).T @ y)
    low = np.minimum(np.quantile(x, 0.0005, axis=0), 0.0)
    high = np.maximum(np.quantile(x, 0.9995, axis=0), 1.0)
    span = float(y.max() - y.min())
    return GlobalTransform(
        coefficients, low, high, float(y.min()) - 0.05 * span, float(y.max()) + 0.05 * span
    )


def write_cube(path: str | os.PathLike, transform: GlobalTransform, size: int = CUBE_SIZE) -> None:
    """Iridas/Resolve .cube: red varies fastest; DOMAIN_MIN/MAX give the input range per channel."""
    axes = [np.linspace(transform.low[c], transform.high[c], size) for c in range(3)]
    b, g, r = np.meshgrid(axes[2], axes[1], axes[0], indexing="ij")
    grid = np.stack([r, g, b], -1).reshape(-1, 3)
    table = transform(grid)
    lines = [
        "# vh: the shot's global harmonization transform (foreground, averaged over time)",
        f"LUT_3D_SIZE {size}",
        "DOMAIN_MIN " + " ".join(f"{v:.9g}" for v in transform.low),
        "DOMAIN_MAX " + " ".join(f"{v:.9g}" for v in transform.high),
    ]
    lines += [f"{v[0]:.9g} {v[1]:.9g} {v[2]:.9g}" for v in table]
    from vh.core.io.publish import atomic_write_text  # not at the top: `vh --help` imports this module

    atomic_write_text(path, "\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------------------------
# ASC CDL


@dataclass
class Cdl:
    slope: tuple[float, float, float]
    offset: tuple[float, float, float]
    power: tuple[float, float, float]
    saturation: float = 1.0
    rms: float = float("nan")  # through OCIO, on the samples


def _apply_cdl_ocio(cdl: Cdl, rgb: np.ndarray) -> np.ndarray:
    import PyOpenColorIO as ocio

    t = ocio.CDLTransform()
    t.setSlope(list(cdl.slope))
    t.setOffset(list(cdl.offset))
    t.setPower(list(cdl.power))
    t.setSat(cdl.saturation)
    cpu = ocio.Config.CreateRaw().getProcessor(t).getDefaultCPUProcessor()
    out = np.ascontiguousarray(rgb, np.float32).copy()
    cpu.applyRGB(out)
    return out.astype(np.float64)


def fit_cdl(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> Cdl:
    """Per channel: for each power p on a grid, slope and offset by weighted least squares of y^(1/p) on x;
    the p with the least error in output units wins. The error is then measured through OCIO's
    CDLTransform."""
    slope, offset, power = [], [], []
    for c in range(3):
        xc, yc = x[:, c], np.clip(y[:, c], 0.0, None)
        best = None
        for p in _POWERS:
            target = yc ** (1.0 / p)
            a = np.stack([xc, np.ones_like(xc)], -1)
            aw = a * w[:, None]
            s, o = np.linalg.lstsq(aw.T @ a, aw.T @ target, rcond=None)[0]
            pred = np.clip(s * xc + o, 0.0, None) ** p
            err = float(np.sum(w * (pred - yc) ** 2))
            if best is None or err < best[0]:
                best = (err, s, o, p)
        slope.append(float(best[1]))
        offset.append(float(best[2]))
        power.append(float(best[3]))
    cdl = Cdl(tuple(slope), tuple(offset), tuple(power))
    pred = _apply_cdl_ocio(cdl, x)
    cdl.rms = float(np.sqrt(np.sum(w[:, None] * (pred - y) ** 2) / (3 * np.sum(w))))
    return cdl


def write_cc(path: str | os.PathLike, cdl: Cdl) -> None:
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<ColorCorrection id="vh_harmonize">\n'
        f"  <SOPNode>\n    <Slope>{' '.join(f'{v:.6f}' for v in cdl.slope)}</Slope>\n    "
        f"<Offset>{' '.join(f'{v:.6f}' for v in cdl.offset)}</Offset>\n    "
        f"<Power>{' '.join(f'{v:.6f}' for v in cdl.power)}</Power>\n  </SOPNode>\n  <SatNode>\n    "
        f"<Saturation>{cdl.saturation:.6f}</Saturation>\n  </SatNode>\n</ColorCorrection>\n"
    )
    from vh.core.io.publish import atomic_write_text

    atomic_write_text(path, text)


# ------------------------------------------------------------------------------------------------------------
# From the command line


def export_from_files(args: argparse.Namespace, info, src: str, dst: str) -> None:
    """After `vh harmonize` wrote its output: read plate, matte and result again and write what was asked."""
    from vh.core import color
    from vh.core.errors import InputError
    from vh.core.io import alpha_of, probe, read_frames, read_mattes

    if args.matte is not None and args.matte.lower() == "auto":
        raise InputError("--export-cube/--export-cdl need a matte (a file or the plate's alpha), not 'auto'")
    outputs = read_frames(probe(args.output))
    if dst != src:
        outputs = (color.convert(o[..., :3], dst, src, args.ocio) for o in outputs)
    frames = read_frames(info)
    if args.matte is None:
        pairs = ((f, alpha_of(f, info, n)) for f, n in zip(frames, info.frames))
    else:
        pairs = zip(frames, read_mattes(args.matte, info))
    x, y, w = samples((f, o, m) for (f, m), o in zip(pairs, outputs))
    if args.export_cube:
        transform = fit(x, y, w)
        write_cube(args.export_cube, transform)
        residual = np.sqrt(np.sum(w[:, None] * (transform(x) - y) ** 2) / (3 * np.sum(w)))
        log.info(
            "wrote %s (%d^3, in %s; RMS %.4g on the foreground)", args.export_cube, CUBE_SIZE, src, residual
        )
    if args.export_cdl:
        cdl = fit_cdl(x, y, w)
        if cdl.rms > CDL_TOLERANCE:
            log.warning(
                "no ASC CDL written: the best one is off by RMS %.4g (> %g); use --export-cube",
                cdl.rms,
                CDL_TOLERANCE,
            )
        else:
            write_cc(args.export_cdl, cdl)
            log.info("wrote %s (ASC CDL, RMS %.4g on the foreground)", args.export_cdl, cdl.rms)
