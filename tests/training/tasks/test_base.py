"""The TrainTask interface helpers: registry, schedule, the finiteness guard in optimize()."""

from __future__ import annotations

import itertools

import pytest
import torch

from vh.core.errors import VhError
from vh.training.tasks.base import (
    NonFiniteLossError,
    TrainTask,
    get_task,
    list_tasks,
    register_task,
    warmup_cosine,
)


def test_warmup_then_cosine():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = warmup_cosine(opt, warmup_steps=4, total_steps=12, min_ratio=0.1)
    lrs = []
    for _ in range(12):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4] == pytest.approx(1.0) and all(a >= b for a, b in itertools.pairwise(lrs[4:]))
    assert lrs[-1] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + torch.cos(torch.tensor(7 / 8 * torch.pi)).item()))


def test_registry_finds_shipped_tasks_and_rejects_unknown_and_duplicates():
    assert {"vhmae", "huang"} <= set(list_tasks())
    with pytest.raises(VhError, match="unknown training task 'nope'"):
        get_task("nope")

    @register_task("test_dup")
    class A(TrainTask):
        pass

    with pytest.raises(ValueError, match="registered twice"):
        register_task("test_dup")(type("B", (TrainTask,), {}))


def test_optimize_refuses_nan_before_touching_weights():
    task = TrainTask({}, torch.device("cpu"))
    w = torch.nn.Parameter(torch.ones(3))
    task.optimizers = {"o": torch.optim.SGD([w], lr=0.1)}
    task.step = 7
    with pytest.raises(NonFiniteLossError, match="loss 'gan' is inf at step 7"):
        task.optimize("o", (w * float("inf")).sum(), name="gan")
    assert torch.equal(w.detach(), torch.ones(3))
    task.optimize("o", (w**2).sum(), name="l2")
    assert torch.allclose(w.detach(), torch.full((3,), 0.8))
