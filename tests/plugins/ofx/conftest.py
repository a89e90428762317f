"""Fixtures for the OFX bridge tests: the plugin built once per session with CMake, small EXR plates."""

from __future__ import annotations

import pytest

from tests.plugins.ofx.harness import REPO, ofx_build


@pytest.fixture(scope="session")
def ofx_bundle():
    """The VHMAEHarmonize.ofx.bundle, built (incrementally) into build/ofx; skips when the toolchain is
    absent."""
    try:
        return ofx_build.build_bundle(REPO / "build" / "ofx")
    except ofx_build.BuildUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def small_plate(tmp_path_factory):
    """12 frames (1..12) of a 96x160 scene-linear RGBA plate (alpha = matte) and its separate matte, as
    EXR."""
    from tests.plugins.conftest import make_plate

    folder = tmp_path_factory.mktemp("ofx_plate")
    plate, matte = make_plate(folder, frames=12, height=96, width=160, first=1)
    return plate, matte


@pytest.fixture(scope="session")
def melt():
    """MLT's melt with its OpenFX host module, built once from ../shared/third_party/mlt-src.tar.gz into
    build/melt; skips (with the reason) when the archive, the toolchain or the FFmpeg/GLib packages are
    absent."""
    from tests.plugins.ofx.harness import melt_build

    try:
        return melt_build.build_melt(REPO / "build" / "melt")
    except melt_build.MeltUnavailable as exc:
        pytest.skip(str(exc))
