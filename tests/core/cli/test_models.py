"""`vh models`: every registered model with its options, their ranges as declared, and its weights status."""

from __future__ import annotations

import re

from vh.core.cli.main import main
from vh.core.models.registry import list_models
from vh.core.options import model_options


def test_lists_every_model_with_its_declared_ranges(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    heads = [ln.split(":")[0].replace(" (default)", "") for ln in out.splitlines() if not ln.startswith(" ")]
    assert heads == list_models()
    assert re.search(r"^stats: .*weights: none needed", out, re.M)
    assert re.search(
        r"^vhmae_cpu \(default\): aliases: vhmae; .*weights: shipped \(vhmae_cpu.safetensors\)", out, re.M
    )
    assert re.search(
        r"^vhmae_tiny: .*window 8 frame\(s\); weights: (shipped|not shipped: pass --checkpoint)", out, re.M
    )
    assert "--option bins=<int 2..4096> (default 64)" in out
    for name in list_models():
        for o in model_options(name):
            assert f"--option {o.name}=<" in out


def test_one_model_and_an_unknown_one(capsys):
    assert main(["models", "reinhard"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("stats: aliases: reinhard") and "histogram" not in out
    assert main(["models", "nosuch"]) == 2
    assert capsys.readouterr().err.startswith("vh: error: unknown model 'nosuch'")


def test_weights_status_follows_the_shipped_checkpoints(tmp_path, monkeypatch, capsys):
    from vh.core import checkpoint
    from vh.core.models import create_model

    monkeypatch.setattr(checkpoint, "SHIPPED_DIR", tmp_path)
    checkpoint.save_checkpoint(tmp_path / "huang_tiny", create_model("huang_tiny"), "huang_tiny", step=1)
    assert main(["models", "huang_tiny", "huang_small"]) == 0
    out = capsys.readouterr().out
    assert "huang_tiny: window 1 frame(s); weights: shipped (huang_tiny.safetensors)" in out
    assert "huang_small: window 1 frame(s); weights: not shipped: pass --checkpoint" in out
