"""The training loop: `train_one_epoch` (one pass of the sampler through a task) and `evaluate`
(validation: the protocol metrics of a harmonizer as `vh eval` measures them). Wiring (config, DDP,
checkpoints) lives in `vh.training.main`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch

from vh.core.models.base import Harmonizer
from vh.training.tasks.base import NonFiniteLossError, TrainTask


@dataclass
class LoopState:
    """Where training is: what a resume restores besides weights, optimizers and RNGs."""

    step: int = 0  # optimisation steps done
    epoch: int = 0  # current epoch
    batch_in_epoch: int = 0  # batches of `epoch` already consumed
    best: dict[str, float] = field(default_factory=dict)


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def train_one_epoch(
    task: TrainTask,
    batches: Iterable[dict[str, torch.Tensor]],
    state: LoopState,
    steps: int,
    on_step: Callable[[dict[str, float]], bool] | None = None,
    progress: bool = True,
) -> dict[str, float]:
    """Run until `steps` batches of this epoch are done (counting those done before a resume).

    `on_step(losses)` runs after each step (logging, checkpoints, validation); returning True stops early.
    Returns the epoch's mean of each loss. Raises NonFiniteLossError naming the step and the loss.
    """
    from tqdm import tqdm

    totals: dict[str, float] = {}
    count = 0
    bar = tqdm(
        total=steps,
        initial=state.batch_in_epoch,
        desc=f"epoch {state.epoch}",
        disable=not progress,
        leave=False,
    )
    for module in task.raw.values():
        module.train()
    for batch in batches:
        if state.batch_in_epoch >= steps:
            break
        task.step = state.step
        losses = task.train_step(to_device(batch, task.device), state.step)
        values = {k: float(v.detach()) if torch.is_tensor(v) else float(v) for k, v in losses.items()}
        for name, value in values.items():
            if not math.isfinite(value):  # a task that did not use optimize(): weights may already be hit
                raise NonFiniteLossError(state.step, name, value)
        for scheduler in task.schedulers.values():
            scheduler.step()
        state.step += 1
        state.batch_in_epoch += 1
        count += 1
        for k, v in values.items():
            totals[k] = totals.get(k, 0.0) + v
        bar.update(1)
        bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
        if on_step is not None and on_step(values):
            break
    bar.close()
    return {k: v / max(count, 1) for k, v in totals.items()}


def evaluate(
    model: Harmonizer,
    root: str,
    split: str = "test",
    max_clips: int | None = None,
    max_frames: int | None = None,
    device: torch.device | str = "cpu",
) -> dict[str, float]:
    """The protocol metrics of `model` on a HYouTube-layout folder, exactly as `vh eval` scores a checkpoint
    of it: the engine's path (windows, resize, guard, full-resolution transfer), via `vh.core.evaluation`."""
    from vh.core import evaluation

    was_training = model.training
    try:
        method = evaluation.model_method(model, device=str(device))
        [result] = evaluation.evaluate(
            root, [method], split=split, max_clips=max_clips, max_frames=max_frames
        )
    finally:
        model.train(was_training)  # the engine put it in eval mode
    return result.scores.as_dict()
