"""The "vhmae" training task: augmentation, schedule, a step through `vh train`, and overfitting one real
clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vh.core.checkpoint import load_checkpoint
from vh.core.models.base import blend
from vh.core.models.vhmae import VHMAE
from vh.training.tasks import create_task
from vh.training.tasks.vhmae import VHMAETask, rotate_flip, sweep_rows


def make_task(**config) -> VHMAETask:
    cfg = {"model": {"name": "vhmae_tiny", "input_size": 64}, **config}
    task = create_task("vhmae", cfg, "cpu")
    task.raw = task.build_models()
    task.nets = dict(task.raw)
    task.optimizers = task.build_optimizers()
    return task


def test_rotate_flip_moves_comp_real_and_matte_together():
    g = torch.Generator().manual_seed(0)
    comp = torch.rand(6, 2, 3, 8, 8)
    batch = {
        "comp": comp,
        "real": comp * 0.5,
        "matte": comp[:, :, :1] > 0.5,
        "flow": torch.zeros(6, 1, 2, 8, 8),
    }
    out = rotate_flip(batch, generator=g)
    assert set(out) == {"comp", "real", "matte"}  # flow would be wrong after a rotation: dropped
    torch.testing.assert_close(out["real"], out["comp"] * 0.5)
    assert torch.equal(out["matte"], out["comp"][:, :, :1] > 0.5)
    changed = [not torch.equal(out["comp"][b], comp[b]) for b in range(6)]
    assert any(changed)
    # each clip is one of the 8 rotations/flips of itself, the same for all its frames
    for b in range(6):
        variants = [torch.rot90(comp[b], k, (2, 3)) for k in range(4)]
        variants += [torch.flip(v, (3,)) for v in variants]
        assert any(torch.equal(out["comp"][b], v) for v in variants)


def test_config_reaches_model_losses_and_optimizer():
    task = make_task(loss={"alpha": 0.3, "beta": 0.7}, optim={"lr": 5e-4, "weight_decay": 0.1})
    assert task.model_name == "vhmae_tiny" and isinstance(task.harmonizer(), VHMAE)
    assert task.harmonizer().config.input_size == 64
    assert (task.weights.alpha, task.weights.beta) == (0.3, 0.7)
    opt = task.optimizers["net"]
    assert opt.defaults["betas"] == (0.9, 0.95) and opt.defaults["lr"] == 5e-4
    decayed, plain = opt.param_groups
    assert decayed["weight_decay"] == 0.1 and plain["weight_decay"] == 0.0
    assert all(p.ndim >= 2 for p in decayed["params"]) and all(p.ndim < 2 for p in plain["params"])
    assert task.checkpoint_data() == {"alpha": 0.3, "beta": 0.7}


def test_warmup_epochs_follow_table_2():
    task = make_task(optim={"lr": 1e-3, "warmup_epochs": 10}, train={"epochs": 100})
    sched = task.build_schedulers(total_steps=1000)["net"]
    lrs = []
    for _ in range(1000):
        lrs.append(task.optimizers["net"].param_groups[0]["lr"])
        task.optimizers["net"].step()
        sched.step()
    assert lrs[0] == pytest.approx(1e-3 / 100) and lrs[99] == pytest.approx(
        1e-3
    )  # 10 of 100 epochs = 100 steps
    assert lrs[550] == pytest.approx(0.5e-3, rel=0.02) and lrs[-1] < 1e-6


def test_train_step_returns_the_weighted_terms(one_torch_thread):
    torch.manual_seed(0)
    task = make_task(loss={"alpha": 0.5, "beta": 2.0})
    matte = torch.zeros(2, 8, 1, 64, 64)
    matte[:, :, :, 16:40, 8:30] = 1
    batch = {"comp": torch.rand(2, 8, 3, 64, 64), "real": torch.rand(2, 8, 3, 64, 64), "matte": matte}
    before = [p.detach().clone() for p in task.harmonizer().parameters()]
    out = task.train_step(batch, 0)
    assert out["loss"].item() == pytest.approx(
        (out["rec"] + 0.5 * out["align"] + 2.0 * out["balance"]).item(), rel=1e-5
    )
    assert all(torch.isfinite(v) for v in out.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, task.harmonizer().parameters()))


def test_loss_harm_adds_its_term_and_is_recorded_with_the_checkpoint(one_torch_thread):
    torch.manual_seed(0)
    task = make_task(loss={"harm": 2.0})
    matte = torch.zeros(2, 8, 1, 64, 64)
    matte[:, :, :, 16:40, 8:30] = 1
    real = torch.rand(2, 8, 3, 64, 64)
    out = task.losses({"comp": real.clone(), "real": real, "matte": matte})  # nothing to correct
    assert out["harm"].item() > 0  # the untrained pixel head paints noise: worse than the composite
    assert out["loss"].item() == pytest.approx(
        (out["rec"] + out["align"] + out["balance"] + 2.0 * out["harm"]).item(), rel=1e-5
    )
    assert task.checkpoint_data() == {"alpha": 1.0, "beta": 1.0, "harm": 2.0}
    assert "harm" not in make_task().losses({"comp": real.clone(), "real": real, "matte": matte})


def test_loss_relative_adds_its_term_beside_harm_and_is_recorded_with_the_checkpoint(one_torch_thread):
    torch.manual_seed(0)
    task = make_task(loss={"harm": 2.0, "relative": 0.1})
    matte = torch.zeros(2, 8, 1, 64, 64)
    matte[:, :, :, 16:40, 8:30] = 1
    real = torch.rand(2, 8, 3, 64, 64)
    comp = real.clone()  # nothing to correct: the untrained head's noise is harm and relative error alike
    out = task.losses({"comp": comp, "real": real, "matte": matte})
    assert out["relative"].item() > 0 and out["harm"].item() > 0  # non-zero, so the sum below checks both
    want = out["rec"] + out["align"] + out["balance"] + 2.0 * out["harm"] + 0.1 * out["relative"]
    assert out["loss"].item() == pytest.approx(want.item(), rel=1e-5)
    assert task.checkpoint_data() == {"alpha": 1.0, "beta": 1.0, "harm": 2.0, "relative": 0.1}
    assert "relative" not in make_task().losses({"comp": comp, "real": real, "matte": matte})


def test_loss_again_scores_a_second_pass_over_the_first_result(one_torch_thread):
    torch.manual_seed(0)
    task = make_task(loss={"again": 0.5})
    model = task.harmonizer()
    matte = torch.zeros(2, 8, 1, 64, 64)
    matte[:, :, :, 16:40, 8:30] = 1
    comp, real = torch.rand(2, 8, 3, 64, 64), torch.rand(2, 8, 3, 64, 64)
    first, second = task.nets["net"](comp, matte, again=True)
    # the second pass saw the first's result inside the matte and the composite outside it
    seen = blend(comp, first.pred.detach(), matte).clamp(0, 1)
    torch.testing.assert_close(second.pred, model.reconstruct(seen, matte).pred)
    assert not torch.allclose(second.pred, first.pred)
    out = task.losses({"comp": comp, "real": real, "matte": matte})
    assert out["again"].item() > 0
    assert out["loss"].item() == pytest.approx(
        (out["rec"] + out["align"] + out["balance"] + 0.5 * out["again"]).item(), rel=1e-5
    )
    assert task.checkpoint_data() == {"alpha": 1.0, "beta": 1.0, "again": 0.5}
    assert "again" not in make_task().losses({"comp": comp, "real": real, "matte": matte})
    # L_again alone reaches the weights: only the second pass's input is detached, not the pass itself
    out["again"].backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())
    model.zero_grad(set_to_none=True)
    before = [p.detach().clone() for p in model.parameters()]
    task.train_step({"comp": comp, "real": real, "matte": matte}, 0)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_sweep_file_mirrors_table_3(repo_root):
    rows = sweep_rows(str(repo_root / "training" / "configs" / "vhmae_sweep.yaml"))
    assert len(rows) == 11 and rows[-1] == ("alpha1_beta1", ["--set", "loss.alpha=1", "--set", "loss.beta=1"])
    assert rows[0][0] == "alpha0_beta0"


def tiny_vhmae_run(pairs_dir: Path, model: dict | None = None, optim: dict | None = None, **train) -> dict:
    """A two-step vhmae_tiny run at 64x64 on `pairs_dir`; `train` entries override the `train:` section."""
    return {
        "task": "vhmae",
        "model": {"name": "vhmae_tiny", "input_size": 64, **(model or {})},
        "optim": {"lr": 1e-3, **(optim or {})},
        "data": {
            "sources": [{"kind": "pairs", "root": str(pairs_dir)}],
            "frames": 8,
            "size": 64,
            "length": 8,
            "recolor": ["adjust"],
            "seed": 1,
        },
        "train": {
            "batch_size": 2,
            "epochs": 1,
            "steps_per_epoch": 2,
            "num_workers": 0,
            "progress": False,
            "ckpt_every": 0,
            **train,
        },
    }


def test_vh_train_runs_vhmae_tiny_and_checkpoint_loads(pairs_dir, tmp_path, one_torch_thread):
    from vh.training.train import run_training

    cfg = tiny_vhmae_run(pairs_dir, optim={"warmup_steps": 1}, log_every=1)
    history = run_training(cfg, tmp_path / "run", device="cpu")
    assert history["step"] == 2
    model, meta = load_checkpoint(tmp_path / "run" / "checkpoints" / "ckpt-0000002", "cpu")
    assert isinstance(model, VHMAE) and meta["model"] == "vhmae_tiny" and meta["config"]["input_size"] == 64
    assert meta["task"] == "vhmae" and meta["train"] == {"alpha": 1.0, "beta": 1.0}


def read_clip(root: Path, clip: str, frames: int, side: int) -> dict[str, torch.Tensor]:
    """One hyoutube_val clip, resized like the evaluation protocol (linear images, nearest mask > 127)."""
    import cv2

    def stack(folder: Path, mask: bool) -> torch.Tensor:
        out = []
        for f in sorted(folder.iterdir())[:frames]:
            if mask:
                m = cv2.resize(
                    cv2.imread(str(f), cv2.IMREAD_GRAYSCALE), (side, side), interpolation=cv2.INTER_NEAREST
                )
                out.append((m > 127).astype(np.float32)[None])  # [1, H, W]
            else:
                im = cv2.resize(cv2.imread(str(f))[:, :, ::-1], (side, side), interpolation=cv2.INTER_LINEAR)
                out.append(im.transpose(2, 0, 1).astype(np.float32) / 255.0)  # [3, H, W]
        return torch.from_numpy(np.stack(out))[None]  # [1, T, C, H, W]

    return {
        "comp": stack(root / "synthetic_composite_videos" / clip / "object_0", False),
        "real": stack(root / "real_videos" / clip, False),
        "matte": stack(root / "foreground_mask" / clip / "object_0", True),
    }


@pytest.mark.realdata
def test_tiny_overfits_one_real_clip(shared_data, one_torch_thread, record_property):
    """vhmae_tiny at 64x64 on blackswan-0's first 8 frames: foreground MSE falls >= 10x within 300 steps
    (about 20x here; ~30 s on one CPU thread)."""
    batch = read_clip(shared_data / "hyoutube_val", "blackswan-0", frames=8, side=64)
    torch.manual_seed(0)
    task = make_task(augment={"rotate": False, "flip": False}, optim={"lr": 2e-3})
    model = task.harmonizer()
    fg = batch["matte"].expand_as(batch["comp"]) > 0.5

    def fg_mse() -> float:
        with torch.no_grad():
            out = model.eval()(batch["comp"], batch["matte"])
        model.train()
        return float(((out - batch["real"])[fg] ** 2).mean())

    start = fg_mse()
    for step in range(300):
        task.train_step(batch, step)
    end = fg_mse()
    identity = float(((batch["comp"] - batch["real"])[fg] ** 2).mean())
    record_property("fg_mse", {"start": start, "end": end, "composite": identity})
    assert end <= start / 10, (start, end)


@pytest.mark.slow
def test_torchrun_two_ranks_train_vhmae_identically(pairs_dir, tmp_path, repo_root):
    """DDP (gloo, 2 CPU ranks): gradients flow through the Reconstructor view, so the ranks stay in sync."""
    from safetensors.torch import load_file

    from tests.training.test_ddp import torchrun_two_ranks

    cfg = tiny_vhmae_run(pairs_dir, model={"depth": 2}, batch_size=1)
    proc = torchrun_two_ranks(cfg, tmp_path, repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0, w1 = (load_file(str(tmp_path / "run" / f"rank{r}.safetensors")) for r in (0, 1))
    assert w0.keys() == w1.keys() and all(torch.equal(w0[k], w1[k]) for k in w0)
