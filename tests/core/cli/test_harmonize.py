"""`vh harmonize` end to end on small files: formats, mattes, and every bad input as a one-line error."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from vh.core.cli.main import main
from vh.core.io import ClipInfo, open_writer, probe, read_frames

H, W = 48, 64


def _plate(n: int, seed: int = 0, alpha: bool = False) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    small = rng.random((3, 3, 3)).astype(np.float32)
    base = 0.05 + 1.5 * cv2.resize(small, (W, H), interpolation=cv2.INTER_CUBIC).clip(
        0, 1
    )  # scene-linear, > 1
    frames = []
    for i in range(n):
        f = np.roll(base, i, axis=1).astype(np.float32)
        if alpha:
            a = np.zeros((H, W, 1), np.float32)
            a[10:38, 16:48] = 1.0
            f = np.concatenate([f, a], -1)
        frames.append(f)
    return frames


def _matte() -> np.ndarray:
    m = np.zeros((H, W), np.float32)
    m[10:38, 16:48] = 1.0
    m[9, 16:48] = 0.5
    return m


def _write_seq(pattern: Path, frames: list[np.ndarray], pixel_type: str = "float") -> str:
    like = ClipInfo.make(
        W if frames[0].ndim else 0,
        H,
        channels=frames[0].shape[2],
        n_frames=len(frames),
        first=1001,
        pixel_type=pixel_type,
    )
    with open_writer(str(pattern), like) as w:
        for f in frames:
            w.write(f)
    return str(pattern)


def _write_matte_seq(pattern: Path, mattes: list[np.ndarray]) -> str:
    return _write_seq(pattern, [np.repeat(m[..., None], 3, axis=2) for m in mattes], pixel_type="half")


@pytest.fixture
def shot(tmp_path):
    plate = _write_seq(tmp_path / "plate.####.exr", _plate(5))
    matte = _write_matte_seq(tmp_path / "matte.####.exr", [_matte()] * 5)
    return tmp_path, plate, matte


def _run(capsys, *argv) -> tuple[int, str]:
    code = main(["harmonize", *map(str, argv), "-q"])
    return code, capsys.readouterr().err


def _error_line(err: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("vh: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _outputs(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("out"))


def test_exr_in_exr_out_keeps_background_bits(shot, capsys):
    folder, plate, matte = shot
    code, err = _run(capsys, plate, "--matte", matte, "-o", folder / "out.####.exr")
    assert code == 0, err
    info = probe(str(folder / "out.####.exr"))
    assert info.frames == tuple(range(1001, 1006)) and info.pixel_type == "float"
    m = _matte()
    for src, out in zip(read_frames(plate), read_frames(info)):
        assert np.array_equal(out[m == 0].view(np.uint32), src[m == 0].view(np.uint32))
        assert np.isfinite(out).all() and not np.array_equal(out, src)


def test_alpha_is_the_default_matte_and_passes_through(tmp_path, capsys):
    plate = _write_seq(tmp_path / "plate.####.exr", _plate(3, alpha=True))
    code, err = _run(capsys, plate, "-o", tmp_path / "out.####.exr", "--model", "stats")
    assert code == 0, err
    for src, out in zip(read_frames(plate), read_frames(str(tmp_path / "out.####.exr"))):
        assert out.shape == src.shape
        np.testing.assert_array_equal(out[..., 3], src[..., 3])


def test_mp4_in_mp4_out(tmp_path, capsys):
    frames = [np.clip(f / 1.6, 0, 1) for f in _plate(6)]
    like = ClipInfo.make(W, H, channels=3, n_frames=6, fps=24, pixel_type="uint8", kind="video")
    with open_writer(str(tmp_path / "comp.mp4"), like) as w:
        for f in frames:
            w.write(f)
    mask_png = tmp_path / "matte.png"
    cv2.imwrite(str(mask_png), (_matte() * 255).astype(np.uint8))
    code, err = _run(capsys, tmp_path / "comp.mp4", "--matte", mask_png, "-o", tmp_path / "out.mp4")
    assert code == 0, err
    info = probe(str(tmp_path / "out.mp4"))
    assert info.kind == "video" and info.n_frames == 6 and (info.width, info.height) == (W, H)


def test_frame_range(shot, capsys):
    folder, plate, matte = shot
    code, err = _run(capsys, plate, "--matte", matte, "--frames", "1002-1003", "-o", folder / "out.####.exr")
    assert code == 0, err
    assert probe(str(folder / "out.####.exr")).frames == (1002, 1003)


def test_one_frame_clip(tmp_path, capsys):
    plate = _write_seq(tmp_path / "plate.####.exr", _plate(1))
    matte = _write_matte_seq(tmp_path / "matte.####.exr", [_matte()])
    code, err = _run(capsys, plate, "--matte", matte, "-o", tmp_path / "out.####.exr")
    assert code == 0, err
    assert probe(str(tmp_path / "out.####.exr")).n_frames == 1


def test_empty_matte_warns_and_returns_the_input(tmp_path, capsys, caplog):
    plate = _write_seq(tmp_path / "plate.####.exr", _plate(3))
    matte = _write_matte_seq(tmp_path / "matte.####.exr", [np.zeros((H, W), np.float32)] * 3)
    code, err = _run(capsys, plate, "--matte", matte, "-o", tmp_path / "out.####.exr")
    assert code == 0, err
    assert "empty" in caplog.text
    for src, out in zip(read_frames(plate), read_frames(str(tmp_path / "out.####.exr"))):
        assert np.array_equal(out, src)


def test_full_matte_works(tmp_path, capsys):
    plate = _write_seq(tmp_path / "plate.####.exr", _plate(2))
    matte = _write_matte_seq(tmp_path / "matte.####.exr", [np.ones((H, W), np.float32)] * 2)
    code, err = _run(capsys, plate, "--matte", matte, "-o", tmp_path / "out.####.exr")
    assert code == 0, err
    for out in read_frames(str(tmp_path / "out.####.exr")):
        assert np.isfinite(out).all()


# -- bad inputs: one line, exit 2, no output left behind -----------------------------------------------------


def test_matte_size_mismatch(shot, capsys):
    folder, plate, _ = shot
    small = folder / "small.png"
    cv2.imwrite(str(small), np.zeros((10, 20), np.uint8))
    code, err = _run(capsys, plate, "--matte", small, "-o", folder / "out.####.exr")
    assert code == 2
    line = _error_line(err)
    assert "20x10" in line and "64x48" in line
    assert _outputs(folder) == []


def test_missing_frame(shot, capsys):
    folder, plate, matte = shot
    os.remove(folder / "plate.1003.exr")
    code, err = _run(capsys, plate, "--matte", matte, "-o", folder / "out.####.exr")
    assert code == 2 and "1003" in _error_line(err)
    assert _outputs(folder) == []


def test_corrupt_file(shot, capsys):
    folder, plate, matte = shot
    (folder / "plate.1004.exr").write_bytes(b"not an exr at all" * 10)
    code, err = _run(capsys, plate, "--matte", matte, "-o", folder / "out.####.exr")
    assert code == 2 and "1004" in _error_line(err)
    assert _outputs(folder) == []  # frames 1001-1003 were processed, but nothing is published


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nan_inf_pixels(tmp_path, capsys, bad):
    frames = _plate(3)
    frames[1][5, 5:9, 1] = bad
    plate = _write_seq(tmp_path / "plate.####.exr", frames)
    matte = _write_matte_seq(tmp_path / "matte.####.exr", [_matte()] * 3)
    code, err = _run(capsys, plate, "--matte", matte, "-o", tmp_path / "out.####.exr")
    line = _error_line(err)
    assert code == 2 and "frame 1002" in line and "4 NaN/Inf" in line
    assert _outputs(tmp_path) == []


def test_unwritable_output_fails_before_any_work(shot, capsys, monkeypatch):
    folder, plate, matte = shot
    import vh.core.engine

    def boom(*a, **k):  # the model must never be built
        raise AssertionError("engine built before the output was checked")

    monkeypatch.setattr(vh.core.engine, "Engine", boom)
    code, err = _run(capsys, plate, "--matte", matte, "-o", folder / "no" / "such" / "dir" / "out.####.exr")
    assert code == 2 and "no" in _error_line(err)


def test_auto_matte_needs_a_capable_model(shot, capsys):
    folder, plate, _ = shot
    code, err = _run(capsys, plate, "--matte", "auto", "--model", "stats", "-o", folder / "out.####.exr")
    assert code == 2 and "auto" in _error_line(err)
    assert _outputs(folder) == []


def test_unknown_model(shot, capsys):
    folder, plate, matte = shot
    code, err = _run(capsys, plate, "--matte", matte, "--model", "nope", "-o", folder / "out.####.exr")
    assert code == 2 and "unknown model" in _error_line(err)


def test_exr_in_mp4_out_is_encoded_for_display(tmp_path, capsys):
    plate = _write_seq(tmp_path / "plate.####.exr", _plate(3))
    matte = _write_matte_seq(tmp_path / "matte.####.exr", [_matte()] * 3)
    code, err = _run(capsys, plate, "--matte", matte, "-o", tmp_path / "out.mp4")
    assert code == 0, err
    src = next(read_frames(plate))
    out = next(read_frames(str(tmp_path / "out.mp4")))
    from vh.core import color

    # an EXR without chromaticities holds Rec.709 linear values (the OpenEXR default)
    expected = np.clip(color.convert(src, "Linear Rec.709 (sRGB)", color.working_space()), 0, 1)  # [H, W, 3]
    bg = _matte() == 0
    assert np.abs(out - expected)[bg].mean() < 0.03  # background: the plate, encoded for display (H.264 loss)
    assert np.abs(out - np.clip(src, 0, 1))[bg].mean() > 0.05  # not the linear values copied as they are


def test_threads_must_be_positive_and_are_restored(shot, capsys):
    import torch

    folder, plate, matte = shot
    code, err = _run(capsys, plate, "--matte", matte, "--threads", "0", "-o", folder / "out.####.exr")
    assert code == 2 and "--threads" in _error_line(err)
    before = torch.get_num_threads()
    code, err = _run(capsys, plate, "--matte", matte, "--threads", "1", "-o", folder / "out.####.exr")
    assert code == 0, err
    assert torch.get_num_threads() == before  # the setting is process-wide; the command leaves it as it was


@pytest.mark.parametrize("model", ["vhmae_base", "vhmae_tiny", "huang_tiny"])
def test_learned_model_without_weights_is_refused(shot, capsys, model):
    folder, plate, matte = shot
    code, err = _run(capsys, plate, "--matte", matte, "-o", folder / "out.####.exr", "--model", model)
    assert code == 2
    assert f"model '{model}' needs learned weights" in _error_line(err)
    assert _outputs(folder) == []


def test_shipped_vhmae_runs_without_a_checkpoint(shot, capsys):
    folder, plate, matte = shot
    code, err = _run(capsys, plate, "--matte", matte, "-o", folder / "out.####.exr", "--model", "vhmae")
    assert code == 0, err
    m = _matte()
    for src, out in zip(read_frames(plate), read_frames(str(folder / "out.####.exr"))):
        assert np.array_equal(out[m == 0].view(np.uint32), src[m == 0].view(np.uint32))
        assert np.isfinite(out).all() and not np.array_equal(out[m == 1], src[m == 1])


@pytest.mark.parametrize("checkpoint", ["", ".", "FOLDER"])
def test_checkpoint_that_names_no_file_is_one_line(shot, capsys, checkpoint):
    folder, plate, matte = shot
    checkpoint = str(folder) if checkpoint == "FOLDER" else checkpoint
    code, err = _run(
        capsys, plate, "--matte", matte, "-o", folder / "out.####.exr", "--checkpoint", checkpoint
    )
    assert code == 2 and "is a folder or empty; name the checkpoint itself" in _error_line(err)
    assert _outputs(folder) == []
