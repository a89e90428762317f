"""`vh eval` end to end on a tiny HYouTube folder: table, JSON, options and one-line errors."""

from __future__ import annotations

import json

import pytest

from tests.training.datasets.test_hyoutube import make_dataset
from vh.core.cli.main import main


@pytest.fixture
def tiny(tmp_path):
    return make_dataset(tmp_path / "data", clips=("a", "b"), frames=3, h=24, w=32)


def test_table_and_json(tiny, tmp_path, capsys):
    out = tmp_path / "r.json"
    rc = main(["eval", str(tiny), "-m", "cut", "-m", "stats", "-o", "time_constant=2", "--size", "16",
               "--direct", "--json", str(out)])
    assert rc == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["model", "MSE", "fMSE", "PSNR", "fSSIM", "TL", "flicker", "s/frame"]
    assert table[1].startswith("cut ") and table[2].startswith("stats(time_constant=2)")
    payload = json.loads(out.read_text())
    assert payload["size"] == 16 and payload["engine"] is False
    cut, stats = payload["results"]
    assert cut["options"] == {} and stats["options"] == {"time_constant": 2}
    assert set(cut["clips"]) == {"a/object_0", "b/object_0"}
    assert {"mse", "fmse", "psnr", "fssim", "tl", "flicker", "seconds_per_frame"} <= set(cut)
    assert not list(tmp_path.glob("*.tmp"))


def test_through_the_engine(tiny, capsys):
    pytest.importorskip("vh.core.engine")
    assert main(["eval", str(tiny), "-m", "cut", "--size", "16"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith("cut ")


@pytest.mark.parametrize(
    "extra, message",
    [
        (["-m", "nosuchmodel"], "unknown model 'nosuchmodel'"),
        (["-m", "cut", "-o", "bins=8"], "no selected model has the option(s) bins"),
        (["-m", "cut", "-o", "bins"], "expects KEY=VALUE"),
        (["-m", "stats", "-o", "space=hsv"], "unknown colour space"),
        (["-m", "cut", "--json", "/nonexistent-folder/x.json"], "does not exist"),
        (["-m", "cut", "--predictions", "/nonexistent-folder"], "predictions folder not found"),
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
