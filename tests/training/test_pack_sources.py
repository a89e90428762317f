"""Packing the training split for a remote machine: only `train` items leave, downscaled, ids kept."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.training.conftest import write_pairs
from vh.training.data import ClipDataset, DataConfig
from vh.training.pack_sources import main
from vh.training.splits import pair_split

IDENTITY_CUBE = "LUT_3D_SIZE 2\n" + "".join(f"{r} {g} {b}\n" for b in (0, 1) for g in (0, 1) for r in (0, 1))


def write_davis(
    root: Path, names: tuple[str, ...], frames: int = 3, size: tuple[int, int] = (240, 320)
) -> Path:
    """Sequences of smooth frames with two objects in palette annotations (ids 1 and 2)."""
    import cv2

    h, w = size
    for name in names:
        (root / "JPEGImages" / name).mkdir(parents=True)
        (root / "Annotations" / name).mkdir(parents=True)
        for i in range(frames):
            cv2.imwrite(
                str(root / "JPEGImages" / name / f"{i:05d}.jpg"), np.full((h, w, 3), 40 * i, np.uint8)
            )
            labels = np.zeros((h, w), np.uint8)
            labels[40:160, 40 + i : 140 + i] = 1
            labels[60:200, 200:300] = 2
            im = Image.fromarray(labels, mode="P")
            im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * (256 - 3) * 3)
            im.save(root / "Annotations" / name / f"{i:05d}.png")
    return root


def test_only_the_training_split_leaves_downscaled_with_masks_and_ids_intact(tmp_path, capsys):
    pairs = write_pairs(tmp_path / "pairs", n=24, size=(240, 360))
    davis = write_davis(tmp_path / "davis", ("camel", "dog", "blackswan"))
    luts = tmp_path / "luts"
    luts.mkdir()
    for n in (1, 48, 49, 55, 56, 70):
        (luts / f"{n}.cube").write_text(IDENTITY_CUBE)
    out = tmp_path / "pack"
    argv = [str(out), "--pairs", str(pairs), "--davis", str(davis), "--luts", str(luts), "--short-side", "96"]
    assert main(argv) == 0

    names = [f"p{i:02d}" for i in range(24)]
    train = sorted(n for n in names if pair_split(n) == "train")
    assert 0 < len(train) < len(names)  # some photos are held out, so the filter is exercised
    assert sorted(p.stem for p in (out / "train_pairs" / "images").iterdir()) == train
    assert sorted(p.stem for p in (out / "train_pairs" / "masks").iterdir()) == train
    image = np.asarray(Image.open(out / "train_pairs" / "images" / f"{train[0]}.jpg"))
    mask = np.asarray(Image.open(out / "train_pairs" / "masks" / f"{train[0]}.png"))
    assert image.shape[:2] == mask.shape[:2] == (96, 144)
    assert set(np.unique(mask)) == {0, 255}

    assert [p.name for p in (out / "davis" / "JPEGImages").iterdir()] == [
        "camel"
    ]  # dog is unseen, blackswan calib
    labels = Image.open(out / "davis" / "Annotations" / "camel" / "00001.png")
    assert labels.mode == "P" and labels.size == (128, 96)
    assert set(np.unique(np.asarray(labels))) == {0, 1, 2}
    assert sorted(p.name for p in (out / "luts").iterdir()) == ["1.cube", "48.cube"]
    assert f"pairs: {len(train)}" in capsys.readouterr().out

    config = DataConfig(
        sources=[
            {"kind": "pairs", "root": str(out / "train_pairs")},
            {"kind": "davis", "root": str(out / "davis")},
        ],
        frames=2,
        size=64,
        recolor=["lut"],
        luts=str(out / "luts"),
        split="train",
    )
    clip = ClipDataset(config).clip(0)  # the pack is a training source as it stands
    assert clip.comp.shape == (2, 64, 64, 3)


def test_an_existing_output_is_refused_and_left_alone(tmp_path, capsys):
    out = tmp_path / "pack"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(SystemExit) as exit_info:
        main([str(out), "--pairs", str(write_pairs(tmp_path / "pairs"))])
    assert exit_info.value.code == 2
    assert "exists; packing writes a new folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_no_source_is_an_error_and_a_failure_leaves_no_half_pack(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(tmp_path / "pack")])
    assert "nothing to pack" in capsys.readouterr().err
    pairs = write_pairs(tmp_path / "pairs", n=12)
    (pairs / "masks" / "p03.png").write_bytes(b"not a png")  # fails after some pairs were written
    (pairs / "masks" / "p11.png").write_bytes(b"not a png")
    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "pack"), "--pairs", str(pairs)])
    assert exit_info.value.code == 2 and "error:" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs"]  # neither the pack nor a partial one


def test_a_pack_inside_its_source_is_refused(tmp_path, capsys):
    pairs = write_pairs(tmp_path / "pairs")
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as exit_info:
        main([str(pairs / "pack"), "--pairs", str(pairs)])
    assert exit_info.value.code == 2
    assert "would write over or into the source" in capsys.readouterr().err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
