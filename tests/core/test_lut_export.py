"""`vh harmonize --export-cube / --export-cdl`: the shot's global transform as a LUT or CDL that OCIO loads.

Tolerances (stated in plugins/nuke/README.md too):
- The .cube, applied by OCIO (FileTransform, tetrahedral), equals the fitted transform within 3e-3 (33^3
  lattice).
- On a real clip whose foreground was recoloured by a global transform, the .cube applied to the plate
  reproduces the harmonized foreground with a mean absolute error <= 0.015, and removes at least 75% of the
  difference between plate and result (measured with the stats model and the default local transfer: 0.0086 of
  0.177, 95%; the rest is the local part of the full-resolution transfer, which no global transform can hold).
- A CDL is written only within RMS 0.01; one that fits is reproduced by OCIO within 1e-3.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import PyOpenColorIO as ocio
import pytest

from vh.core import lut_export
from vh.core.io import read_image

FRAMES = 6


def ocio_file(path: Path, rgb: np.ndarray) -> np.ndarray:
    t = ocio.FileTransform(
        src=str(path), interpolation=ocio.INTERP_TETRAHEDRAL, direction=ocio.TRANSFORM_DIR_FORWARD
    )
    cpu = ocio.Config.CreateRaw().getProcessor(t).getDefaultCPUProcessor()
    out = np.ascontiguousarray(rgb, np.float32).copy()
    cpu.applyRGB(out)
    return out


@pytest.fixture(scope="module")
def recoloured_clip(tmp_path_factory, shared_data):
    """FRAMES frames of a real DAVIS video (320x180) whose foreground was recoloured by one global
    transform."""
    import cv2

    folder = tmp_path_factory.mktemp("lut_clip")
    davis = shared_data / "davis"
    images = sorted((davis / "JPEGImages" / "dog").glob("*.jpg"))[:FRAMES]
    masks = sorted((davis / "Annotations" / "dog").glob("*.png"))[:FRAMES]
    for i, (image, mask) in enumerate(zip(images, masks), 1):
        rgb = cv2.cvtColor(cv2.imread(str(image)), cv2.COLOR_BGR2RGB).astype(np.float32) / 255
        matte = (cv2.imread(str(mask), cv2.IMREAD_GRAYSCALE) > 127).astype(np.float32)
        rgb = cv2.resize(rgb, (320, 180), interpolation=cv2.INTER_AREA)
        matte = cv2.resize(matte, (320, 180), interpolation=cv2.INTER_AREA)
        foreground = np.clip(rgb * np.array([1.25, 0.95, 0.7], np.float32), 0, 1) ** 0.85  # warm, dense cast
        comp = rgb * (1 - matte[..., None]) + foreground * matte[..., None]
        cv2.imwrite(
            str(folder / f"comp.{i:04d}.png"),
            cv2.cvtColor((comp * 65535 + 0.5).astype(np.uint16), cv2.COLOR_RGB2BGR),
        )
        cv2.imwrite(str(folder / f"mask.{i:04d}.png"), (matte * 65535 + 0.5).astype(np.uint16))
    return folder


@pytest.mark.realdata
def test_exported_cube_applied_by_ocio_reproduces_the_harmonized_foreground(
    recoloured_clip, tmp_path, caplog
):
    from vh.core.cli.main import main

    cube, cdl = tmp_path / "shot.cube", tmp_path / "shot.cc"
    with caplog.at_level(logging.INFO):
        assert (
            main(
                [
                    "harmonize",
                    str(recoloured_clip / "comp.%04d.png"),
                    "--matte",
                    str(recoloured_clip / "mask.%04d.png"),
                    "--model",
                    "stats",
                    "-q",
                    "-o",
                    str(tmp_path / "out.%04d.png"),
                    "--export-cube",
                    str(cube),
                    "--export-cdl",
                    str(cdl),
                ]
            )
            == 0
        )
    assert cube.is_file()
    errors, changes = [], []
    for i in range(1, FRAMES + 1):
        comp = read_image(recoloured_clip / f"comp.{i:04d}.png")[..., :3]
        out = read_image(tmp_path / f"out.{i:04d}.png")[..., :3]
        fg = read_image(recoloured_clip / f"mask.{i:04d}.png")[..., 0] > 0.5
        via_lut = ocio_file(cube, comp[fg])
        errors.append(np.abs(via_lut - out[fg]).mean())
        changes.append(np.abs(comp[fg] - out[fg]).mean())
    error, change = float(np.mean(errors)), float(np.mean(changes))
    print(
        f"cube vs vh harmonize on the foreground: mean abs {error:.4f} (the harmonization moved it "
        f"{change:.4f})"
    )
    assert change > 0.05, "the harmonizer should have repainted the recoloured foreground"
    assert error <= 0.015
    assert error <= 0.25 * change
    # This clip's harmonization is not a CDL within tolerance: nothing is written, and the log says so.
    assert not cdl.exists()
    assert any("no ASC CDL written" in r.getMessage() for r in caplog.records)


def test_cube_loads_in_ocio_and_matches_the_fit_with_hdr_values(tmp_path):
    # A scene-linear transform with values up to 4.0: DOMAIN_MIN/MAX carry the range.
    rng = np.random.default_rng(1)
    x = rng.uniform(0.0, 4.0, (20000, 3))
    y = 0.8 * x + 0.05 * x[:, [1, 2, 0]] + 0.02 * x * x
    transform = lut_export.fit(x, y, np.full(len(x), 1.0 / len(x)))
    assert np.abs(transform(x) - y).max() < 1e-3  # within the model's reach (up to the small ridge)
    path = tmp_path / "hdr.cube"
    lut_export.write_cube(path, transform)
    text = path.read_text().splitlines()
    assert (
        text[1] == "LUT_3D_SIZE 33" and text[3].startswith("DOMAIN_MAX") and float(text[3].split()[1]) > 3.9
    )
    probe = rng.uniform(0.0, 3.9, (5000, 3))
    np.testing.assert_allclose(ocio_file(path, probe), transform(probe), atol=3e-3, rtol=1e-3)


def test_cdl_written_only_when_it_fits_and_ocio_reproduces_it(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.uniform(0.02, 0.95, (20000, 3))
    w = np.full(len(x), 1.0 / len(x))
    truth = lut_export.Cdl((1.1, 0.9, 0.8), (0.02, 0.0, -0.01), (1.2, 0.9, 1.0))
    y = lut_export._apply_cdl_ocio(truth, x)
    fitted = lut_export.fit_cdl(x, y, w)
    assert fitted.rms < 1e-3, fitted
    path = tmp_path / "shot.cc"
    lut_export.write_cc(path, fitted)
    np.testing.assert_allclose(ocio_file(path, x), y, atol=2e-3)
    # A transform no CDL can make (a channel cross-talk) stays above the tolerance: the CLI then writes
    # nothing.
    crossed = y.copy()
    crossed[:, 0] = 0.5 * y[:, 0] + 0.5 * x[:, 2]
    assert lut_export.fit_cdl(x, crossed, w).rms > lut_export.CDL_TOLERANCE
