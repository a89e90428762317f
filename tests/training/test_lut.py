"""LUTs through OCIO agree with an independent trilinear lookup; latin-1 comments are tolerated."""

from __future__ import annotations

import numpy as np
import pytest

from vh.core.errors import InputError
from vh.training.lut import apply_lut, sanitized_cube


def parse_cube(path) -> tuple[np.ndarray, float, float]:
    """The .cube table as [B, G, R, 3] (red varies fastest in the file) with its domain."""
    size, lo, hi, rows = None, 0.0, 1.0, []
    for line in path.read_text(encoding="latin-1").splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("TITLE"):
            continue
        key = line.split()[0]
        if key == "LUT_3D_SIZE":
            size = int(line.split()[1])
        elif key == "DOMAIN_MIN":
            lo = float(line.split()[1])
        elif key == "DOMAIN_MAX":
            hi = float(line.split()[1])
        elif key[0].isdigit() or key[0] in "-.":
            rows.append([float(v) for v in line.split()])
    return np.array(rows, np.float64).reshape(size, size, size, 3), lo, hi


def trilinear(table: np.ndarray, rgb: np.ndarray, lo: float, hi: float) -> np.ndarray:
    n = table.shape[0]
    x = np.clip((rgb.reshape(-1, 3).astype(np.float64) - lo) / (hi - lo), 0, 1) * (n - 1)
    i0 = np.minimum(np.floor(x).astype(int), n - 2)
    f = x - i0
    out = np.zeros_like(x)
    for dr in (0, 1):
        for dg in (0, 1):
            for db in (0, 1):
                w = (
                    (f[:, 0] if dr else 1 - f[:, 0])
                    * (f[:, 1] if dg else 1 - f[:, 1])
                    * (f[:, 2] if db else 1 - f[:, 2])
                )
                out += w[:, None] * table[i0[:, 2] + db, i0[:, 1] + dg, i0[:, 0] + dr]
    return out.reshape(rgb.shape)


def write_cube(path, size: int, fn, comment: bytes = b"") -> None:
    g = np.linspace(0, 1, size)
    lines = [b"# " + comment, b'TITLE "test"', f"LUT_3D_SIZE {size}".encode()]
    for b in g:
        for gg in g:
            for r in g:
                lines.append(" ".join(f"{v:.6f}" for v in fn(r, gg, b)).encode())
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_ocio_matches_trilinear_on_a_synthetic_cube(tmp_path):
    path = tmp_path / "warm.cube"
    # a non-linear, channel-mixing table, with a latin-1 byte in the comment
    write_cube(path, 9, lambda r, g, b: (r**0.8, 0.7 * g + 0.3 * r * b, b**1.5), comment=b"\xa9 Caf\xe9")
    image = np.random.default_rng(0).uniform(0, 1, (32, 40, 3)).astype(np.float32)
    table, lo, hi = parse_cube(path)
    assert np.abs(apply_lut(image, path) - trilinear(table, image, lo, hi)).max() < 1e-4


@pytest.mark.realdata
def test_ocio_matches_trilinear_on_real_luts(shared_data):
    image = np.random.default_rng(1).uniform(0, 1, (48, 64, 3)).astype(np.float32)
    image[0, :8] = [
        [0, 0, 0],
        [1, 1, 1],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [0.5, 0.5, 0.5],
        [1, 1, 0],
        [0, 1, 1],
    ]
    for name in ("1.cube", "10.cube", "47.cube"):  # size 16; negative values; latin-1 comment bytes
        path = shared_data / "luts" / name
        table, lo, hi = parse_cube(path)
        out = apply_lut(image, path)
        assert np.abs(out - trilinear(table, image, lo, hi)).max() < 1e-4, name
        assert np.abs(out - image).mean() > 0.01  # it really recolours


def test_sanitised_copy_is_ascii_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("VH_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "x.cube"
    write_cube(path, 2, lambda r, g, b: (r, g, b), comment=b"\xe9\xe8")
    clean = sanitized_cube(path)
    assert clean.read_bytes().isascii() and sanitized_cube(path) == clean
    bad = tmp_path / "bad.cube"
    bad.write_text("0 0 0\n")
    with pytest.raises(InputError, match="not a 3D .cube LUT"):
        apply_lut(np.zeros((2, 2, 3), np.float32), bad)
    with pytest.raises(InputError, match="cannot read LUT"):
        apply_lut(np.zeros((2, 2, 3), np.float32), tmp_path / "missing.cube")
