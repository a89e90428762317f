"""Training validation: the number `vh eval` gives for a checkpoint of the same weights, by one path."""

from __future__ import annotations

import json

import pytest
import torch

from tests.core.io.test_hyoutube import make_dataset
from vh.core.checkpoint import save_checkpoint
from vh.core.cli.main import main
from vh.core.models import create_model
from vh.training.loop import evaluate


@pytest.fixture
def model():
    torch.manual_seed(0)
    net = create_model("huang_tiny", input_size=32, base_channels=4, max_channels=16, depth=3)
    with torch.no_grad():  # the head starts at 0 (the identity): give it weights that repaint
        torch.nn.init.normal_(net.generator.unet.head.weight, std=0.5)
    return net.train()


def test_validation_equals_vh_eval_on_the_same_clips_and_checkpoint(tmp_path, model, capsys):
    root = make_dataset(tmp_path / "data", clips=("a", "b", "c"), frames=5, h=48, w=64)
    scores = evaluate(model, str(root), max_clips=2, max_frames=4)
    assert model.training  # handed back in the mode it came in

    save_checkpoint(tmp_path / "ckpt", model, "huang_tiny", step=1)
    out = tmp_path / "eval.json"
    argv = [
        "eval",
        str(root),
        "-m",
        "huang_tiny",
        "--checkpoint",
        str(tmp_path / "ckpt"),
        "-q",
        "-o",
        str(out),
    ]
    assert main([*argv, "--limit", "2", "--max-frames", "4"]) == 0, capsys.readouterr().err
    [result] = json.loads(out.read_text())["results"]
    assert sorted(result["clips"]) == ["a/object_0", "b/object_0"]
    for key in ("mse", "fmse", "psnr", "fssim", "tl", "flicker"):
        assert scores[key] == result[key], key

    # the model did repaint, so the equality says something: cut scores differently
    assert main([*argv[:2], "-m", "cut", "-q", "-o", str(out), "--limit", "2", "--max-frames", "4"]) == 0
    assert json.loads(out.read_text())["results"][0]["fmse"] != scores["fmse"]
