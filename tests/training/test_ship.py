"""Packaging a checkpoint as shipped weights: fp16, self-describing, and shipped again for a new calibration
without losing where the weights came from."""

from __future__ import annotations

import json

import pytest
import torch

from vh.core.checkpoint import load_checkpoint, read_meta, save_checkpoint
from vh.core.errors import InputError
from vh.core.models.registry import create_model
from vh.training.ship import main, ship


@pytest.fixture
def checkpoint(tmp_path):
    torch.manual_seed(0)
    model = create_model("huang_tiny")
    save_checkpoint(tmp_path / "run" / "ckpt-0000064", model, "huang_tiny", step=64, data={"seed": 3})
    return str(tmp_path / "run" / "ckpt-0000064"), model


def test_a_checkpoint_ships_as_fp16_with_its_commands_and_calibration(checkpoint, tmp_path):
    path, model = checkpoint
    ship(path, "huang_tiny", ["vh train x.yaml"], tmp_path / "w", {"guard_direction": 0.7})
    meta = read_meta(tmp_path / "w" / "huang_tiny")
    assert meta["commands"] == ["vh train x.yaml"] and meta["source_checkpoint"] == "ckpt-0000064"
    assert meta["calibrated"] == {"guard_direction": 0.7} and meta["config"]["guard_direction"] == 0.7
    assert meta["step"] == 64 and meta["data"] == {"seed": 3}
    shipped, _ = load_checkpoint(tmp_path / "w" / "huang_tiny")
    for (key, a), b in zip(shipped.state_dict().items(), model.state_dict().values()):
        assert torch.allclose(a, b.half().float(), atol=0, rtol=0), key


def test_shipped_weights_shipped_again_keep_their_provenance_and_earlier_calibration(checkpoint, tmp_path):
    path, _ = checkpoint
    first = ship(path, "huang_tiny", ["vh train x.yaml"], tmp_path / "a", {"matte_threshold": 0.6})
    sidecar = first.with_suffix(".json")
    meta = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**meta, "train_seconds": 123.0}))
    assert main([str(tmp_path / "a" / "huang_tiny"), "--name", "huang_tiny", "--command", "vh train x.yaml",
                 "--set", "guard_floor=0.02", "--out-dir", str(tmp_path / "b")]) == 0  # fmt: skip
    again = read_meta(tmp_path / "b" / "huang_tiny")
    assert again["source_checkpoint"] == "ckpt-0000064" and again["train_seconds"] == 123.0
    assert again["calibrated"] == {"matte_threshold": 0.6, "guard_floor": 0.02}
    assert again["config"]["matte_threshold"] == 0.6 and again["config"]["guard_floor"] == 0.02


def test_weights_of_another_architecture_are_refused(checkpoint, tmp_path, capsys):
    path, _ = checkpoint
    with pytest.raises(InputError, match="config differs from the registered 'huang_cpu'"):
        ship(path, "huang_cpu", ["vh train x.yaml"], tmp_path / "w")
    assert main([path, "--name", "huang_tiny", "--command", "c", "--set", "guard_direction=3"]) == 2
    assert "direction in -1..1" in capsys.readouterr().err
