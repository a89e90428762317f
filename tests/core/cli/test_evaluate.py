"""`vh eval` end to end on a tiny HYouTube folder: table, JSON, options and one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.core.io.test_hyoutube import make_dataset
from vh.core.cli.main import main


@pytest.fixture
def tiny(tmp_path):
    return make_dataset(tmp_path / "data", clips=("a", "b"), frames=3, h=24, w=32)


def test_table_and_json(tiny, tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(
        [
            "eval",
            str(tiny),
            "-m",
            "cut",
            "-m",
            "stats",
            "--option",
            "time_constant=2",
            "--size",
            "16",
            "--direct",
            "--json",
            str(out),
        ]
    )
    assert rc == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["model", "MSE", "fMSE", "PSNR", "fSSIM", "TL", "flicker", "s/frame", "worse"]
    assert table[1].startswith("cut ") and table[2].startswith("stats(time_constant=2)")
    payload = json.loads(out.read_text())
    assert payload["size"] == 16 and payload["model_only"] is True
    cut, stats = payload["results"]
    assert cut["options"] == {} and stats["options"] == {"time_constant": 2}
    assert set(cut["clips"]) == {"a/object_0", "b/object_0"}
    assert {"mse", "fmse", "psnr", "fssim", "tl", "flicker", "seconds_per_frame"} <= set(cut)
    assert not list(tmp_path.glob("*.tmp"))


def test_through_the_engine(tiny, capsys):
    assert main(["eval", str(tiny), "-m", "cut", "--size", "16"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("cut ")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["-m", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["-m", "cut", "--option", "bins=8"], "no selected model has the option(s) bins"),
        (["-m", "cut", "--option", "bins"], "is not NAME=VALUE"),
        (["-m", "stats", "--option", "space=hsv"], "must be one of"),
        (["-m", "histogram", "--option", "bins=100000000"], "is 100000000 but must be <= 4096"),
        (["-m", "stats", "--option", "time_constant=1e300"], "but must be <= 1000"),
        (
            ["-m", "stats", "-o", "space=lab"],
            "-o names the results file; pass the model option 'space=lab' as",
        ),
        (["-m", "cut", "--json", "/nonexistent-folder/x.json"], "does not exist"),
        (["-m", "cut", "--predictions", "/nonexistent-folder"], "predictions folder not found"),
        (["-m", "cut", "--size", "100000"], "evaluation size must be within 16..8192 pixels, got 100000"),
        (["-m", "cut", "--size", "8"], "evaluation size must be within 16..8192 pixels, got 8"),
    ],
)
def test_errors_are_one_line(tiny, capsys, extra, message):
    rc = main(["eval", str(tiny), "--size", "16", "--direct", *extra])
    assert rc == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("vh: error:") and message in err and "\n" not in err


def test_missing_dataset(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope"), "-m", "cut"]) == 2
    assert "dataset folder not found" in capsys.readouterr().err


def test_an_empty_mask_clip_is_skipped_counted_and_metrics_stay_finite(tmp_path, capsys):
    import numpy as np
    import OpenImageIO as oiio

    root = make_dataset(tmp_path / "data", clips=("a", "b", "c"), frames=3, h=24, w=32)
    for png in (root / "foreground_mask" / "b").rglob("*.png"):  # clip b: nothing to judge in any frame
        out = oiio.ImageOutput.create(str(png))
        out.open(str(png), oiio.ImageSpec(32, 24, 1, "uint8"))
        out.write_image(np.zeros((24, 32, 1), np.uint8))
        out.close()
    # the composite of b differs from its real frames, so before the fix its fMSE was inf and poisoned the
    # mean
    out = tmp_path / "r.json"
    rc = main(["eval", str(root), "-m", "cut", "-m", "stats", "--size", "16", "--direct", "-o", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert "skipped 1 clip(s) with an empty mask: b/object_0" in captured.out
    assert "eval:" in captured.err and "/3 [" in captured.err  # the progress bar, one step per clip of 3
    text = out.read_text()
    assert "Infinity" not in text and "NaN" not in text
    payload = json.loads(text)
    for result in payload["results"]:
        assert result["skipped_clips"] == ["b/object_0"] and set(result["clips"]) == {
            "a/object_0",
            "c/object_0",
        }
        assert all(isinstance(result[k], float) and np.isfinite(result[k]) for k in ("mse", "fmse", "psnr"))
