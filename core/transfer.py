"""Full-resolution transfer: carry a low-resolution harmonization over to the full-resolution plate.

The models run at 256x256, the plate is 2K-4K. Upsampling the model's pixels would blur the foreground, so we
fit a smooth *colour transform* that maps the low-res composite to the low-res model output inside the
foreground, and apply that transform to the full-resolution composite pixels, which keep all their detail:

    global    f(x)     a tetrahedral 3D LUT (or a polynomial) over the whole foreground. HYouTube-style
                       composites are made by one LUT per clip, so a global fit explains most of the colour
                       change.
    local     A(p), b(p)   a per-pixel affine residual, fitted with a matte-weighted colour guided filter at
                       model resolution and bilinearly upsampled (as in fast guided filters / PCT-Net):
                       captures spatially varying corrections (shading, a model that relights one side).
    residual  r(p)     what the transform still misses at model resolution (model output - transform of the
                       low-res composite), bilinearly upsampled: the result, downsampled, is close to the
                       model's output.
    "lut+affine" (the default) is  out = f(x) + A(p) f(x) + b(p) + r(p).

Oracle (ground truth at 256x256 as a perfect model output; benchmarks/bench_transfer_oracle.py): full-res fMSE
on hyoutube_val is ~0.2x that of naive bilinear upsampling; see the benchmark for every candidate.

The global part is smoothed over time: the fit keeps an exponential moving average (time constant in frames)
of its normal equations, i.e. it is a weighted least-squares fit over the recent frames, so model flicker is
averaged, not amplified, and a frame with a tiny foreground leans on its neighbours. The local parts follow
the current frame (objects move); with the residual on, the result follows the model's own output at model
resolution, so its flicker is passed on as it is, never amplified. `residual=False` trades that for the
smoothed transform alone.

Linear light: the transform is fitted on working-space values in 0..1 (what the model sees). Full-resolution
values outside 0..1 (scene-linear highlights) go through the LUT at the clamped value plus a per-channel
positive gain times the excess, so 4.0 and 16.0 stay finite, ordered and unclipped; above 1.0 the result then
blends into the highlight's own colour scaled by the correction's exposure there (`keep_highlight_hue`), so a
per-channel slope never tints a neutral specular.

Compositing happens in the plate's own colourspace with the ORIGINAL full-resolution matte, `out = plate * (1
- matte) + transformed * matte`, so the background is bit-exact and soft edges keep that blend."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from vh.core import color, runtime

METHODS = ("lut+affine", "lut", "poly", "poly+affine", "affine", "upsample")


@dataclass
class TransferConfig:
    """How the low-res harmonization is carried to full resolution."""

    method: str = "lut+affine"
    # : LUT nodes per axis (tetrahedral); 9 resolves a HYouTube LUT's shape without overfitting a 256x256
    # frame.
    lut_size: int = 9
    #: weight of the LUT's second-difference smoothness prior, relative to the (normalised) data term.
    lut_smoothness: float = 3e-3
    #: ridge toward the identity mapping; decides LUT nodes (and colours) the foreground never visits.
    identity_prior: float = 1e-4
    #: polynomial degree of the "poly" global fit.
    poly_degree: int = 3
    # : guided-filter window radius at model resolution, in pixels. Smaller follows the model more closely
    # (oracle : fMSE on hyoutube_val vs naive upsampling: r=8 0.28x, r=4 0.23x, r=2 0.20x) but also follows
    # its noise.
    radius: int = 4
    #: guided-filter ridge on the local slope: larger -> the residual is closer to a smooth offset field.
    eps: float = 1e-3
    # : add the bilinearly upsampled low-res residual (model output minus transform, at model resolution), so
    # the : result at model resolution is the model's output: colour changes the transform cannot express
    # (crushed : blacks, JPEG-flattened regions) still arrive, at the model's resolution, while detail comes
    # from the plate.
    residual: bool = True
    #: EMA time constant of the global fit, in frames (0 disables temporal smoothing).
    time_constant: float = 2.0
    # : pixels per band when applying at full resolution: each band's buffers (under 1 MiB) come from the heap
    # and : stay in cache, and bands run in parallel, one per core.
    band_pixels: int = 1 << 16

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown transfer method {self.method!r}; choose one of {', '.join(METHODS)}")


# ------------------------------------------------------------------------------------------------------------
# Global fits: a linear least-squares problem over a basis, accumulated as normal equations so they can be
# averaged over time.


def fit_weights(matte: np.ndarray) -> np.ndarray:
    """Per-pixel fitting weights from a low-res soft matte [h, w]: pixels that are mostly foreground count
    most.

    Mixed edge pixels blend foreground and background colours, which no colour transform of the composite
    explains, so they get little weight; if the foreground is so thin that nothing is mostly foreground, use
    the matte itself."""
    w = np.clip(2.0 * matte - 1.0, 0.0, 1.0)  # [h, w]
    if w.sum() < 16.0:
        w = matte.astype(np.float32)
    return w.astype(np.float32)


def _lut_axis(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Lower node index and fractional position of values in 0..1 on an n-node axis."""
    s = np.clip(x, 0.0, 1.0) * (n - 1)
    i0 = np.minimum(np.floor(s).astype(np.int64), n - 2)
    return i0, (s - i0).astype(np.float32)


def _lut_features(x: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Tetrahedral weights of colours x [P, 3] on an n^3 grid: node indices [P, 4] and weights [P, 4].

    The cell's diagonal from its lowest to its highest corner is walked along the axes in order of decreasing
    fractional position; the four corners visited carry weights 1 - f1, f1 - f2, f2 - f3, f3 (f1 >= f2 >= f3).
    This is exactly what OCIO's tetrahedral Lut3D computes, so the fit and its application agree.
    """
    axes = [_lut_axis(x[:, c], n) for c in range(3)]
    base = (axes[2][0] * n + axes[1][0]) * n + axes[0][0]  # [P]; node index = (b * n + g) * n + r
    frac = np.stack([f for _, f in axes], 1)  # [P, 3] r, g, b
    order = np.argsort(-frac, axis=1, kind="stable")  # [P, 3] axes by decreasing fraction
    f = np.take_along_axis(frac, order, 1)  # [P, 3] f1 >= f2 >= f3
    step = np.array([1, n, n * n])[order]  # [P, 3] index step along each of those axes
    idx = np.stack([base, base + step[:, 0], base + step[:, 0] + step[:, 1], base + step.sum(1)], 1)
    val = np.stack([1.0 - f[:, 0], f[:, 0] - f[:, 1], f[:, 1] - f[:, 2], f[:, 2]], 1)
    return idx, val.astype(np.float32)  # [P, 4], [P, 4]


def _identity_lut(n: int) -> np.ndarray:
    """The n^3 identity LUT as node values [n^3, 3] (node order b, g, r; channel order r, g, b)."""
    a = np.linspace(0.0, 1.0, n, dtype=np.float64)
    b, g, r = np.meshgrid(a, a, a, indexing="ij")
    return np.stack([r.ravel(), g.ravel(), b.ravel()], 1)


def _second_difference(n: int) -> np.ndarray:
    """Gram matrix D^T D of second differences along the three LUT axes ([n^3, n^3]): the smoothness prior."""
    d1 = np.zeros((n - 2, n))
    for i in range(n - 2):
        d1[i, i : i + 3] = (1.0, -2.0, 1.0)
    g1 = d1.T @ d1
    eye = np.eye(n)
    # node index = (b * n + g) * n + r, so r is the fastest axis
    return np.kron(np.kron(eye, eye), g1) + np.kron(np.kron(eye, g1), eye) + np.kron(np.kron(g1, eye), eye)


def _poly_exponents(degree: int) -> list[tuple[int, int, int]]:
    return [
        (i, j, k)
        for d in range(degree + 1)
        for i in range(d + 1)
        for j in range(d + 1 - i)
        for k in [d - i - j]
    ]


def _poly_features(x: np.ndarray, exps: list[tuple[int, int, int]]) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return np.stack([x[:, 0] ** i * x[:, 1] ** j * x[:, 2] ** k for i, j, k in exps], 1).astype(
        np.float32
    )  # [P, K]


class GlobalFit:
    """A global colour mapping fitted by regularised least squares; normal equations are EMA-averaged over
    frames."""

    def __init__(self, config: TransferConfig, kind: str) -> None:
        self.config, self.kind = config, kind
        if kind == "lut":
            n = config.lut_size
            self.size = n**3
            self.prior = _identity_lut(n)  # [K, 3]
            self.reg = config.lut_smoothness * _second_difference(n) + config.identity_prior * np.eye(
                self.size
            )
        else:
            self.exps = _poly_exponents(config.poly_degree)
            self.size = len(self.exps)
            self.prior = np.zeros((self.size, 3))
            for c, e in enumerate([(1, 0, 0), (0, 1, 0), (0, 0, 1)]):
                self.prior[self.exps.index(e), c] = 1.0
            self.reg = config.identity_prior * np.eye(self.size)
        self.reset()

    def reset(self) -> None:
        self.gram: np.ndarray | None = None  # [K, K]  sum w phi phi^T / sum w
        self.rhs: np.ndarray | None = None  # [K, 3]
        self.moments: np.ndarray | None = None  # [4, 3] E[x], E[x^2], E[x y], E[y] for the highlight gains

    def update(self, x: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        """Add one frame's pixels: colours x [P, 3] -> y [P, 3] with weights w [P] (normalised so frames count
        alike)."""
        total = float(w.sum())
        if total <= 0.0:
            return  # an empty foreground carries no information; keep the previous estimate
        wn = (w / total).astype(np.float64)
        if self.kind == "lut":
            idx, val = _lut_features(x, self.config.lut_size)  # [P, 4] each
            wv = val * wn[:, None]  # [P, 4]
            pair = (idx[:, :, None] * self.size + idx[:, None, :]).ravel()  # [P*16]
            gram = np.bincount(pair, (wv[:, :, None] * val[:, None, :]).ravel(), self.size * self.size)
            gram = gram.reshape(self.size, self.size)
            rhs = np.stack(
                [np.bincount(idx.ravel(), (wv * y[:, c : c + 1]).ravel(), self.size) for c in range(3)], 1
            )
        else:
            phi = _poly_features(x, self.exps).astype(np.float64)  # [P, K]
            gram = (phi * wn[:, None]).T @ phi
            rhs = (phi * wn[:, None]).T @ y
        xc = np.clip(x, 0.0, 1.0)
        moments = np.stack([wn @ xc, wn @ (xc * xc), wn @ (xc * y), wn @ y])  # [4, 3]
        if self.gram is None or self.config.time_constant <= 0:
            self.gram, self.rhs, self.moments = gram, rhs, moments
        else:
            a = 1.0 - math.exp(-1.0 / self.config.time_constant)
            self.gram = (1 - a) * self.gram + a * gram
            self.rhs = (1 - a) * self.rhs + a * rhs
            self.moments = (1 - a) * self.moments + a * moments

    @property
    def ready(self) -> bool:
        return self.gram is not None

    def solve(self) -> tuple[np.ndarray, np.ndarray]:
        """(parameters [K, 3], per-channel highlight gains [3])."""
        reg = self.reg
        # regularise the deviation from the identity mapping: (G + R) theta = rhs + R theta_id
        # G + R is symmetric positive definite (the ridge toward the identity sees to that): Cholesky, ~2x LU
        lhs, rhs = torch.from_numpy(self.gram + reg), torch.from_numpy(self.rhs + reg @ self.prior)
        chol, info = torch.linalg.cholesky_ex(lhs)
        theta = (torch.cholesky_solve(rhs, chol) if info == 0 else torch.linalg.solve(lhs, rhs)).numpy()
        ex, ex2, exy, ey = self.moments
        var, cov = ex2 - ex * ex, exy - ex * ey
        # per-channel slope of y on x, pulled toward 1 where the foreground's range is too narrow to tell
        gains = np.clip((cov + 1e-3) / (var + 1e-3), 0.1, 10.0)
        return theta.astype(np.float32), gains.astype(np.float32)


# ------------------------------------------------------------------------------------------------------------
# Local affine residual: a matte-weighted colour guided filter at model resolution.


def _box(x: np.ndarray, r: int) -> np.ndarray:
    return cv2.boxFilter(x, -1, (2 * r + 1, 2 * r + 1), normalize=True, borderType=cv2.BORDER_REFLECT)


_PAIRS = ((0, 0), (0, 1), (0, 2), (1, 1), (1, 2), (2, 2))  # the distinct entries of a symmetric 3x3 matrix


def local_affine(guide: np.ndarray, target: np.ndarray, w: np.ndarray, radius: int, eps: float) -> np.ndarray:
    """Per-pixel affine fields so that target ~= A(p) guide + b(p), fitted in weighted windows.

    guide, target [h, w, 3]; w [h, w]. Returns coefficients [h, w, 12]: A column by column (A[:, 0], A[:, 1],
    A[:, 2]) then b.
    The ridge `eps` pulls A toward 0, i.e. toward a pure offset field, so flat regions do not amplify noise.
    """
    g = [guide[..., i].astype(np.float32) for i in range(3)]  # planes [h, w]
    t = [target[..., i].astype(np.float32) for i in range(3)]
    w = w.astype(np.float32)
    # the windowed sums the fit needs: w, w g_i, w t_o, w g_i g_j (i <= j), w g_i t_o
    terms = [w] + [w * x for x in g] + [w * x for x in t]
    terms += [w * g[i] * g[j] for i, j in _PAIRS] + [w * g[i] * t[o] for i in range(3) for o in range(3)]
    sums = np.stack(
        [_box(x, radius) for x in terms]
    )  # [22, h, w]; plane by plane beats interleaving 22 channels
    wsum = sums[0] + 1e-6
    mean = sums[1:7] / wsum  # [6, h, w]: guide means, then target means
    m_i, m_t = mean[:3], mean[3:]
    cov = {ij: sums[7 + k] / wsum - m_i[ij[0]] * m_i[ij[1]] for k, ij in enumerate(_PAIRS)}
    c = {(i, j): cov[(min(i, j), max(i, j))] + (eps if i == j else 0.0) for i in range(3) for j in range(3)}
    c_it = (sums[13:22] / wsum).reshape(3, 3, *wsum.shape) - m_i[:, None] * m_t[None]  # [3(in), 3(out), h, w]
    # the inverse of the (ridged, symmetric) guide covariance by its adjugate: 3x3 systems for every pixel at
    # once
    adj = {
        (0, 0): c[1, 1] * c[2, 2] - c[1, 2] * c[1, 2],
        (0, 1): c[0, 2] * c[1, 2] - c[0, 1] * c[2, 2],
        (0, 2): c[0, 1] * c[1, 2] - c[0, 2] * c[1, 1],
        (1, 1): c[0, 0] * c[2, 2] - c[0, 2] * c[0, 2],
        (1, 2): c[0, 1] * c[0, 2] - c[0, 0] * c[1, 2],
        (2, 2): c[0, 0] * c[1, 1] - c[0, 1] * c[0, 1],
    }
    inv_det = 1.0 / (c[0, 0] * adj[0, 0] + c[0, 1] * adj[0, 1] + c[0, 2] * adj[0, 2])
    inv = [[adj[min(i, j), max(i, j)] * inv_det for j in range(3)] for i in range(3)]
    a = [[sum(inv[i][j] * c_it[j, o] for j in range(3)) for o in range(3)] for i in range(3)]  # A[in][out]
    b = [m_t[o] - sum(a[i][o] * m_i[i] for i in range(3)) for o in range(3)]
    coef = [a[i][o] for i in range(3) for o in range(3)] + b  # 12 planes [h, w], index 3 * in + out
    # second pass of the guided filter: average the coefficients of all windows covering a pixel, counting
    # only windows that saw foreground, so the field stays defined right up to the matte edge
    valid = (wsum > 1e-3).astype(np.float32)
    norm = 1.0 / (_box(valid, radius) + 1e-6)
    return np.stack([_box(x * valid, radius) * norm for x in coef], -1).astype(np.float32)  # [h, w, 12]


# ------------------------------------------------------------------------------------------------------------
# The fitted transform and its application at full resolution.


def _resample_coords(
    n_out: int, n_in: int, start: int, stop: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear (half-pixel centres, as cv2.resize / align_corners=False) source taps for output pixels
    start..stop."""
    s = (np.arange(start, stop, dtype=np.float64) + 0.5) * (n_in / n_out) - 0.5
    s = np.clip(s, 0.0, n_in - 1)
    i0 = np.minimum(np.floor(s).astype(np.int64), max(n_in - 2, 0))
    i1 = np.minimum(i0 + 1, n_in - 1)
    return i0, i1, (s - i0).astype(np.float32)


def _lerp_rows(lo: np.ndarray, n_out: int, start: int, stop: int) -> np.ndarray:
    """Rows start..stop of `lo` [h, ...] bilinearly resized along its first axis to n_out rows."""
    i0, i1, f = _resample_coords(n_out, lo.shape[0], start, stop)
    f = f.reshape(-1, *([1] * (lo.ndim - 1)))
    a = lo[i0]
    return a + (lo[i1] - a) * f


def resize_bilinear_region(
    lo: np.ndarray, full_hw: tuple[int, int], y0: int, y1: int, x0: int, x1: int
) -> np.ndarray:
    """The region [y0:y1, x0:x1] of `lo` [h, w, C] bilinearly resized to full_hw, without building the full
    image."""
    cols = _lerp_rows(lo.swapaxes(0, 1), full_hw[1], x0, x1).swapaxes(0, 1)  # [h, x1-x0, C]
    return _lerp_rows(cols, full_hw[0], y0, y1)  # [y1-y0, x1-x0, C]


def _ocio_lut(theta: np.ndarray, n: int):
    """An OCIO CPU processor applying the fitted LUT (tetrahedral, input clamped to 0..1, output unclamped).

    OCIO's tetrahedral Lut3D is SIMD code, ~3x faster than its trilinear one and far faster than a gather in
    torch."""
    import PyOpenColorIO as ocio

    lut = ocio.Lut3DTransform(gridSize=n)
    lut.setInterpolation(ocio.INTERP_TETRAHEDRAL)
    nodes = theta.reshape(n, n, n, 3)  # [b, g, r, 3]
    for b in range(n):
        for g in range(n):
            for r in range(n):
                lut.setValue(r, g, b, *map(float, nodes[b, g, r]))
    config = ocio.Config.CreateRaw()
    # OCIO's processor cache can hand back the processor of an earlier LUT of the same size (its cache key
    # does not follow setValue edits), so every fitted LUT gets a fresh, uncached processor.
    config.setProcessorCacheFlags(ocio.PROCESSOR_CACHE_OFF)
    return config.getProcessor(lut).getOptimizedCPUProcessor(ocio.OPTIMIZATION_LOSSLESS)


def _affine(fields: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g + A g + o for planar colours g [3, n, w'], with fields [..., K, n or 1, w'] holding A (9 planes,
    input-channel major: plane 3 * i + c weighs input i for output c) then the offset o (3 planes), or the
    offset alone (K = 3).

    NumPy, not torch: it never spawns threads of its own, so bands can run one per core without
    oversubscribing."""
    out = g + fields[..., -3:, :, :]  # [..., 3, n, w']
    if fields.shape[-3] == 12:
        term = np.empty_like(out)
        for i in range(3):
            out += np.multiply(fields[..., 3 * i : 3 * i + 3, :, :], g[i], out=term)
    return out


@dataclass
class Transform:
    """One frame's fitted colour transform, in working-space values."""

    method: str
    lut: object | None = None  # OCIO CPU processor of the global 3D LUT
    poly: tuple[list, np.ndarray] | None = None  # (exponents, coefficients [K, 3])
    gains: np.ndarray | None = None  # [3] slope applied to values beyond 0..1
    coef: np.ndarray | None = (
        None  # [h, w, 12] local affine residual at model resolution: A columns (in-major), b
    )
    residual: np.ndarray | None = None  # [h, w, 3] what the transform leaves unexplained at model resolution
    upsample: np.ndarray | None = None  # [h, w, 3] model output, for the naive "upsample" method
    _rows: tuple | None = (
        None  # cache: (key, local fields resized along x to the region's columns [h, K, w'])
    )

    def global_map(self, x: np.ndarray) -> np.ndarray:
        """The global mapping of colours x [..., 3] (any range); a new array."""
        if self.lut is None and self.poly is None:
            return np.array(x, np.float32)
        # a new C-ordered array: OCIO applies in place
        y = np.ascontiguousarray(np.clip(x, 0.0, 1.0).astype(np.float32, copy=False))
        # scene-linear excess beyond 0..1 continues with a positive per-channel slope: finite, ordered,
        # unclipped
        excess = x - y if (x.max(initial=0.0) > 1.0 or x.min(initial=0.0) < 0.0) else None
        if self.lut is not None:
            color.apply_rgb(self.lut, y.reshape(-1, 3))
        else:
            exps, theta = self.poly
            y = (_poly_features(y.reshape(-1, 3), exps) @ theta).reshape(x.shape)
        if excess is not None:
            y += excess * self.gains
        return y.astype(np.float32, copy=False)

    def prepare(self, width: int, x0: int, ww: int) -> np.ndarray | None:
        """The local fields (A and offset b + r, or the offset alone) of every model-resolution row, resized
        along x to columns x0..x0+ww of a `width`-wide frame: [h, K, w'], each row's planes contiguous; None
        without any.

        Computed on first use for an x range and kept; call it before applying bands from several threads.
        """
        if self.coef is None and self.residual is None:
            return None
        key = (width, x0, ww)
        if self._rows is None or self._rows[0] != key:
            if self.coef is None:
                fields = self.residual
            else:
                fields = self.coef.copy()
                if self.residual is not None:
                    fields[..., 9:] += self.residual  # both are offsets: add them once, here
            h, _, k = fields.shape
            planes = np.ascontiguousarray(fields.transpose(0, 2, 1)).reshape(h * k, -1)  # [h * K, w]
            # one single-channel resize along x only (the row count stays): the result is already [h, K, W]
            cols = cv2.resize(planes, (width, h * k), interpolation=cv2.INTER_LINEAR).reshape(h, k, width)
            self._rows = (key, np.ascontiguousarray(cols[..., x0 : x0 + ww]))
        return self._rows[1]

    def apply(
        self, comp: np.ndarray, full_hw: tuple[int, int] | None = None, origin: tuple[int, int] = (0, 0)
    ) -> np.ndarray:
        """Transform working-space colours comp [h', w', 3] that sit at `origin` (y, x) inside a frame of
        `full_hw`.

        Call it band by band (same x range) to bound memory: the horizontal resampling of the local fields is
        computed once per x range (`prepare`) and reused.
        """
        hh, ww = comp.shape[:2]
        full_hw = full_hw or (hh, ww)
        y0, x0 = origin
        if self.method == "upsample":
            return resize_bilinear_region(self.upsample, full_hw, y0, y0 + hh, x0, x0 + ww).astype(np.float32)
        out = self._apply(comp, full_hw, y0, x0)
        peak = comp.max(axis=-1)  # [h', w']
        hot = peak > 1.0
        if not hot.any():
            return out
        # the transform at each highlight's in-range colour (same chromaticity, brightest channel at 1.0)
        inside = self._apply(comp / np.maximum(peak, 1.0)[..., None], full_hw, y0, x0)
        return keep_highlight_hue(comp, out, inside, peak, hot)

    def _apply(self, comp: np.ndarray, full_hw: tuple[int, int], y0: int, x0: int) -> np.ndarray:
        hh, ww = comp.shape[:2]
        g = self.global_map(comp)  # [h', w', 3]
        rows = self.prepare(full_hw[1], x0, ww)  # [h, K, w']
        if rows is None:
            return g
        # planar colours, so that every multiply-add below runs over contiguous rows
        gp = np.ascontiguousarray(g.transpose(2, 0, 1))  # [3, h', w']
        i0, i1, f = _resample_coords(full_hw[0], rows.shape[0], y0, y0 + hh)
        starts = np.flatnonzero(np.diff(i0, prepend=-1))  # output rows where the pair of field rows changes
        if (
            len(starts) * 2 > hh
        ):  # little or no upsampling (e.g. at model resolution): build the fields outright
            field = rows[i0] + (rows[i1] - rows[i0]) * f[:, None, None]  # [h', K, w']
            return np.ascontiguousarray(
                _affine(field.transpose(1, 0, 2), gp).transpose(1, 2, 0)
            )  # [h', w', 3]
        # Upsampling: the transform is linear in its fields, so an output row between field rows i0 and i1 is
        # the lerp of the transforms *at* those rows; no full-resolution field (12 values a pixel) is ever
        # built.
        out = np.empty((3, hh, ww), np.float32)
        for s, e in zip(starts, [*starts[1:], hh]):
            a, b = i0[s], i1[s]
            pair = rows[a : a + 2] if b == a + 1 else rows[[a, b]]  # [2, K, w']
            lo, hi = _affine(pair[:, :, None, :], gp[:, s:e])  # [3, n, w'] each
            hi -= lo
            hi *= f[s:e, None]
            np.add(lo, hi, out=out[:, s:e])
        return np.ascontiguousarray(out.transpose(1, 2, 0))  # [h', w', 3]


# The transform is fitted on working-space values in 0..1 (what the model sees). Beyond that it is an
# extrapolation, and per-channel slopes there turn a neutral specular highlight into a coloured one (20.0 ->
# (3.0, 3.75, 13.0)). A highlight instead keeps its own hue and gets the correction's exposure: its colour
# scaled by the luminance ratio the transform gives its in-range version. Between 1.0 and 1.0 + _HDR_KNEE the
# two blend, so there is no seam.
_HDR_KNEE = 0.25
_LUMA = color.REC709_LUMA


def keep_highlight_hue(
    x: np.ndarray, y: np.ndarray, y_in: np.ndarray, peak: np.ndarray, hot: np.ndarray
) -> np.ndarray:
    """`y`, the transform of colours x [..., 3], with each hot pixel (peak, its brightest channel, above 1)
    moved to x scaled by lum(y_in) / lum(x / peak), y_in being the transform of x / peak; in place,
    returned."""
    xs, ps = x[hot], peak[hot][:, None]  # [P, 3], [P, 1]
    lum_in = (xs / ps) @ _LUMA  # [P]
    ratio = np.where(lum_in > 1e-6, np.maximum(y_in[hot] @ _LUMA, 0.0) / np.maximum(lum_in, 1e-6), 1.0)
    t = np.clip((ps - 1.0) / _HDR_KNEE, 0.0, 1.0)  # [P, 1]
    ys = y[hot]
    y[hot] = ys + t * (xs * ratio[:, None] - ys)
    return y


class ColorTransfer:
    """Fits one Transform per frame, in order, with temporal smoothing; one instance per clip."""

    def __init__(self, config: TransferConfig | None = None) -> None:
        self.config = config or TransferConfig()
        kind = self.config.method.split("+")[0]
        self._global = GlobalFit(self.config, kind) if kind in ("lut", "poly") else None

    def carry(
        self,
        comp_lo: np.ndarray,
        out_lo: np.ndarray,
        matte_lo: np.ndarray,
        plate: np.ndarray,
        matte: np.ndarray,
        space: PlateSpace | None = None,
        strength: float = 1.0,
    ) -> np.ndarray:
        """The next frame of the clip, harmonized at full resolution: the transform fitted low-res(comp) ->
        low-res(out) inside the matte, applied to the plate and composited (`apply_to_plate`)."""
        t = self.fit(comp_lo, out_lo, matte_lo)
        return apply_to_plate(t, plate, matte, space, self.config.band_pixels, strength)

    def fit(self, comp: np.ndarray, out: np.ndarray, matte: np.ndarray) -> Transform:
        """comp, out [h, w, 3] working space at model resolution; matte [h, w] soft, at the same size."""
        cfg = self.config
        if cfg.method == "upsample":
            return Transform("upsample", upsample=out.astype(np.float32))
        comp = comp.astype(np.float32)
        out = out.astype(np.float32)
        w = fit_weights(matte)  # [h, w]
        t = Transform(cfg.method)
        guide = comp
        if self._global is not None:
            sel = w > 0
            self._global.update(comp[sel], out[sel], w[sel])
            if self._global.ready:
                theta, t.gains = self._global.solve()
                if self._global.kind == "lut":
                    t.lut = _ocio_lut(theta, cfg.lut_size)
                else:
                    t.poly = (self._global.exps, theta)
                guide = t.global_map(comp)  # [h, w, 3]
        if cfg.method.endswith("affine"):
            t.coef = local_affine(guide, out - guide, w, cfg.radius, cfg.eps)
        if cfg.residual:
            t.residual = _fill_from_foreground(out - t.apply(comp), w)
        return t


def _fill_from_foreground(r: np.ndarray, w: np.ndarray, radius: int = 2) -> np.ndarray:
    """Keep the residual r [h, w, 3] where the fit trusted the pixels; elsewhere (mixed edge pixels, whose
    residual carries background colour) extend it from the trusted neighbours, so no halo bleeds into the
    foreground."""
    trusted = (w > 0).astype(np.float32)  # [h, w]
    num = _box(r * trusted[..., None], radius)
    den = _box(trusted, radius)[..., None]
    filled = np.where(den > 1e-6, num / np.maximum(den, 1e-6), 0.0)
    return np.where(trusted[..., None] > 0, r, filled).astype(np.float32)


def write_where(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> None:
    """`dst[mask] = src[mask]` for pixels dst, src [h, w, C] of one float type and a pixel mask [h, w]; dst
    may be a view.

    A bitwise select on the values' bits: exact (dst keeps its bits where mask is False, even -0.0 and NaN)
    and ~3x faster than `np.copyto(..., where=)`, whose per-element branch cannot be vectorised."""
    size = dst.dtype.itemsize
    keep = -mask.view(np.int8).astype(f"i{size}")  # [h, w]: all bits set where mask is True, else 0
    keep = np.repeat(keep[..., None], dst.shape[-1], axis=-1).view(f"u{size}")  # [h, w, C]: vectorised
    bits = src.view(f"u{size}") & keep
    target = dst.view(f"u{size}")
    target &= ~keep
    target |= bits


def composite_into(dst: np.ndarray, plate: np.ndarray, new: np.ndarray, matte: np.ndarray) -> None:
    """`dst = plate * (1 - matte) + new * matte` where matte > 0; elsewhere dst keeps its bits (even -0.0, or
    a value the transform could not represent). dst, plate, new [h, w, 3] float32 (dst may be a view), matte
    [h, w].

    `new` is overwritten (the blend runs in place in it).
    """
    m = matte[..., None]  # [h, w, 1]
    with np.errstate(invalid="ignore", over="ignore"):  # whatever sits where matte == 0 is never written
        new -= plate
        new *= m
        new += plate
    write_where(dst, new, matte > 0)


@dataclass(frozen=True)
class PlateSpace:
    """The plate's colourspace and the working space the transform was fitted in (names in an OCIO config)."""

    colorspace: str
    working: str
    config: str | None = None

    @property
    def converts(self) -> bool:
        return self.colorspace != self.working


def apply_to_plate(
    t: Transform,
    plate: np.ndarray,
    matte: np.ndarray,
    space: PlateSpace | None = None,
    band_pixels: int = TransferConfig.band_pixels,
    strength: float = 1.0,
) -> np.ndarray:
    """`plate * (1 - s matte) + t(plate) * s matte` on the first three channels of plate [H, W, C], with the
    full-resolution matte [H, W] and s = `strength`; a new array. `space` None: the plate is in the working
    space.

    Only the matte's bounding box is transformed, band by band (`band_pixels` each, one band per core), and
    only pixels where s * matte > 0 are written: the background and other channels keep their exact bits.
    """
    out = plate.copy()  # [H, W, C]; untouched outside the matte
    rows = np.flatnonzero(matte.max(axis=1) > 0)
    cols = np.flatnonzero(matte.max(axis=0) > 0)
    if rows.size == 0 or strength == 0.0:
        return out
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    band = max(1, band_pixels // (x1 - x0))
    t.prepare(plate.shape[1], x0, x1 - x0)  # shared by the bands, so built once, before they run
    converts = space is not None and space.converts

    def one_band(ya: int) -> None:  # bands write disjoint rows of `out`, so they run side by side
        yb = min(ya + band, y1)
        src = np.ascontiguousarray(plate[ya:yb, x0:x1, :3])  # [b, w', 3] plate colourspace
        # repainted pixels: OCIO's fast pow/log (3e-5) is far inside the transform's own error
        ws = (
            color.convert(src, space.colorspace, space.working, space.config, exact=False)
            if converts
            else src
        )
        new = t.apply(ws, plate.shape[:2], (ya, x0))  # [b, w', 3] working space
        if converts:
            new = color.convert(new, space.working, space.colorspace, space.config, exact=False)
        m = matte[ya:yb, x0:x1]
        # strength 1 multiplies nothing, so the full correction stays bit-exact
        composite_into(out[ya:yb, x0:x1, :3], src, new, m if strength == 1.0 else m * np.float32(strength))

    runtime.parallel_map("bands", one_band, range(y0, y1, band))
    return out
