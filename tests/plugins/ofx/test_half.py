"""The plugin's float16 conversions (src/half.h) against numpy's, bit for bit: every half value decoded, and
float32 values around every rounding boundary, subnormals, overflow, infinities and NaN encoded."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest


@pytest.fixture(scope="module")
def half_check(ofx_bundle):
    tool = ofx_bundle.parent / "vh_ofx_half_check"
    if not tool.is_file():
        pytest.fail(f"the build did not produce {tool}")
    return lambda mode, data: (
        subprocess.run([str(tool), mode], input=data, capture_output=True, check=True).stdout
    )


def test_every_half_decodes_like_numpy(half_check):
    halves = np.arange(65536, dtype=np.uint16)
    got = np.frombuffer(half_check("decode", halves.tobytes()), np.float32)
    want = halves.view(np.float16).astype(np.float32)
    nan = np.isnan(want)
    np.testing.assert_array_equal(np.isnan(got), nan)
    np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))  # signed zeros too


def test_floats_encode_like_numpy_including_ties_subnormals_and_overflow(half_check):
    halves = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32)
    finite = halves[np.isfinite(halves)]
    # Each half, its neighbours in float32, and the exact midpoints to the next half (ties to even).
    above = np.nextafter(finite, np.float32(np.inf))
    below = np.nextafter(finite, np.float32(-np.inf))
    ordered = np.sort(finite)
    mids = ((ordered[:-1].astype(np.float64) + ordered[1:]) / 2).astype(np.float32)
    rng = np.random.default_rng(0)
    random = rng.standard_normal(100_000).astype(np.float32) * np.float32(10.0) ** rng.integers(
        -9, 6, 100_000
    )
    special = np.float32(
        [
            0.0,
            -0.0,
            65504,
            65519.99,
            65520,
            65536,
            1e30,
            -1e30,
            np.inf,
            -np.inf,
            2**-24,
            2**-25,
            3 * 2**-26,
            2**-26,
            1e-30,
        ]
    )
    values = np.concatenate(
        [
            finite,
            above,
            below,
            mids,
            np.nextafter(mids, np.float32(np.inf)),
            np.nextafter(mids, np.float32(-np.inf)),
            random,
            special,
        ]
    ).astype(np.float32)
    got = np.frombuffer(half_check("encode", values.tobytes()), np.uint16)
    with np.errstate(over="ignore"):
        want = values.astype(np.float16).view(np.uint16)
    np.testing.assert_array_equal(got, want)
    nan = np.frombuffer(half_check("encode", np.float32([np.nan]).tobytes()), np.uint16).view(np.float16)
    assert np.isnan(nan).all()
