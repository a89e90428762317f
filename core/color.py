"""Colour management through OpenColorIO: load a config, name colourspaces, convert pixels.

Models see sRGB-encoded Rec.709 in 0..1 (`WORKING_SPACE`); shots arrive scene-linear (EXR) or display-encoded
(PNG, JPEG, video). Everything here works on host-side `float32 [..., C]` arrays: the first three channels are
colour, the rest (alpha, depth, ...) pass through untouched. Nothing clamps, so HDR values above 1.0
survive any linear-to-linear conversion.

Configs are pinned by full name: `ocio://default` means a different config in each OCIO release, which would
make the same command line produce different pixels after an upgrade.
"""

from __future__ import annotations

import difflib
import functools
import os
from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio

from vh.core import runtime
from vh.core.errors import InputError

DEFAULT_CONFIG = "ocio://cg-config-v2.2.0_aces-v1.3_ocio-v2.4"
WORKING_SPACE = "sRGB Encoded Rec.709 (sRGB)"

# Roles that, in studio configs, usually name an sRGB-encoded (display-referred, 0..1) space; tried in order
# when OCIO cannot identify the working space in a user config (see `_identify`).
_WORKING_FALLBACK_ROLES = ("color_picking", "texture_paint", "matte_paint")

# Extensions whose pixels are usually scene-linear floats.
# Everything else (8/16-bit images, video) is display-encoded.
_FLOAT_EXTENSIONS = {".exr", ".hdr", ".sxr", ".mxr"}


#: What OCIO raises: PyOpenColorIO 2.6's ExceptionMissingFile (a LUT a config names is missing) is not an
#: ocio.Exception.
OCIO_ERRORS: tuple[type[BaseException], ...] = (
    ocio.Exception,
    getattr(ocio, "ExceptionMissingFile", ocio.Exception),
)

#: configs loaded by their owner and used under a key of their own (see register_config)
_REGISTERED: dict[str, ocio.Config] = {}


def register_config(key: str, config: ocio.Config) -> None:
    """Make `key` name an already loaded config, e.g. one a server loaded without its process environment.
    Register a key before its first use: lookups by key are cached."""
    _REGISTERED[key] = config


def _config_key(config: str | os.PathLike | None) -> str:
    """The string that identifies a config: the argument, else $OCIO, else the pinned default."""
    if config is not None and str(config):
        return str(config)
    return os.environ.get("OCIO") or DEFAULT_CONFIG


def load_config(config: str | os.PathLike | None = None) -> ocio.Config:
    """An OCIO config from a file path or `ocio://` URI; `None` reads $OCIO, else DEFAULT_CONFIG."""
    return _load_config(_config_key(config))


@functools.lru_cache(maxsize=16)
def _load_config(key: str) -> ocio.Config:
    if key in _REGISTERED:
        return _REGISTERED[key]
    if not key.startswith("ocio://") and not Path(key).is_file():
        raise InputError(f"OCIO config {key} does not exist")
    try:
        cfg = ocio.Config.CreateFromFile(key)
        cfg.validate()
    except OCIO_ERRORS as exc:
        raise InputError(f"cannot load OCIO config {key}: {_one_line(exc)}") from None
    return cfg


def working_space(config: str | os.PathLike | None = None) -> str:
    """The name of the sRGB-encoded Rec.709 space the models work in, as spelled by `config`.

    User configs may not have our exact name: OCIO identifies the space by what it does (`_identify`), else
    the `color_picking`/`texture_paint` role names it, else this fails with a message saying what to add.
    """
    return _working_space(_config_key(config))


@functools.lru_cache(maxsize=16)
def _working_space(key: str) -> str:
    name = _identify(key, WORKING_SPACE)
    if name:
        return name
    cfg = _load_config(key)
    for role in _WORKING_FALLBACK_ROLES:
        name = cfg.getRoleColorSpace(role)
        if name:
            return name
    raise InputError(
        f"OCIO config {key} has no sRGB-encoded colourspace that OCIO can identify (by the name "
        f"'{WORKING_SPACE}', or by its transforms, which needs the aces_interchange role) and none of the "
        f"roles {', '.join(_WORKING_FALLBACK_ROLES)}; add one of them to the config"
    )


@functools.lru_cache(maxsize=64)
def _identify(key: str, builtin_name: str) -> str | None:
    """The colourspace of config `key` that is `builtin_name` of OCIO's built-in config, found by its name or
    alias, else by comparing what the transforms do (OCIO's IdentifyBuiltinColorSpace, through the config's
    interchange roles); None when neither finds it."""
    cfg = _load_config(key)
    cs = cfg.getColorSpace(builtin_name)
    if cs is not None:
        return cs.getName()
    try:
        return ocio.Config.IdentifyBuiltinColorSpace(cfg, _builtin_config(), builtin_name) or None
    except OCIO_ERRORS:  # no interchange role and OCIO's heuristics found no known space to anchor on
        return None


@functools.cache
def _builtin_config() -> ocio.Config:
    return ocio.Config.CreateFromBuiltinConfig(DEFAULT_CONFIG.removeprefix("ocio://"))


def resolve_colorspace(name: str, config: str | os.PathLike | None = None) -> str:
    """The canonical colourspace name for `name`, which may be a colourspace, an alias or a role."""
    return _resolve(_config_key(config), name)


@functools.lru_cache(maxsize=256)
def _resolve(key: str, name: str) -> str:
    cfg = _load_config(key)
    cs = cfg.getColorSpace(name)  # resolves names, aliases and roles
    if cs is not None:
        return cs.getName()
    known = list(cfg.getColorSpaceNames())
    # suggest the spaces the user probably meant (`linear` -> the linear ones), not the config's first entries
    low = name.lower()
    near = [n for n in known if low in n.lower()] or difflib.get_close_matches(name, known, n=6, cutoff=0.4)
    preview = ", ".join(f"'{n}'" for n in (near or known)[:6])
    raise InputError(
        f"unknown colourspace '{name}' in OCIO config {key}; {'did you mean' if near else 'it has, e.g.'} "
        f"{preview} (roles such as 'scene_linear' work too)"
    )


#: OpenEXR's chromaticities (red, green, blue, white as x, y) when a file has no attribute: Rec.709 / D65
REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
#: Rec.709 luma weights, as ITU-R BT.709 publishes them (to four places; the Y row of `rgb_to_xyz()` rounded)
REC709_LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


# The closed-form colour maths that runs outside OCIO, because it runs on torch tensors inside a model or per
# sample in training: the sRGB curve and the RGB -> XYZ matrix, built from the standards' parameters.

# IEC 61966-2-1: linear segment of slope 12.92 below 0.0031308 (linear), a 2.4 power with offset 0.055 above
_SRGB_SLOPE, _SRGB_BREAK, _SRGB_OFFSET, _SRGB_POWER = 12.92, 0.0031308, 0.055, 2.4


def srgb_to_linear(x):
    """sRGB-encoded values (clamped to 0..1) -> linear light, for a NumPy array or a torch tensor alike."""
    x = x.clip(0.0, 1.0)
    curve = ((x + _SRGB_OFFSET) / (1.0 + _SRGB_OFFSET)) ** _SRGB_POWER
    return _select(x <= _SRGB_BREAK * _SRGB_SLOPE, x / _SRGB_SLOPE, curve)


def linear_to_srgb(x):
    """Linear light (clamped to 0..1) -> sRGB-encoded values, for a NumPy array or a torch tensor alike."""
    x = x.clip(0.0, 1.0)
    curve = (1.0 + _SRGB_OFFSET) * x ** (1.0 / _SRGB_POWER) - _SRGB_OFFSET
    return _select(x <= _SRGB_BREAK, x * _SRGB_SLOPE, curve)


def _select(condition, a, b):
    return np.where(condition, a, b) if isinstance(condition, np.ndarray) else a.where(condition, b)


def rgb_to_xyz(chromaticities: tuple[float, ...] = REC709_CHROMATICITIES) -> np.ndarray:
    """The 3x3 matrix (float64) from linear RGB with these primaries and white point (x, y of red, green,
    blue, white) to CIE XYZ, scaled so that the white has Y = 1 (SMPTE RP 177). Its row sums are the white."""
    xy = np.reshape(np.asarray(chromaticities, np.float64), (4, 2))
    xyz = np.stack([xy[:, 0] / xy[:, 1], np.ones(4), (1.0 - xy.sum(1)) / xy[:, 1]], 1)  # [4, 3] at Y = 1
    primaries, white = xyz[:3].T, xyz[3]  # primaries as columns
    return primaries * np.linalg.solve(primaries, white)  # each primary scaled so that they sum to the white


# Linear colourspaces an EXR's chromaticities identify, by their names in the built-in config; a user config's
# own spelling is found by `_identify`.
_LINEAR_SPACES = {
    "Linear Rec.709 (sRGB)": REC709_CHROMATICITIES,
    "ACEScg": (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767),
    "ACES2065-1": (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767),
    "Linear P3-D65": (0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290),
    "Linear Rec.2020": (0.708, 0.292, 0.170, 0.797, 0.131, 0.046, 0.3127, 0.3290),
}


def default_colorspace(
    path: str | os.PathLike,
    config: str | os.PathLike | None = None,
    *,
    is_float: bool | None = None,
    chromaticities: tuple[float, ...] | None = None,
) -> str:
    """The colourspace a file's pixels are assumed to be in when the user does not say.

    Float data (EXR, or `is_float=True` for e.g. a float TIFF) -> the linear space its `chromaticities` name
    (an EXR without the attribute is Rec.709 by the OpenEXR standard, not ACEScg) when the config has it, else
    role `scene_linear`; integer images and video -> the sRGB-encoded working space. `is_float`, when given,
    overrides the guess from the extension."""
    floating = is_float if is_float is not None else Path(str(path)).suffix.lower() in _FLOAT_EXTENSIONS
    if floating:
        cfg = load_config(config)
        if chromaticities is not None and len(chromaticities) == 8:
            for name, xy in _LINEAR_SPACES.items():
                found = np.allclose(chromaticities, xy, atol=2e-3) and _identify(_config_key(config), name)
                if found:
                    return found
        name = cfg.getRoleColorSpace(ocio.ROLE_SCENE_LINEAR)
        if not name:
            raise InputError(
                f"OCIO config {_config_key(config)} defines no 'scene_linear' role; pass a colourspace"
            )
        return resolve_colorspace(name, config)
    return working_space(config)


def convert(
    pixels: np.ndarray, src: str, dst: str, config: str | os.PathLike | None = None, *, exact: bool = True
) -> np.ndarray:
    """`pixels` (float32 [..., C], C >= 3) converted from colourspace `src` to `dst`; a new array.

    Only the first three channels are converted; alpha and any further channels are copied unchanged.
    `exact=False` lets OCIO approximate pow/log/exp (relative error ~3e-5, 16x below a half float's step; ~25%
    faster): for pixels that are repainted anyway, never for a shot's own round trip.
    """
    pixels = np.asarray(pixels)
    if pixels.ndim < 1 or pixels.shape[-1] < 3:
        raise InputError(f"colour conversion needs at least 3 channels, got an array of shape {pixels.shape}")
    key = _config_key(config)
    src_name, dst_name = _resolve(key, src), _resolve(key, dst)
    out = np.array(pixels, dtype=np.float32, copy=True, order="C")  # [..., C]
    if src_name == dst_name:
        return out
    cpu = _processor(key, src_name, dst_name, exact)
    flat = out.reshape(-1, out.shape[-1])  # [N, C], a view on `out`
    if flat.shape[1] == 3:
        apply_rgb(cpu, flat)
    else:
        # Not applyRGBA: OCIO runs alpha through its 4x4 matrices and rounds it (3e-7); alpha must stay exact.
        rgb = np.ascontiguousarray(flat[:, :3])  # [N, 3]
        apply_rgb(cpu, rgb)
        flat[:, :3] = rgb
    return out


#: below this many pixels one thread is quicker than handing out chunks
_PARALLEL_PIXELS = 1 << 18


def apply_rgb(cpu: ocio.CPUProcessor, rgb: np.ndarray) -> None:
    """Run an OCIO CPU processor in place over rgb (float32 [N, 3], C-ordered), in chunks across the CPU's
    cores.

    OCIO releases the GIL while it works, so a 4K frame converts ~1.8x faster on two cores than in one call.
    """
    n = rgb.shape[0]
    if n < _PARALLEL_PIXELS:
        cpu.applyRGB(rgb)
        return
    step = -(-n // runtime.cores())
    runtime.parallel_map("ocio", cpu.applyRGB, [rgb[i : i + step] for i in range(0, n, step)])


@functools.lru_cache(maxsize=128)
def _processor(key: str, src: str, dst: str, exact: bool = True) -> ocio.CPUProcessor:
    # OCIO processors are immutable after creation and safe to apply from several threads at once. The default
    # optimisation swaps pow() for fast approximations (3e-5 round-trip error); LOSSLESS costs ~25% more time
    # and keeps linear -> sRGB -> linear within 1e-6, which matters when a shot goes through many round trips.
    try:
        proc = _load_config(key).getProcessor(src, dst)
        return proc.getOptimizedCPUProcessor(
            ocio.OPTIMIZATION_LOSSLESS if exact else ocio.OPTIMIZATION_DEFAULT
        )
    except OCIO_ERRORS as exc:
        raise InputError(f"cannot convert '{src}' to '{dst}': {_one_line(exc)}") from None


def to_working(pixels: np.ndarray, src: str, config: str | os.PathLike | None = None) -> np.ndarray:
    """Pixels in colourspace `src` -> the model working space (sRGB-encoded Rec.709)."""
    return convert(pixels, src, working_space(config), config)


def from_working(pixels: np.ndarray, dst: str, config: str | os.PathLike | None = None) -> np.ndarray:
    """Pixels in the model working space -> colourspace `dst`."""
    return convert(pixels, working_space(config), dst, config)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
