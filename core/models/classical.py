"""Classical harmonizers (no weights): cut-and-paste, statistics transfer and histogram matching.

All three run on `[B, T, 3, H, W]` tensors in the working space (sRGB-encoded Rec.709, 0..1) and honour soft
mattes: the foreground's statistics weight each pixel by its matte, the background's by (1 - matte).

Temporal smoothing. A per-frame estimate jumps whenever the matte or the content changes, which reads as
flicker. Both `stats` and `histogram` therefore estimate from an *exponentially weighted pool of pixels*: the
weighted sums behind each statistic (sum w, sum w x, sum w x^2 for `stats`; the weighted histogram for
`histogram`) decay by exp(-1 / time_constant) per frame and add the new frame. This is an EMA of the
statistics in which each frame counts by its matte area, so a frame with an empty matte neither moves the
estimate nor divides by zero. The pool persists across forward calls (`stateful = True`); `reset()` starts a
new clip. Each batch element is its own stream: frames of one clip must arrive along T or in consecutive
calls, never spread across B. time_constant = 0 means per-frame estimates."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from vh.core.color import linear_to_srgb, rgb_to_xyz, srgb_to_linear
from vh.core.models.base import Harmonizer, blend
from vh.core.models.registry import register_model
from vh.core.options import build_config, check_options, option

SPACES = ("lab", "lalphabeta", "rgb")

# ------------------------------------------------------------------------------------------------------------
# Colour spaces (channels on dim -3 of [..., 3, H, W])
# ------------------------------------------------------------------------------------------------------------

# linear Rec.709/sRGB primaries -> CIE XYZ, and the XYZ of their white (D65), which Lab divides by
_RGB_TO_XYZ = torch.from_numpy(rgb_to_xyz())
_D65 = _RGB_TO_XYZ.sum(1)
# Reinhard et al. 2001: linear RGB -> LMS cone space, then a decorrelating rotation of log LMS to l-alpha-beta
_RGB_TO_LMS = torch.tensor(
    [[0.3811, 0.5783, 0.0402], [0.1967, 0.7244, 0.0782], [0.0241, 0.1288, 0.8444]], dtype=torch.float64
)
_LMS_TO_LAB = torch.diag(torch.tensor([3**-0.5, 6**-0.5, 2**-0.5], dtype=torch.float64)) @ torch.tensor(
    [[1.0, 1.0, 1.0], [1.0, 1.0, -2.0], [1.0, -1.0, 0.0]], dtype=torch.float64
)
_LMS_FLOOR = 1e-4  # log10 floor: black would otherwise be -inf; 1e-4 is below 8-bit sRGB's darkest step

# per-channel value ranges, used to place histogram bins (values outside are clamped into the end bins)
_RANGES = {
    "rgb": ((0.0, 1.0), (0.0, 1.0), (0.0, 1.0)),
    "lab": ((0.0, 100.0), (-110.0, 110.0), (-110.0, 110.0)),
    "lalphabeta": ((-4.0, 0.5), (-0.6, 0.6), (-0.3, 0.3)),
}


def _mix(matrix: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix to the channel dim (-3) of [..., 3, H, W]."""
    return torch.einsum("ij,...jhw->...ihw", matrix.to(x), x)


_EPS_LAB = (6.0 / 29.0) ** 3


def _lab_f(t: torch.Tensor) -> torch.Tensor:
    return torch.where(
        t > _EPS_LAB, t.clamp_min(_EPS_LAB) ** (1.0 / 3.0), t / (3.0 * (6.0 / 29.0) ** 2) + 4.0 / 29.0
    )


def _lab_finv(f: torch.Tensor) -> torch.Tensor:
    return torch.where(f > 6.0 / 29.0, f**3, 3.0 * (6.0 / 29.0) ** 2 * (f - 4.0 / 29.0))


def to_space(rgb: torch.Tensor, space: str) -> torch.Tensor:
    """sRGB-encoded [..., 3, H, W] in 0..1 -> `space` (CIELab D65, Reinhard's l-alpha-beta, or rgb as is)."""
    if space == "rgb":
        return rgb
    lin = srgb_to_linear(rgb)
    if space == "lab":
        xyz = _mix(_RGB_TO_XYZ, lin) / _D65.to(lin).view(3, 1, 1)  # [..., 3, H, W], white-normalised
        fx, fy, fz = _lab_f(xyz).unbind(-3)
        return torch.stack((116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)), dim=-3)
    if space == "lalphabeta":
        lms = _mix(_RGB_TO_LMS, lin).clamp_min(_LMS_FLOOR)
        return _mix(_LMS_TO_LAB, torch.log10(lms))
    raise ValueError(f"unknown colour space {space!r}; choose from {', '.join(SPACES)}")


def from_space(x: torch.Tensor, space: str) -> torch.Tensor:
    """Inverse of `to_space`, back to sRGB-encoded 0..1 (clamped: out-of-gamut results are clipped)."""
    if space == "rgb":
        return x.clamp(0.0, 1.0)
    if space == "lab":
        big_l, a, b = x.unbind(-3)
        fy = (big_l + 16.0) / 116.0
        f = torch.stack((fy + a / 500.0, fy, fy - b / 200.0), dim=-3)
        xyz = _lab_finv(f) * _D65.to(x).view(3, 1, 1)
        return linear_to_srgb(_mix(torch.linalg.inv(_RGB_TO_XYZ), xyz))
    if space == "lalphabeta":
        lms = 10.0 ** _mix(torch.linalg.inv(_LMS_TO_LAB), x)
        return linear_to_srgb(_mix(torch.linalg.inv(_RGB_TO_LMS), lms))
    raise ValueError(f"unknown colour space {space!r}; choose from {', '.join(SPACES)}")


# ------------------------------------------------------------------------------------------------------------
# Exponentially weighted pools
# ------------------------------------------------------------------------------------------------------------


def _decay(time_constant: float) -> float:
    """Per-frame decay of the pool: exp(-1 / tau); 0 (per-frame estimates) for tau <= 0."""
    return math.exp(-1.0 / time_constant) if time_constant > 0 else 0.0


def _ema_scan(
    per_frame: torch.Tensor, state: torch.Tensor | None, decay: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Running pools along T: pool_t = decay * pool_{t-1} + per_frame_t.

    per_frame [B, T, ...] -> (pools [B, T, ...], last pool [B, ...]); `state` is the pool before frame 0.
    """
    pools = []
    pool = state
    for t in range(per_frame.shape[1]):
        pool = per_frame[:, t] if pool is None else decay * pool + per_frame[:, t]
        pools.append(pool)
    return torch.stack(pools, dim=1), pool


class _PooledHarmonizer(Harmonizer):
    """Shared plumbing of the statistics-based models: config, state, empty-matte handling."""

    stateful = True
    input_size = (256, 256)

    def __init__(self, config: Any = None):
        super().__init__()
        self.config = config or self.config_class()
        self._state: torch.Tensor | None = None

    def reset(self) -> None:
        self._state = None

    def __call__(self, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        # colour-space maths (cube roots, logs, E[x^2] - E[x]^2) is not half-precision work: opt out of any
        # autocast region the caller runs in (the engine uses one on CUDA) and compute in float32
        with torch.autocast(device_type=comp.device.type, enabled=False):
            out = super().__call__(comp.float(), matte.float())
        return out.to(comp.dtype)

    def _pool(self, per_frame: torch.Tensor) -> torch.Tensor:
        """Pools for each frame, continuing from the previous call (restarted if the batch size changed)."""
        state = self._state
        if state is not None and (state.shape != per_frame[:, 0].shape or state.device != per_frame.device):
            state = None  # a different set of streams: a new clip
        pools, self._state = _ema_scan(per_frame, state, _decay(self.config.time_constant))
        return pools


# ------------------------------------------------------------------------------------------------------------
# Cut-and-paste
# ------------------------------------------------------------------------------------------------------------


class CutAndPaste(Harmonizer):
    """The identity: the composite as it is. The floor every other model must beat."""

    input_size = None

    def forward(self, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        return comp


@register_model("cut", aliases=("cut-and-paste", "identity"))
def cut(**overrides) -> CutAndPaste:
    check_options([], overrides, "cut")
    return CutAndPaste()


# ------------------------------------------------------------------------------------------------------------
# Statistics transfer (Reinhard et al. 2001)
# ------------------------------------------------------------------------------------------------------------


# The options every pooled model has (a fresh field per config class: dataclasses take ownership of a field).
def _space(default: str, measured: str) -> Any:
    return option(default, help=f"colour space of the {measured}", choices=SPACES)


def _time_constant() -> Any:
    return option(8.0, help="temporal smoothing in frames (0 = per frame)", min=0.0, max=1000.0)


def _amount() -> Any:
    return option(0.6, help="how far to move the foreground toward the plate", min=0.0, max=1.0)


@dataclass
class StatsConfig:
    # Defaults measured on hyoutube_val (fMSE, 256x256, model called directly): l-alpha-beta beat CIELab and
    # RGB at every amount tried; a partial transfer (0.5-0.6) halves fMSE against the full one (a foreground's
    # true colours are not the plate's, only related to them); smoothing over ~8 frames cuts flicker by a
    # third.
    space: str = _space("lalphabeta", "statistics")
    time_constant: float = _time_constant()
    #: 0 keeps the foreground, 1 is the full transfer; between: a geometric blend of the statistics
    amount: float = _amount()
    #: floor on the foreground std (in space units), so a flat foreground is not blown up
    min_std: float = 1e-3


class StatsTransfer(_PooledHarmonizer):
    """Reinhard-style transfer: per channel, move the foreground's mean and std toward the background's.

    out_c = (x_c - mu_fg,c) * (sigma_bg,c / sigma_fg,c) ** a + mu_fg,c + a * (mu_bg,c - mu_fg,c), in a
    perceptual space, then back to sRGB; a = `amount` (1 is Reinhard et al. 2001)."""

    config_class = StatsConfig

    def forward(self, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        x = to_space(comp, self.config.space)  # [B, T, 3, H, W]
        w = matte.expand_as(x)  # [B, T, 3, H, W]

        # weighted moments per frame, accumulated in float64 (var = E[x^2] - E[x]^2 cancels badly in float32);
        # the background's are the whole frame's minus the foreground's, which saves a pass
        def sums(a):
            return a.sum(dim=(-2, -1), dtype=torch.float64)

        wx, xx = w * x, x * x
        fg = torch.stack((sums(w), sums(wx), sums(wx * x)), dim=2)  # [B, T, 3 moments, 3 channels]
        whole = torch.stack(
            (torch.full_like(fg[:, :, 0], x.shape[-2] * x.shape[-1]), sums(x), sums(xx)), dim=2
        )
        moments = torch.stack((fg, whole - fg), dim=2)  # [B, T, 2 (fg, bg), 3, 3]
        pools = self._pool(moments)  # [B, T, 2, 3, 3]
        s0, s1, s2 = pools.unbind(dim=3)  # each [B, T, 2, 3]
        mean = s1 / s0.clamp_min(1e-12)
        std = (s2 / s0.clamp_min(1e-12) - mean * mean).clamp_min(0.0).sqrt()
        mu_fg, mu_bg = mean.float().unbind(dim=2)  # [B, T, 3]
        sd_fg, sd_bg = std.float().unbind(dim=2)
        a = self.config.amount
        # partial transfer: the target mean moves linearly, the target std geometrically (gain ** a), so a = 0
        # is the identity and a = 1 is Reinhard's full transfer
        gain = (sd_bg.clamp_min(self.config.min_std) / sd_fg.clamp_min(self.config.min_std)) ** a  # [B, T, 3]
        mu_target = mu_fg + a * (mu_bg - mu_fg)  # [B, T, 3]
        pred = (x - mu_fg[..., None, None]) * gain[..., None, None] + mu_target[
            ..., None, None
        ]  # [B, T, 3, H, W]
        pred = from_space(pred, self.config.space)
        # no foreground (or no background) seen yet in the pool: nothing to transfer, keep the composite
        valid = (s0[:, :, 0, 0] > 1e-6) & (s0[:, :, 1, 0] > 1e-6)  # [B, T]
        pred = torch.where(valid[..., None, None, None], pred, comp)
        return blend(comp, pred, matte)


@register_model("stats", aliases=("reinhard",))
def stats(**overrides) -> StatsTransfer:
    return StatsTransfer(build_config(StatsConfig, "stats", overrides))


# ------------------------------------------------------------------------------------------------------------
# Histogram matching
# ------------------------------------------------------------------------------------------------------------


@dataclass
class HistogramConfig:
    # Defaults measured on hyoutube_val like StatsConfig's: RGB beat CIELab and l-alpha-beta here.
    space: str = _space("rgb", "histograms")
    time_constant: float = _time_constant()
    #: 0 keeps the foreground, 1 is full matching; between: a blend of the transfer curves
    amount: float = _amount()
    #: soft (linear) binning, so few bins still map smoothly
    bins: int = option(64, help="histogram bins per channel", min=2, max=4096)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """Batched np.interp: x [N, K], xp [N, M] nondecreasing, fp [N, M] -> [N, K] (clamped at the ends)."""
    m = xp.shape[-1]
    idx = torch.searchsorted(xp.contiguous(), x.contiguous(), right=True).clamp(1, m - 1)  # [N, K]
    x0, x1 = xp.gather(-1, idx - 1), xp.gather(-1, idx)
    f0, f1 = fp.gather(-1, idx - 1), fp.gather(-1, idx)
    t = ((x - x0) / (x1 - x0).clamp_min(1e-12)).clamp(0.0, 1.0)
    return f0 + t * (f1 - f0)


class HistogramMatching(_PooledHarmonizer):
    """Per-channel histogram matching of the foreground to the background (soft-matte-weighted histograms)."""

    config_class = HistogramConfig

    def forward(self, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        b, t, _, h, w = comp.shape
        nb = self.config.bins
        lo_hi = torch.tensor(_RANGES[self.config.space], dtype=comp.dtype, device=comp.device)  # [3, 2]
        lo, span = lo_hi[:, 0].view(3, 1, 1), (lo_hi[:, 1] - lo_hi[:, 0]).view(3, 1, 1)
        x = to_space(comp, self.config.space)  # [B, T, 3, H, W]
        u = ((x - lo) / span).clamp(0.0, 1.0).flatten(-2)  # [B, T, 3, P] in bin units 0..1
        pos = u * (nb - 1)
        i0 = pos.floor().clamp(max=nb - 2).long()  # [B, T, 3, P]
        frac = pos - i0
        m = matte.flatten(-2)  # [B, T, 1, P]
        hists = []
        for wgt in (m, 1.0 - m):  # soft binning: each pixel splits its weight between its two nearest bins
            wgt = wgt.expand_as(u)
            hist = torch.zeros(b, t, 3, nb, dtype=torch.float64, device=comp.device)
            hist.scatter_add_(-1, i0, (wgt * (1.0 - frac)).double())
            hist.scatter_add_(-1, i0 + 1, (wgt * frac).double())
            hists.append(hist)
        pools = self._pool(torch.stack(hists, dim=2))  # [B, T, 2, 3, bins]
        mass = pools.sum(-1, keepdim=True)  # [B, T, 2, 3, 1]
        # mid-point CDF at the bin centres: a bin's own mass counts half, so matching is symmetric
        cdf = (pools.cumsum(-1) - 0.5 * pools) / mass.clamp_min(1e-12)
        cdf_fg, cdf_bg = cdf.unbind(dim=2)  # [B, T, 3, bins]
        centres = torch.linspace(0.0, 1.0, nb, dtype=torch.float64, device=comp.device).expand_as(cdf_fg)
        # the transfer curve sampled at the bin centres: u -> F_bg^-1(F_fg(u))
        lut = _interp(
            cdf_fg.reshape(-1, nb), cdf_bg.reshape(-1, nb), centres.reshape(-1, nb)
        )  # [B*T*3, bins]
        # partial matching: blend the transfer curve with the identity (a = 0 keeps the foreground)
        lut = centres.reshape(b, t, 3, nb) + self.config.amount * (
            lut.view(b, t, 3, nb) - centres.reshape(b, t, 3, nb)
        )
        lut = lut.to(comp.dtype)  # [B, T, 3, bins]
        out_u = lut.gather(-1, i0) * (1.0 - frac) + lut.gather(-1, i0 + 1) * frac  # [B, T, 3, P]
        pred = from_space((out_u * span.flatten(-2) + lo.flatten(-2)).view(b, t, 3, h, w), self.config.space)
        valid = (mass[:, :, 0, 0, 0] > 1e-6) & (mass[:, :, 1, 0, 0] > 1e-6)  # [B, T]
        pred = torch.where(valid[..., None, None, None], pred, comp)
        return blend(comp, pred, matte)


@register_model("histogram", aliases=("histogram-matching",))
def histogram(**overrides) -> HistogramMatching:
    return HistogramMatching(build_config(HistogramConfig, "histogram", overrides))
