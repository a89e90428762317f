"""`vh harmonize` never destroys a compositor's frames and fails in one line: sources are refused as outputs,
a killed run's temporaries are removed by the next run, model options are range-checked once, and an error
leaves no thread behind to abort the process. Real files, real subprocesses, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from tests.core.cli.test_harmonize import _error_line, _matte, _plate, _write_matte_seq, _write_seq
from vh.core.cli.main import main
from vh.core.io import ClipInfo, open_writer, read_image

VH = [sys.executable, "-m", "vh.core.cli.main"]


def _run(capsys, *argv) -> tuple[int, str]:
    code = main(["harmonize", *map(str, argv), "-q"])
    return code, capsys.readouterr().err


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _big_sequence(pattern: Path, n: int, nan_first: bool = False) -> str:
    rng = np.random.default_rng(0)
    like = ClipInfo.make(1920, 1080, 4, n, first=1001, pixel_type="float")
    with open_writer(pattern, like) as w:
        for i in range(n):
            f = rng.random((1080, 1920, 4), dtype=np.float32)
            f[..., 3] = 0.0
            f[300:700, 600:1200, 3] = 1.0
            if nan_first and i == 0:
                f[500, 900, 0] = np.nan
            w.write(f)
    return str(pattern)


# -- sources are protected -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "output",
    [
        "plate.####.exr",
        "plate.%04d.exr",
        "plate.#.exr",
        "matte.####.exr",
        "plate.1003.exr",
        "sub/../plate.####.exr",
    ],
)
def test_output_over_a_source_is_refused_and_nothing_changes(tmp_path, capsys, output):
    _write_seq(tmp_path / "plate.####.exr", _plate(5))
    _write_matte_seq(tmp_path / "matte.####.exr", [_matte()] * 5)
    (tmp_path / "sub").mkdir()
    before = _snapshot(tmp_path)
    code, err = _run(
        capsys, tmp_path / "plate.####.exr", "--matte", tmp_path / "matte.####.exr", "-o", tmp_path / output
    )
    assert code == 2
    line = _error_line(err)
    assert "source" in line or "single image" in line, line
    assert _snapshot(tmp_path) == before


def test_output_over_a_selected_frame_of_the_source_is_refused(tmp_path, capsys):
    plate = _write_seq(tmp_path / "plate.####.exr", _plate(5, alpha=True))
    os.link(tmp_path / "plate.1002.exr", tmp_path / "linked.1002.exr")  # the same file under another name
    before = _snapshot(tmp_path)
    code, err = _run(capsys, plate, "--frames", "1002-1003", "-o", tmp_path / "linked.####.exr")
    assert code == 2 and "would overwrite plate.1002.exr of the source" in _error_line(err)
    assert _snapshot(tmp_path) == before


@pytest.mark.parametrize("name", ["shot.mp4", "still.png"])
def test_video_and_image_outputs_equal_to_the_input_are_refused(tmp_path, capsys, name):
    frames = _plate(3 if name.endswith(".mp4") else 1, alpha=True)
    like = ClipInfo.make(
        64, 48, 4, len(frames), fps=24, pixel_type="uint8", kind="video" if name.endswith(".mp4") else "image"
    )
    with open_writer(tmp_path / name, like) as w:
        for f in frames:
            w.write(np.clip(f, 0, 1))
    _write_matte_seq(tmp_path / "m.####.exr", [_matte()] * len(frames))
    matte = tmp_path / ("m.####.exr" if name.endswith(".mp4") else "m.1001.exr")
    before = _snapshot(tmp_path)
    code, err = _run(capsys, tmp_path / name, "--matte", matte, "-o", tmp_path / name)
    assert code == 2 and "source" in _error_line(err)
    code, err = _run(capsys, tmp_path / name, "--matte", matte, "-o", matte)
    assert code == 2 and "source" in _error_line(err)
    assert _snapshot(tmp_path) == before


# -- a killed run's temporaries ------------------------------------------------------------------------------


def _harmonizing_into(tmp_path) -> tuple[subprocess.Popen, Path]:
    """A `vh harmonize` child on a large plate, returned once its first temporary output exists, and the
    output folder."""
    plate = _big_sequence(tmp_path / "plate.####.exr", 10)
    out = tmp_path / "out"
    out.mkdir()
    child = subprocess.Popen(
        [*VH, "harmonize", plate, "-o", str(out / "o.####.exr"), "-q", "--model", "cut"],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".") for p in out.iterdir()):
        assert child.poll() is None and time.monotonic() < deadline, "the run ended before writing a frame"
        time.sleep(0.02)
    return child, out


def test_temporaries_of_a_killed_run_are_removed_by_the_next_run(tmp_path, capsys):
    child, out = _harmonizing_into(tmp_path)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = [p for p in out.iterdir() if p.name.startswith(".")]
    assert left and all(".vh-" in p.name for p in left)
    # an unrelated file that merely looks similar is not ours to remove
    (out / ".other.0001.exr.vh-1-abcd").write_bytes(b"x")
    small = _write_seq(tmp_path / "small.####.exr", _plate(2, alpha=True))
    code, err = _run(capsys, small, "-o", out / "o.####.exr", "--model", "cut")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == [".other.0001.exr.vh-1-abcd", "o.1001.exr", "o.1002.exr"]


def test_sigterm_unwinds_like_ctrl_c_and_leaves_no_temporaries(tmp_path):
    child, out = _harmonizing_into(tmp_path)
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signal.SIGTERM
    assert err.strip().splitlines()[-1] == "vh: terminated" and "Traceback" not in err
    assert list(out.iterdir()) == []  # nothing half-written is left for the next run to clean


# -- clean exits ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("runs", [5, pytest.param(20, marks=pytest.mark.slow)])
def test_nan_in_the_first_frame_exits_2_every_time(tmp_path, runs):
    # 1080p frames, so the read-ahead thread is inside the EXR reader when the error is raised (before the
    # fix: "terminate called without an active exception", exit 134, in every run)
    plate = _big_sequence(tmp_path / "plate.####.exr", 4, nan_first=True)

    def once(i: int) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*VH, "harmonize", plate, "-o", str(tmp_path / f"o{i}.####.exr"), "-q"],
            capture_output=True,
            text=True,
            timeout=300,
        )

    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(once, range(runs)))
    codes = [r.returncode for r in done]
    assert codes == [2] * runs, codes
    for r in done:
        assert r.stderr.strip() == "vh: error: frame 1001: 1 NaN/Inf pixel value(s) in the plate", r.stderr


# -- one-line errors and one validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (
            ["--model", "histogram", "--option", "bins=100000000"],
            "option 'bins' of model 'histogram' is 100000000 but must be <= 4096",
        ),
        (
            ["--model", "stats", "--option", "time_constant=1e300"],
            "option 'time_constant' of model 'stats' is 1e+300 but must be <= 1000",
        ),
        (
            ["--model", "stats", "--option", "time_constnt=4"],
            "has no option 'time_constnt' (did you mean 'time_constant'?)",
        ),
        (["--threads", "100000"], "--threads must be 1.."),
        (["--strength", "1.5"], "--strength must be within 0..1"),
        (["--crf", "20"], "--crf is for video outputs"),
    ],
)
def test_bad_options_are_one_line(shot, capsys, argv, message):
    folder, plate, matte = shot
    code, err = _run(capsys, plate, "--matte", matte, "-o", folder / "out.####.exr", *argv)
    assert code == 2 and message in _error_line(err)
    assert not list(folder.glob("out*")) and not list(folder.glob(".out*"))


def test_the_server_checks_options_with_the_same_ranges():
    from vh.core.errors import InputError
    from vh.server.pool import ModelPool, ModelSpec

    pool = ModelPool([ModelSpec(name="histogram", model="histogram")], device="cpu", batch=1)
    with pytest.raises(
        InputError, match=r"^option 'bins' of model 'histogram' is 100000000 but must be <= 4096$"
    ):
        with pool.lease("histogram", {"bins": 100000000}):
            pass


@pytest.fixture
def shot(tmp_path):
    plate = _write_seq(tmp_path / "plate.####.exr", _plate(5))
    matte = _write_matte_seq(tmp_path / "matte.####.exr", [_matte()] * 5)
    return tmp_path, plate, matte


# -- strength and video flags --------------------------------------------------------------------------------


def test_strength_mixes_the_correction_locally(shot, capsys):
    folder, plate, matte = shot
    for s in ("0", "0.5", "1"):
        code, err = _run(capsys, plate, "--matte", matte, "-o", folder / f"s{s}.####.exr", "--strength", s)
        assert code == 0, err
    zero, half, full = (read_image(folder / f"s{s}.1003.exr") for s in ("0", "0.5", "1"))
    src = read_image(folder / "plate.1003.exr")
    np.testing.assert_array_equal(zero, src)
    assert np.abs(full - src).max() > 0.01  # the correction is real
    np.testing.assert_allclose(half, (src + full) / 2, atol=2e-6)


def test_video_quality_and_codec_flags(tmp_path, capsys):
    frames = _plate(4, alpha=True)
    plate = _write_seq(tmp_path / "p.####.exr", frames)
    sizes = {}
    for crf in ("0", "40"):
        code, err = _run(capsys, plate, "-o", tmp_path / f"c{crf}.mp4", "--crf", crf)
        assert code == 0, err
        sizes[crf] = (tmp_path / f"c{crf}.mp4").stat().st_size
    assert sizes["0"] > 2 * sizes["40"]
    code, err = _run(capsys, plate, "-o", tmp_path / "hq.mov", "--prores-profile", "hq")
    assert code == 0, err
    from vh.core.io import probe

    assert probe(tmp_path / "hq.mov").extra["pix_fmt"].startswith("yuv422p10")
    code, err = _run(capsys, plate, "-o", tmp_path / "pr.mp4", "--codec", "prores")
    assert code == 2 or probe(tmp_path / "pr.mp4").format == "prores"


# -- the rest of the one-line errors -------------------------------------------------------------------------


def test_demo_into_an_existing_file_is_one_line(tmp_path, capsys):
    (tmp_path / "f").write_text("keep")
    assert main(["demo", "-o", str(tmp_path / "f")]) == 2
    assert "is a file" in _error_line(capsys.readouterr().err)
    assert (tmp_path / "f").read_text() == "keep"


def test_a_folder_as_input_says_it_is_a_folder(tmp_path, capsys):
    (tmp_path / "shots").mkdir()
    code, err = _run(capsys, tmp_path / "shots", "-o", tmp_path / "o.exr")
    assert code == 2 and "is a folder; give a file, a video or a sequence pattern" in _error_line(err)


def test_an_unknown_colourspace_suggests_the_near_ones(shot, capsys):
    folder, plate, matte = shot
    code, err = _run(capsys, plate, "--matte", matte, "-o", folder / "out.####.exr", "--colorspace", "linear")
    line = _error_line(err)
    assert code == 2 and "did you mean 'Linear Rec.709 (sRGB)'" in line and "Display" not in line


def test_an_ocio_config_with_a_missing_lut_is_one_line(shot, capsys):
    import PyOpenColorIO as ocio

    folder, plate, matte = shot
    cfg = ocio.Config.CreateFromBuiltinConfig("cg-config-v2.2.0_aces-v1.3_ocio-v2.4")
    cs = ocio.ColorSpace(name="graded")
    cs.setTransform(ocio.FileTransform(src="missing_grade.cube"), ocio.COLORSPACE_DIR_TO_REFERENCE)
    cfg.addColorSpace(cs)
    cfg.setSearchPath(str(folder))
    (folder / "show.ocio").write_text(cfg.serialize())
    code, err = _run(
        capsys,
        plate,
        "--matte",
        matte,
        "-o",
        folder / "out.####.exr",
        "--ocio",
        folder / "show.ocio",
        "--colorspace",
        "graded",
    )
    assert code == 2 and "missing_grade.cube" in _error_line(err)
    assert not list(folder.glob("*out*"))
