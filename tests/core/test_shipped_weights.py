"""The weights that ship in the package: present, self-describing, loaded with no --checkpoint, also from a
fresh non-editable install, and good enough to lower the error of a real clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vh.core.checkpoint import SHIPPED_DIR, read_meta, shipped_checkpoint
from vh.core.engine import Engine
from vh.core.models.guard import ConsensusGuard
from vh.core.models.vhmae import VHMAE

REPO = Path(__file__).resolve().parents[2]


def test_vhmae_weights_ship_as_fp16_with_provenance_and_a_model_card():
    path = shipped_checkpoint("vhmae_cpu")
    assert path is not None and path.stat().st_size < 8 * 2**20
    meta = read_meta(path)
    assert meta["model"] == "vhmae_cpu" and meta["step"] > 0 and meta["commands"][0].startswith("vh train ")
    assert meta["data"]["split"] == "train"  # trained without the held-out split
    from safetensors.torch import load_file

    assert {t.dtype for t in load_file(str(path)).values()} == {torch.float16}
    card = (SHIPPED_DIR / "MODEL_CARD.md").read_text()
    for must in ("research", "unseen", "fMSE", *meta["commands"]):
        assert must in card


def test_engine_uses_shipped_weights_behind_the_guard():
    engine = Engine("vhmae")
    assert isinstance(engine.model, ConsensusGuard) and isinstance(engine.model.inner, VHMAE)
    assert (
        float(engine.model.inner.head.weight.abs().sum()) > 0
    )  # trained: the head is no longer the identity


@pytest.mark.timeout(300)
def test_shipped_weights_load_in_a_fresh_non_editable_install(tmp_path):
    wheel_dir, target = tmp_path / "wheel", tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(wheel_dir),
            str(REPO),
        ],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = wheel_dir.glob("vh-*.whl")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        cwd=tmp_path,
    )
    code = (
        "import json, vh.core.engine as e; from vh.core.checkpoint import shipped_checkpoint as s;"
        "eng = e.Engine('vhmae'); print(json.dumps([str(s('vhmae_cpu')), type(eng.model.inner).__name__]))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert out.returncode == 0, out.stderr
    path, kind = json.loads(out.stdout.strip().splitlines()[-1])
    assert path.startswith(str(target)) and kind == "VHMAE"  # from the installed copy, not this checkout


@pytest.mark.realdata
def test_shipped_vhmae_lowers_fmse_on_a_real_clip(shared_data):
    from vh.core import evaluation

    method = evaluation.model_method("vhmae")
    cut = evaluation.model_method("cut")
    clip = "dog-0"
    results = evaluation.evaluate(shared_data / "hyoutube_val", [cut, method], clips=[clip])
    by_name = {r.name: r.scores for r in results}
    assert by_name["vhmae"].fmse < 0.8 * by_name["cut"].fmse, by_name
    assert np.isfinite(by_name["vhmae"].fssim)
