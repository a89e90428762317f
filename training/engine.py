"""The inner loops: `train_one_epoch` (one pass of the sampler through a task) and `evaluate` (protocol metrics
of a harmonizer on a HYouTube-layout folder). Wiring (config, DDP, checkpoints) lives in `vh.training.main`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from vh.core.models.base import Harmonizer

from .tasks.base import NonFiniteLossError, TrainTask


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


@torch.no_grad()
def predict_clip(
    model: Harmonizer, comp: np.ndarray, matte: np.ndarray, device: torch.device, autocast: Any
) -> np.ndarray:
    """Harmonize a clip comp [T, S, S, 3], matte [T, S, S] (float32 0..1) in windows of `model.window`.

    A model with another `input_size` runs on resized frames; its prediction is resized back and composited
    over the full-size comp under the full-size matte, so the background stays exact.
    """
    import cv2

    window = max(1, int(getattr(model, "window", 1)))
    n, s = comp.shape[0], comp.shape[1]
    size = getattr(model, "input_size", None)
    h, w = size if size is not None else (s, comp.shape[2])
    resized = (h, w) != comp.shape[1:3]
    small_c = (
        np.stack([cv2.resize(c, (w, h), interpolation=cv2.INTER_AREA) for c in comp]) if resized else comp
    )
    small_m = (
        np.stack([cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA) for m in matte]) if resized else matte
    )
    model.reset()
    out = np.empty_like(comp)
    for start in range(0, n, window):
        idx = [min(i, n - 1) for i in range(start, start + window)]  # pad the last window with the last frame
        c = torch.from_numpy(np.ascontiguousarray(small_c[idx].transpose(0, 3, 1, 2)))[None].to(
            device
        )  # [1, W, 3, h, w]
        m = torch.from_numpy(np.ascontiguousarray(small_m[idx][:, None]))[None].to(device)  # [1, W, 1, h, w]
        with autocast:
            y = model(c, m)  # [1, W, 3, h, w]
        keep = min(window, n - start)
        pred = y[0, :keep].float().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy()  # [keep, h, w, 3]
        for k in range(keep):
            p = (
                cv2.resize(pred[k], (comp.shape[2], s), interpolation=cv2.INTER_LINEAR)
                if resized
                else pred[k]
            )
            a = matte[start + k][:, :, None]
            out[start + k] = comp[start + k] * (1.0 - a) + p * a
    return out


def evaluate(
    model: Harmonizer,
    root: str,
    split: str = "test",
    max_clips: int | None = None,
    max_frames: int | None = None,
    device: torch.device | str = "cpu",
    autocast: Any = None,
) -> dict[str, float]:
    """The protocol metrics (vh.core.metrics) of `model` on a HYouTube-layout folder at the 256x256 eval size."""
    import contextlib

    from vh.core import metrics
    from vh.core.io.hyoutube import HYouTube

    autocast = autocast or contextlib.nullcontext()
    device = torch.device(device)
    size = metrics.EVAL_SIZE
    dataset = HYouTube(root, split=split)
    was_training = model.training
    model.eval()
    scores = []
    for clip in list(dataset)[:max_clips]:
        comps, reals, masks = [], [], []
        for frame in dataset.read(clip, 0, max_frames):
            comps.append(metrics.resize_image(frame.comp).astype(np.float32) / 255.0)
            reals.append(metrics.resize_image(frame.real))
            masks.append(metrics.resize_mask(frame.mask, size))
        comp = np.stack(comps)  # [T, 256, 256, 3]
        matte = np.stack(masks).astype(np.float32)  # [T, 256, 256] binary, as the protocol reads it
        pred = predict_clip(model, comp, matte, device, autocast)
        pred255 = [np.round(p * 255.0) for p in pred]  # quantised as a saved 8-bit result would be
        scores.append(metrics.clip_scores(pred255, reals, list(masks)))
    model.train(was_training)
    return metrics.mean_scores(scores).as_dict()
