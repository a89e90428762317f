"""`vh make-dataset` on the real data: a HYouTube-layout set the reader accepts, its size, a contact sheet."""

from __future__ import annotations

import json
import os

import cv2
import pytest

from vh.core.cli.main import main
from vh.core.io.hyoutube import HYouTube


def few_pairs(shared_data, tmp_path, n: int = 4):
    """A folder of `n` real pairs (links, not copies)."""
    src = shared_data / "train_pairs" / "weizmann_horses"
    dst = tmp_path / "pairs"
    for sub in ("images", "masks"):
        (dst / sub).mkdir(parents=True)
    for image in sorted((src / "images").iterdir())[:n]:
        os.symlink(image, dst / "images" / image.name)
        os.symlink(src / "masks" / f"{image.stem}.png", dst / "masks" / f"{image.stem}.png")
    return dst


@pytest.mark.realdata
def test_make_dataset_from_pairs_and_davis(shared_data, tmp_path, capsys):
    out, sheet = tmp_path / "set", tmp_path / "sheet.png"
    rc = main(
        [
            "make-dataset",
            str(out),
            "--pairs",
            str(few_pairs(shared_data, tmp_path)),
            "--davis",
            str(shared_data / "davis"),
            "--luts",
            str(shared_data / "luts"),
            "--clips",
            "6",
            "--frames",
            "4",
            "--size",
            "64",
            "--davis-share",
            "0.5",
            "--contact-sheet",
            str(sheet),
            "--sheet-clips",
            "3",
        ]
    )
    assert rc == 0
    assert "6 clips, 24 frames" in capsys.readouterr().out
    ds = HYouTube(out, split="train")
    assert len(ds) == 6 and all(len(c) == 4 for c in ds)
    frame = ds.read_frame(ds[0], 3)
    assert frame.comp.shape == (64, 64, 3) and frame.mask.shape == (64, 64)
    manifest = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    kinds = {m["kind"] for m in manifest}
    assert kinds == {"dancing", "video"}
    n_dancing = sum(m["kind"] == "dancing" for m in manifest)
    assert len(list((out / "flow").rglob("*.npz"))) == n_dancing  # exact flow for every dancing clip
    image = cv2.imread(str(sheet))
    assert image.shape[0] == 3 * 68 and image.shape[1] == 9 * 68  # 3 rows of 4 comp + 4 real + matte tiles


def test_make_dataset_errors_leave_nothing_behind(tmp_path, pairs_dir, capsys):
    assert main(["make-dataset", str(tmp_path / "a")]) == 2
    assert "needs at least one source" in capsys.readouterr().err
    (tmp_path / "exists").mkdir()
    assert main(["make-dataset", str(tmp_path / "exists"), "--pairs", str(pairs_dir), "--clips", "1"]) == 2
    assert "already exists" in capsys.readouterr().err
    # a LUT folder without LUTs fails before anything is written
    (tmp_path / "noluts").mkdir()
    assert (
        main(
            [
                "make-dataset",
                str(tmp_path / "b"),
                "--pairs",
                str(pairs_dir),
                "--luts",
                str(tmp_path / "noluts"),
            ]
        )
        == 2
    )
    assert "no .cube LUTs" in capsys.readouterr().err
    # a broken pair discovered mid-build removes the partial set
    (pairs_dir / "masks" / "p03.png").write_bytes(b"not a png")
    rc = main(
        [
            "make-dataset",
            str(tmp_path / "c"),
            "--pairs",
            str(pairs_dir),
            "--clips",
            "12",
            "--size",
            "32",
            "--frames",
            "2",
        ]
    )
    assert rc == 2 and "cannot read mask" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["exists", "noluts", "pairs"]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--size", "100000"], "--size is 100000 but must be <= 2048"),  # would ask for 894 GiB at once
        (["--size", "8"], "--size is 8 but must be >= 16"),
        (["--frames", "1"], "--frames is 1 but must be >= 2"),
        (["--clips", "0"], "--clips is 0 but must be >= 1"),
    ],
)
def test_make_dataset_sizes_are_checked_before_anything_is_made(tmp_path, pairs_dir, capsys, flags, message):
    assert main(["make-dataset", str(tmp_path / "out"), "--pairs", str(pairs_dir), *flags]) == 2
    err = capsys.readouterr().err
    assert f"vh: error: {message}" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_make_dataset_stopped_by_sigterm_leaves_no_partial_set(tmp_path, pairs_dir):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "set"
    argv = ["make-dataset", str(out), "--pairs", str(pairs_dir), "--clips", "100000", "--size", "16"]
    vh = [sys.executable, "-m", "vh.core.cli.main"]
    child = subprocess.Popen([*vh, *argv], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".set.partial") for p in tmp_path.iterdir()):
        assert child.poll() is None and time.monotonic() < deadline, "the build ended before it began"
        time.sleep(0.02)
    time.sleep(0.5)  # a few clips in
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 128 + signal.SIGTERM and err.strip().endswith("vh: terminated")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs"]


@pytest.mark.parametrize("where", ["pairs", ".", "pairs/new"])
def test_make_dataset_never_writes_over_or_into_a_source(tmp_path, pairs_dir, capsys, where):
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    out = tmp_path / where
    argv = ["make-dataset", str(out), "--pairs", str(pairs_dir), "--clips", "1", "--frames", "2"]
    assert main([*argv, "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert "would write over or into the source" in err and "Traceback" not in err
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before
