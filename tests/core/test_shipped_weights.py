"""The weights that ship in the package: present, self-describing, loaded with no --checkpoint, also from a
fresh non-editable install, and good enough to lower the error of a real clip."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
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


GUARD_SETTINGS = ("guard_floor", "guard_caution", "guard_direction")


@pytest.mark.parametrize("name", ["vhmae_cpu", "huang_cpu"])
def test_each_shipped_model_runs_behind_the_guard_settings_fitted_for_it(name):
    calibrated = read_meta(shipped_checkpoint(name))["calibrated"]
    guard = Engine(name).model
    assert isinstance(guard, ConsensusGuard)
    assert (guard.floor, guard.caution, guard.direction) == tuple(calibrated[k] for k in GUARD_SETTINGS)


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


# -- Huang et al. 2019 ---------------------------------------------------------------------------------------


def test_huang_weights_ship_as_fp16_with_a_calibrated_matte_level_and_a_model_card():
    from safetensors.torch import load_file

    path = shipped_checkpoint("huang_cpu")
    assert path is not None and path.stat().st_size < 8 * 2**20
    meta = read_meta(path)
    assert meta["model"] == "huang_cpu" and meta["step"] > 0 and meta["data"]["split"] == "train"
    assert set(meta["calibrated"]) == {"matte_threshold", *GUARD_SETTINGS}
    assert all(meta["config"][k] == v for k, v in meta["calibrated"].items())
    tensors = load_file(str(path))
    assert {t.dtype for t in tensors.values()} == {torch.float16}
    assert any(k.startswith("generator.") for k in tensors) and any(
        k.startswith("discriminator.") for k in tensors
    )
    card = (SHIPPED_DIR / "MODEL_CARD_huang.md").read_text()
    for must in ("research", "unseen", "IoU", "fMSE", *meta["commands"]):
        assert must in card


def test_huang_loads_its_shipped_g_and_d_behind_the_guard():
    from vh.core.models.huang import HuangHarmonizer

    engine = Engine("huang")
    assert isinstance(engine.model, ConsensusGuard) and isinstance(engine.model.inner, HuangHarmonizer)
    model = engine.model.inner
    assert float(model.generator.unet.head.weight.abs().sum()) > 0  # G trained away from the identity
    assert float(model.discriminator.head.weight.abs().sum()) > 0  # D trained away from "all harmonious"
    assert (
        engine.detector is model
        and model.matte_threshold == read_meta(shipped_checkpoint("huang_cpu"))["config"]["matte_threshold"]
    )


def _real_clip(shared_data, name: str, frames: int = 6):
    """(composites, real frames float32 [T, H, W, 3] 0..1, masks bool [T, H, W]) of a hyoutube_val clip."""
    from vh.core.io.hyoutube import HYouTube

    ds = HYouTube(shared_data / "hyoutube_val", split="test")
    record = next(r for r in ds if r.name.split("/")[0] == name)
    triplets = list(ds.read(record))[:frames]
    comps = np.stack([t.comp for t in triplets]).astype(np.float32) / 255
    reals = np.stack([t.real for t in triplets]).astype(np.float32) / 255
    return comps, reals, np.stack([t.mask > 127 for t in triplets])


@pytest.mark.realdata
@pytest.mark.xfail(
    strict=True,
    reason="the shipped D (896 CPU steps) has learned where objects are, not disharmony: on dog-0 its mean "
    "is 0.103 inside the mask and 0.107 outside (MODEL_CARD_huang.md); strict, so a D that separates turns "
    "this red until the marker goes",
)
def test_shipped_d_marks_the_recoloured_foreground_above_the_background(shared_data):
    from vh.training.calibrate_matte import soft_maps

    comps, _, masks = _real_clip(shared_data, "dog-0")
    soft = soft_maps(Engine("huang"), comps)  # [T, h, w] at the working size
    truth = np.stack(
        [
            cv2.resize(m.astype(np.float32), soft.shape[:0:-1], interpolation=cv2.INTER_AREA) > 0.5
            for m in masks
        ]
    )
    inside, outside = float(soft[truth].mean()), float(soft[~truth].mean())
    assert inside > outside + 0.1, (inside, outside)


@pytest.mark.realdata
def test_auto_matte_leaves_footage_with_no_disharmony_unchanged(shared_data):
    _, reals, _ = _real_clip(shared_data, "dog-0")
    plates = list(reals)
    out = list(Engine("huang").run(plates, None, "srgb_tx"))
    assert all(np.array_equal(o, p) for o, p in zip(out, plates, strict=True))
