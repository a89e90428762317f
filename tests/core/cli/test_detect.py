"""`vh detect` end to end: a tiny Huang checkpoint, real files in, a matte file out."""

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from vh.core.auto_matte import AutoMatte, AutoMatteConfig
from vh.core.checkpoint import save_checkpoint
from vh.core.cli.main import main
from vh.core.io import ClipInfo, open_writer, probe, read_frames
from vh.core.models import create_model

SIZE = (
    32  # the tiny model's working size: inputs this size are not resized, so outputs can be checked exactly
)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    model = create_model("huang_tiny", input_size=SIZE, base_channels=4, max_channels=16, depth=3).eval()
    with (
        torch.no_grad()
    ):  # both heads start at 0 (identity G, all-0 D); give them weights, D's map around 0.5
        torch.nn.init.normal_(model.generator.unet.head.weight, std=0.5)
        torch.nn.init.normal_(model.discriminator.head.weight, std=0.5)
        model.discriminator.head.bias.fill_(0.5)
    path = tmp_path_factory.mktemp("ckpt") / "huang_tiny"
    save_checkpoint(path, model, "huang_tiny", step=0)
    return path, model


def _frames(n: int, h: int, w: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        frame = np.tile(np.linspace(0.1, 0.9, w, dtype=np.float32)[None, :, None], (h, 1, 3))
        frame[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] *= rng.uniform(0.5, 1.5, 3).astype(
            np.float32
        )  # pasted
        out.append(np.clip(frame, 0, 1))
    return out


def _write(path: Path, frames: list[np.ndarray], **opts) -> None:
    h, w, c = frames[0].shape
    like = ClipInfo.make(w, h, c, len(frames), pixel_type="uint8", fps=24)
    with open_writer(path, like, **opts) as writer:
        for f in frames:
            writer.write(f)


def test_png_sequence_to_single_channel_exr_matches_the_discriminator(tmp_path, checkpoint):
    ckpt, model = checkpoint
    frames = _frames(3, SIZE, SIZE)
    _write(tmp_path / "comp.####.png", frames)
    assert (
        main(
            [
                "detect",
                str(tmp_path / "comp.####.png"),
                "-o",
                str(tmp_path / "matte.####.exr"),
                "--checkpoint",
                str(ckpt),
                "--batch",
                "2",
            ]
        )
        == 0
    )
    info = probe(tmp_path / "matte.####.exr")
    assert info.n_frames == 3 and info.channels == 1 and (info.width, info.height) == (SIZE, SIZE)
    written = np.stack([f[..., 0] for f in read_frames(info)])  # [T, H, W]
    # the PNG holds 8-bit values: feed exactly those to D
    comp = torch.from_numpy(np.stack([f for f in read_frames(tmp_path / "comp.####.png")])).permute(
        0, 3, 1, 2
    )
    with torch.no_grad():
        soft = model.detect(comp[:, None])[:, 0, 0].numpy()  # [T, H, W]
    clean = AutoMatte(AutoMatteConfig(threshold=model.matte_threshold))
    expected = np.stack([clean(m) for m in soft])  # D's maps as the engine cleans them, in frame order
    assert np.abs(written - expected).max() < 1e-3  # EXR half precision
    assert 0.0 <= written.min() and written.max() <= 1.0 and written.std() > 0


def test_resizes_to_the_working_size_and_back_and_thresholds(tmp_path, checkpoint):
    ckpt, _ = checkpoint
    _write(tmp_path / "comp.####.png", _frames(2, 45, 70))
    assert (
        main(
            [
                "detect",
                str(tmp_path / "comp.####.png"),
                "-o",
                str(tmp_path / "m.####.png"),
                "--checkpoint",
                str(ckpt),
                "--threshold",
                "0.5",
            ]
        )
        == 0
    )
    info = probe(tmp_path / "m.####.png")
    assert (info.width, info.height, info.n_frames) == (70, 45, 2)
    values = np.unique(np.concatenate([f.ravel() for f in read_frames(info)]))
    assert set(values.tolist()) <= {0.0, 1.0}


def test_video_in_video_out(tmp_path, checkpoint):
    ckpt, _ = checkpoint
    _write(tmp_path / "comp.mp4", _frames(4, SIZE, 48))
    assert (
        main(
            [
                "detect",
                str(tmp_path / "comp.mp4"),
                "-o",
                str(tmp_path / "matte.mp4"),
                "--checkpoint",
                str(ckpt),
                "--frames",
                "1-2",
            ]
        )
        == 0
    )
    info = probe(tmp_path / "matte.mp4")
    assert info.n_frames == 2 and (info.width, info.height) == (48, SIZE)
    grey = next(iter(read_frames(info)))
    assert np.abs(grey[..., 0] - grey[..., 1]).max() < 0.05  # a luma matte: R = G = B up to yuv420 rounding


@pytest.mark.parametrize(
    "extra,message",
    [
        (["--checkpoint", "CKPT", "--threshold", "1.5"], "--threshold"),
        (["--checkpoint", "CKPT", "-o", "OUT/single.png"], "single image"),
        (["--checkpoint", "missing"], "checkpoint not found"),
        (["--checkpoint", "CKPT", "-o", "IN/comp.%04d.png"], "same sequence as the source"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(tmp_path, checkpoint, capsys, extra, message):
    ckpt, _ = checkpoint
    _write(tmp_path / "comp.####.png", _frames(2, SIZE, SIZE))
    out = tmp_path / "out"
    out.mkdir()
    args = [
        "detect",
        str(tmp_path / "comp.####.png"),
        "-o",
        str(out / "m.####.exr"),
        *[a.replace("CKPT", str(ckpt)).replace("OUT", str(out)).replace("IN", str(tmp_path)) for a in extra],
    ]
    if "-o" in extra:
        args = args[:2] + args[4:]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vh: error:") and message in err and "\n" not in err
    assert list(out.iterdir()) == []


def test_a_model_without_a_detector_is_refused(tmp_path, capsys):
    from vh.core.models import list_models

    if "stats" not in list_models():
        pytest.skip("the classical models are not built in this checkout")
    stats = create_model("stats")
    save_checkpoint(tmp_path / "stats", stats, "stats", step=0)
    _write(tmp_path / "comp.####.png", _frames(1, SIZE, SIZE))
    assert (
        main(
            [
                "detect",
                str(tmp_path / "comp.####.png"),
                "-o",
                str(tmp_path / "m.####.exr"),
                "--checkpoint",
                str(tmp_path / "stats"),
            ]
        )
        == 2
    )
    assert "cannot predict a matte" in capsys.readouterr().err


def test_harmonize_with_an_auto_matte_repaints_only_where_detect_sees_disharmony(tmp_path, checkpoint):
    # `vh harmonize --matte auto` and `vh detect` share the engine's resizing: where the detected matte is 0
    # the harmonized frame must equal the input, and somewhere inside it the model must have repainted.
    # Random weights repaint in an arbitrary direction, which the guard's direction check may rightly stop:
    # these weights carry it off, as this is about where the repaint lands (test_guard.py covers the check).
    undirected = copy.deepcopy(checkpoint[1])
    undirected.config.guard_direction = -1.0
    ckpt = save_checkpoint(tmp_path / "undirected", undirected, "huang_tiny", step=0).with_suffix("")
    _write(tmp_path / "comp.####.png", _frames(2, 45, 70))
    comp = tmp_path / "comp.####.png"
    assert main(["detect", str(comp), "-o", str(tmp_path / "matte.####.exr"), "--checkpoint", str(ckpt)]) == 0
    # PNG out: same colourspace as the PNG in (an EXR output would be written scene-linear)
    assert (
        main(
            [
                "harmonize",
                str(comp),
                "--matte",
                "auto",
                "-o",
                str(tmp_path / "out.####.png"),
                "--checkpoint",
                str(ckpt),
                "-q",
            ]
        )
        == 0
    )
    mattes = [f[..., 0] for f in read_frames(tmp_path / "matte.####.exr")]
    outs = list(read_frames(tmp_path / "out.####.png"))
    ins = list(read_frames(comp))
    assert len(outs) == 2
    for m, o, i in zip(mattes, outs, ins):
        keep = m == 0
        assert keep.any() and (~keep).any()
        assert np.abs(o[keep] - i[keep]).max() < 1e-4  # 8-bit in, 16-bit PNG out: the same value
        assert np.abs(o[~keep] - i[~keep]).max() > 0.01


def test_without_a_checkpoint_the_shipped_huang_finds_the_matte(tmp_path):
    _write(tmp_path / "comp.####.png", _frames(2, 45, 70))
    assert main(["detect", str(tmp_path / "comp.####.png"), "-o", str(tmp_path / "m.####.exr")]) == 0
    info = probe(tmp_path / "m.####.exr")
    assert (info.width, info.height, info.n_frames, info.channels) == (70, 45, 2, 1)
    values = np.concatenate([f.ravel() for f in read_frames(info)])
    assert 0.0 <= values.min() and values.max() <= 1.0
