"""torchrun DDP on the CPU (gloo): two ranks train on different shards and end with identical weights."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.training.test_train import tiny_config

WORKER = textwrap.dedent(
    """
    import json, os, sys
    from safetensors.torch import save_file
    from vh.training.train import Trainer

    config = json.loads(open(sys.argv[1]).read())
    trainer = Trainer(config, sys.argv[2], device="cpu")
    rank = trainer.dist.rank
    if os.environ.get("STOP_RANK") == str(rank):
        trainer.stop.signal = "SIGTERM"  # as if a signal had reached this rank alone
    try:
        history = trainer.fit()
    except KeyboardInterrupt:
        history = {"step": trainer.state.step}
    state = {k: v.contiguous() for k, v in trainer.task.raw["net"].state_dict().items()}
    save_file(state, os.path.join(sys.argv[2], f"rank{rank}.safetensors"))
    open(os.path.join(sys.argv[2], f"rank{rank}.json"), "w").write(json.dumps(
        {"world": trainer.dist.world, "step": history["step"]}))
    """
)


def torchrun_two_ranks(cfg: dict, tmp_path: Path, repo_root: Path, **env: str) -> subprocess.CompletedProcess:
    """WORKER on two CPU ranks (gloo) with `cfg`, writing to tmp_path / "run"."""
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    (tmp_path / "cfg.json").write_text(json.dumps(cfg))
    (tmp_path / "worker.py").write_text(WORKER)
    return subprocess.run(
        [
            torchrun,
            "--standalone",
            "--nproc_per_node",
            "2",
            str(tmp_path / "worker.py"),
            str(tmp_path / "cfg.json"),
            str(tmp_path / "run"),
        ],
        env={**os.environ, "PYTHONPATH": str(repo_root), "OMP_NUM_THREADS": "1", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )


def test_torchrun_two_ranks_end_identical(pairs_dir, tmp_path, repo_root):
    cfg = tiny_config(pairs_dir, epochs=1, steps_per_epoch=4, batch_size=2)
    run = tmp_path / "run"
    proc = torchrun_two_ranks(cfg, tmp_path, repo_root)
    assert proc.returncode == 0, proc.stderr[-3000:]
    infos = [json.loads((run / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["world"] for i in infos] == [2, 2] and [i["step"] for i in infos] == [4, 4]
    w0, w1 = (load_file(str(run / f"rank{r}.safetensors")) for r in (0, 1))
    assert all(torch.equal(w0[k], w1[k]) for k in w0)
    # rank 0's checkpoint is these weights, and they moved away from the seeded initial ones
    ckpt = load_file(str(run / "checkpoints" / "ckpt-0000004.safetensors"))
    assert all(torch.equal(ckpt[k], w0[k]) for k in w0)
    torch.manual_seed(0)
    from tests.training.tiny_task import test_tiny

    fresh = test_tiny(hidden=8).state_dict()
    assert not all(torch.equal(fresh[k], w0[k]) for k in w0)


@pytest.mark.slow
def test_nan_on_one_rank_stops_every_rank(pairs_dir, tmp_path, repo_root):
    cfg = tiny_config(pairs_dir, epochs=1, steps_per_epoch=4, batch_size=2)
    cfg["loss"] = {"nan_at_step": 1, "nan_rank": 1}
    proc = torchrun_two_ranks(cfg, tmp_path, repo_root)
    assert proc.returncode != 0
    assert "loss 'rec' is nan at step 1" in proc.stderr
    assert "loss 'rec (on another rank)' is nan at step 1" in proc.stderr


def test_a_signal_to_one_rank_stops_every_rank_at_the_same_step(pairs_dir, tmp_path, repo_root):
    cfg = tiny_config(pairs_dir, epochs=1, steps_per_epoch=4, batch_size=2)
    proc = torchrun_two_ranks(cfg, tmp_path, repo_root, STOP_RANK="1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "run"
    infos = [json.loads((run / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [i["step"] for i in infos] == [
        1,
        1,
    ]  # both stopped after the first step, neither waits on the other
    assert [p.name for p in (run / "checkpoints").glob("state-*.pt")] == ["state-0000001.pt"]
    assert "a signal to another rank: stopped at step 1" in proc.stderr
