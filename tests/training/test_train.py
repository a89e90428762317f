"""The training framework end to end on the CPU with a tiny task: learning, checkpoints, resume, NaN,
config."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from tests.training import tiny_task  # noqa: F401  (registers the "test_tiny" task and model)
from vh.core.checkpoint import load_checkpoint
from vh.core.errors import InputError
from vh.training.tasks.base import NonFiniteLossError
from vh.training.train import load_config, run_training


def tiny_config(pairs: Path, **train) -> dict:
    return {
        "task": "test_tiny",
        "task_modules": ["tests.training.tiny_task"],
        "model": {"hidden": 8},
        "optim": {"lr": 0.03, "warmup_steps": 2},
        "data": {
            "sources": [{"kind": "pairs", "root": str(pairs)}],
            "frames": 2,
            "size": 32,
            "length": 64,
            "recolor": ["adjust"],
            "seed": 3,
        },
        "train": {
            "batch_size": 4,
            "epochs": 2,
            "steps_per_epoch": 5,
            "num_workers": 0,
            "progress": False,
            "log_every": 1,
            "ckpt_every": 0,
            **train,
        },
    }


def test_loss_decreases_and_checkpoint_loads_without_training_code(pairs_dir, tmp_path):
    cfg = tiny_config(pairs_dir, epochs=3, steps_per_epoch=8)
    history = run_training(cfg, tmp_path / "run", device="cpu")
    first, last = history["epochs"][0]["rec"], history["epochs"][-1]["rec"]
    assert last < 0.7 * first, (first, last)
    run = tmp_path / "run"
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["train"]["batch_size"] == 4 and resolved["data"]["size"] == 32  # defaults filled in
    assert list((run / "tb").glob("events.out.tfevents.*"))
    model, meta = load_checkpoint(run / "checkpoints" / "ckpt-0000024", "cpu")
    assert meta["model"] == "test_tiny" and meta["step"] == 24 and meta["data"]["sources"][0]["items"] == 6
    comp = torch.rand(1, 1, 3, 16, 16)
    matte = torch.zeros(1, 1, 1, 16, 16)
    assert torch.equal(model(comp, matte), comp)  # background untouched


def test_resume_is_bit_identical(pairs_dir, tmp_path):
    full = run_training(tiny_config(pairs_dir), tmp_path / "full", device="cpu")
    # stop mid-epoch 0, resume; then stop exactly at the epoch boundary, resume again
    run_training(tiny_config(pairs_dir, stop_at_step=3), tmp_path / "part", device="cpu")
    run_training(tiny_config(pairs_dir, stop_at_step=5), tmp_path / "part", device="cpu", resume=True)
    part = run_training(tiny_config(pairs_dir), tmp_path / "part", device="cpu", resume=True)
    assert full["step"] == part["step"] == 10
    a = load_file(str(tmp_path / "full" / "checkpoints" / "ckpt-0000010.safetensors"))
    b = load_file(str(tmp_path / "part" / "checkpoints" / "ckpt-0000010.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    sa = torch.load(tmp_path / "full" / "checkpoints" / "state-0000010.pt", weights_only=False)
    sb = torch.load(tmp_path / "part" / "checkpoints" / "state-0000010.pt", weights_only=False)
    exp_a = sa["optimizers"]["net"]["state"][0]["exp_avg_sq"]
    assert torch.equal(exp_a, sb["optimizers"]["net"]["state"][0]["exp_avg_sq"])
    assert torch.equal(sa["rng"][0]["torch"], sb["rng"][0]["torch"])
    # and the weights did change from the start, so equality is not vacuous
    c = load_file(str(tmp_path / "part" / "checkpoints" / "ckpt-0000003.safetensors"))
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_nan_loss_stops_with_step_and_loss_name(pairs_dir, tmp_path):
    cfg = tiny_config(pairs_dir)
    cfg["loss"] = {"nan_at_step": 2}
    with pytest.raises(NonFiniteLossError, match=r"loss 'rec' is nan at step 2"):
        run_training(cfg, tmp_path / "run", device="cpu")


def test_cli_train_with_overrides_and_clear_errors(pairs_dir, tmp_path, capsys):
    from vh.core.cli.main import main

    cfg_path = tmp_path / "tiny.yaml"
    cfg_path.write_text(yaml.safe_dump(tiny_config(pairs_dir, epochs=1, steps_per_epoch=2)))
    rc = main(
        [
            "train",
            str(cfg_path),
            "--run-dir",
            str(tmp_path / "r"),
            "--device",
            "cpu",
            "--set",
            "optim.lr=1e-3",
            "--set",
            "train.batch_size=2",
        ]
    )
    assert rc == 0
    resolved = yaml.safe_load((tmp_path / "r" / "config.yaml").read_text())
    assert resolved["optim"]["lr"] == 1e-3 and resolved["train"]["batch_size"] == 2
    assert main(["train", str(cfg_path), "--run-dir", str(tmp_path / "r2"), "--set", "train.bogus=1"]) == 2
    assert "unknown config key 'train.bogus'" in capsys.readouterr().err
    assert main(["train", str(cfg_path), "--run-dir", str(tmp_path / "r"), "--device", "cpu"]) == 2
    assert "already holds a run; pass --resume" in capsys.readouterr().err
    assert main(["train", str(tmp_path / "missing.yaml"), "--run-dir", str(tmp_path / "r3")]) == 2
    assert "config file not found" in capsys.readouterr().err
    assert main(["train", str(cfg_path), "--run-dir", str(tmp_path / "r4"), "--device", "mps"]) == 2
    assert "unsupported device 'mps'; use 'cpu' or 'cuda:N'" in capsys.readouterr().err


def test_load_config_parses_overrides(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("task: vhmae\noptim: {lr: 0.001}\n")
    cfg = load_config(p, ["optim.lr=1e-4", "data.sources=[{kind: pairs, root: x}]", "train.epochs=3"])
    assert cfg["optim"]["lr"] == 1e-4 and cfg["train"]["epochs"] == 3
    assert cfg["data"]["sources"] == [{"kind": "pairs", "root": "x"}]
    with pytest.raises(InputError, match="KEY=VALUE"):
        load_config(p, ["optim.lr"])
    p.write_text("optim: {lr: 1}\n")
    with pytest.raises(InputError, match="names no task"):
        load_config(p)


def test_unknown_task_is_a_clear_error(pairs_dir, tmp_path):
    cfg = tiny_config(pairs_dir)
    cfg["task"] = "no_such_task"
    with pytest.raises(Exception, match="unknown training task 'no_such_task'"):
        run_training(cfg, tmp_path / "run", device="cpu")


@pytest.mark.gpu
def test_bf16_on_cuda_trains_and_saves_fp32_weights(pairs_dir, tmp_path):
    cfg = tiny_config(pairs_dir, epochs=1, steps_per_epoch=4, precision="bf16")
    history = run_training(cfg, tmp_path / "run", device="cuda")
    assert history["step"] == 4
    weights = load_file(str(tmp_path / "run" / "checkpoints" / "ckpt-0000004.safetensors"))
    assert all(v.dtype == torch.float32 for v in weights.values())


@pytest.mark.timeout(120)
def test_two_epochs_with_two_workers_do_not_hang(pairs_dir, tmp_path):
    # Workers forked after the main process had run its thread pools (OpenCV's and torch's, as validation does
    # at an epoch's end) deadlocked at the second epoch's start. A tiny task does not run them; do it here.
    import cv2
    import numpy as np

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        image = np.random.default_rng(0).random((1500, 1500, 3), np.float32)
        for _ in range(3):
            cv2.GaussianBlur(image, (11, 11), 1.5)
            torch.randn(4_000_000).exp_()
        history = run_training(
            tiny_config(pairs_dir, num_workers=2, epochs=2, steps_per_epoch=3), tmp_path / "r", "cpu"
        )
    finally:
        torch.set_num_threads(threads)
    assert history["step"] == 6 and len(history["epochs"]) == 2


def test_without_tensorboard_scalars_still_go_to_metrics_jsonl(pairs_dir, tmp_path, monkeypatch, caplog):
    import json
    import sys

    monkeypatch.setitem(
        sys.modules, "torch.utils.tensorboard", None
    )  # import fails as if it were not installed
    run_training(tiny_config(pairs_dir, epochs=1, steps_per_epoch=3), tmp_path / "r", device="cpu")
    assert not (tmp_path / "r" / "tb").exists()
    assert "tensorboard is not installed" in caplog.text
    rows = [json.loads(line) for line in (tmp_path / "r" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["tag"] == "train/rec"] == [1, 2, 3]
    assert all(r["seconds"] >= 0 for r in rows)


def test_init_from_loads_a_checkpoint_or_shipped_weights_and_refuses_a_misfit(pairs_dir, tmp_path):
    from vh.training.train import Trainer

    run_training(tiny_config(pairs_dir, epochs=1, steps_per_epoch=3), tmp_path / "a", device="cpu")
    donor = load_file(str(tmp_path / "a" / "checkpoints" / "ckpt-0000003.safetensors"))
    fresh = Trainer(tiny_config(pairs_dir), tmp_path / "fresh", "cpu").task.harmonizer().state_dict()
    assert not all(torch.equal(fresh[k], donor[k]) for k in donor)  # so the next check is not vacuous
    cfg = tiny_config(pairs_dir, init_from=str(tmp_path / "a" / "checkpoints" / "ckpt-0000003"))
    started = Trainer(cfg, tmp_path / "b", "cpu").task.harmonizer().state_dict()
    assert all(torch.equal(started[k], donor[k]) for k in donor)

    misfit = tiny_config(pairs_dir, init_from=str(tmp_path / "a" / "checkpoints" / "ckpt-0000003"))
    misfit["model"] = {"hidden": 16}
    with pytest.raises(InputError, match="weights that do not fit 'test_tiny'"):
        Trainer(misfit, tmp_path / "c", "cpu")
    with pytest.raises(InputError, match="neither a checkpoint nor a model whose weights ship"):
        Trainer(tiny_config(pairs_dir, init_from="no_such_model"), tmp_path / "d", "cpu")
    with pytest.raises(InputError, match="'vhmae_cpu' weights that do not fit 'test_tiny'"):
        Trainer(tiny_config(pairs_dir, init_from="vhmae"), tmp_path / "e", "cpu")  # a shipped name resolves


@pytest.mark.timeout(180)
def test_sigint_finishes_the_step_saves_and_resume_matches_an_uninterrupted_run(pairs_dir, tmp_path):
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    def config(**train):
        cfg = tiny_config(pairs_dir, epochs=1, steps_per_epoch=200, num_workers=1, **train)
        cfg["data"]["length"] = 800
        return cfg

    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config()))
    run = tmp_path / "run"
    root = Path(__file__).resolve().parents[2]

    def cli(run_dir: Path, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "vh.training.cli",
            str(path),
            "--run-dir",
            str(run_dir),
            "--device",
            "cpu",
            *extra,
        ]

    proc = subprocess.Popen(cli(run), cwd=root, stderr=subprocess.PIPE, text=True, start_new_session=True)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) > 20):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole process group, loader worker included
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "SIGINT: stopped at step" in err and "vh: interrupted" in err and "Traceback" not in err, err
    stopped = int(err.split("stopped at step ")[1].split()[0])
    assert 0 < stopped < 200
    assert (run / "checkpoints" / f"state-{stopped:07d}.pt").is_file()
    steps = [json.loads(line)["step"] for line in metrics.read_text().splitlines()]
    assert max(steps) == stopped  # the step in flight was finished, none after it was started

    # the rest in fresh processes like the first part: a pytest process whose torch thread count other tests
    # changed would sum in another order and could not be compared bit for bit
    for command in (cli(run, "--resume"), cli(tmp_path / "full")):
        done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    a = load_file(str(run / "checkpoints" / "ckpt-0000200.safetensors"))
    b = load_file(str(tmp_path / "full" / "checkpoints" / "ckpt-0000200.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_sigterm_stops_at_a_step_with_its_state_saved_and_exits_143(pairs_dir, tmp_path):
    import signal
    import subprocess
    import sys
    import time

    cfg = tiny_config(pairs_dir, epochs=1, steps_per_epoch=200)
    cfg["data"]["length"] = 800
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    root = Path(__file__).resolve().parents[2]
    argv = ["train", str(path), "--run-dir", str(run), "--device", "cpu"]
    vh = [sys.executable, "-m", "vh.core.cli.main"]
    proc = subprocess.Popen([*vh, *argv], cwd=root, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    deadline = time.monotonic() + 120
    while not (metrics.is_file() and len(metrics.read_text().splitlines()) > 10):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)  # a farm's stop
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "SIGTERM: stopped at step" in err and err.strip().endswith("vh: terminated"), err
    stopped = int(err.split("stopped at step ")[1].split()[0])
    assert (run / "checkpoints" / f"state-{stopped:07d}.pt").is_file()
