"""The interface a model family implements to be trained by `vh train`, and the registry of tasks by name.

A *task* owns everything that is specific to one model family: which networks exist, their optimizers and
schedulers, the losses, and what one optimisation step does (one backward for an autoencoder, alternating D
and G updates for a GAN). The framework (`vh.training.train` / `vh.training.loop`) owns everything else:
config, data, devices, DDP, mixed precision, checkpoints, resume, logging and validation.

Batch format
------------
`train_step` receives a dict of float32 tensors already on the task's device, in the model working space
(sRGB-encoded Rec.709, 0..1):

    comp   [B, T, 3, H, W]    the composite (recoloured foreground over the background)
    real   [B, T, 3, H, W]    the ground truth (the unedited frames)
    matte  [B, T, 1, H, W]    1 = foreground to repaint, 0 = background
    flow   [B, T-1, 2, H, W]  optional (exact for dancing clips): backward flow in pixels (dx, dy) such that
                              sampling frame t at p + flow[:, t](p) reproduces frame t+1 at p, i.e.
                              warp(frame_t, flow_t) ~= frame_{t+1} (see `vh.training.flow.warp`)

T is `data.frames` from the config (8 for VHMAE, 2 for Huang's two-frame training).

Writing a task
--------------
    @register_task("mymodel")
    class MyTask(TrainTask):
        model_name = "mymodel_tiny"            # registry name written into checkpoints

        def build_models(self) -> dict[str, nn.Module]:
            return {"net": create_model(self.model_name, **self.model_overrides)}

        def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
            return {"net": torch.optim.AdamW(self.nets["net"].parameters(), lr=self.optim_config["lr"])}

        def train_step(self, batch, step) -> dict[str, torch.Tensor]:
            with self.autocast():
                out = self.nets["net"](batch["comp"], batch["matte"])        # [B, T, 3, H, W]
            loss = ((out.float() - batch["real"]) ** 2).mean()
            self.optimize("net", loss, name="rec")
            return {"rec": loss}

        def harmonizer(self) -> Harmonizer:
            return self.raw["net"]

The framework calls, in order: `build_models()` (then moves each module to the device and, under DDP, wraps
it: `self.nets` holds the wrapped modules to call in `train_step`, `self.raw` the plain ones whose weights are
saved), `build_optimizers()`, `build_schedulers(total_steps)`, then `train_step(batch, step)` once per step
and `scheduler.step()` for every scheduler after it. The default scheduler is linear warm-up then cosine
decay, driven by `optim.warmup_steps` / `optim.min_lr_ratio`."""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import nn

from vh.core.errors import VhError
from vh.core.models.base import Harmonizer


class NonFiniteLossError(VhError, FloatingPointError):
    """A loss became NaN or Inf; training stops rather than writing garbage weights."""

    def __init__(self, step: int, name: str, value: float):
        super().__init__(
            f"loss {name!r} is {value} at step {step}; stopping (lower optim.lr, check the data, "
            f"or resume from the last checkpoint)"
        )
        self.step, self.name, self.value = step, name, value


class TrainTask:
    """Base class of a trainable model family. Subclasses implement the four marked methods."""

    #: the model registry name written into checkpoints (what `load_checkpoint` rebuilds); set by subclasses.
    model_name: str = ""

    def __init__(self, config: dict[str, Any], device: torch.device, precision: str = "fp32"):
        self.config = (
            config  # the whole resolved run config; tasks read their sections ("model", "loss", ...)
        )
        self.device = torch.device(device)
        self.precision = precision  # "bf16" enables autocast on CUDA; "fp32" disables it
        self.nets: dict[str, nn.Module] = {}
        self.raw: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, torch.optim.lr_scheduler.LRScheduler] = {}
        self.step = 0  # set by the framework before each train_step, used in error messages
        # The "model" section: an optional registry `name` (default: the class's model_name), the rest are
        # config overrides for create_model.
        model_section = dict(config.get("model", {}))
        self.model_name = model_section.pop("name", type(self).model_name)
        self.model_overrides: dict[str, Any] = model_section

    # ---- to implement -------------------------------------------------------------------------------------

    def build_models(self) -> dict[str, nn.Module]:
        """Build every network from the config, on the CPU; keys name them (e.g. {"G": ..., "D": ...})."""
        raise NotImplementedError

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """One optimizer per independently stepped group, over the parameters of `self.nets` (or
        `self.raw`)."""
        raise NotImplementedError

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor | float]:
        """One optimisation step: forward, backward(s) and optimizer step(s); returns scalar losses to log."""
        raise NotImplementedError

    def harmonizer(self) -> Harmonizer:
        """The (unwrapped) Harmonizer that is validated and checkpointed; its weights are the product."""
        raise NotImplementedError

    # ---- optional overrides -------------------------------------------------------------------------------

    def build_schedulers(self, total_steps: int) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """Per-step LR schedules; default: linear warm-up to the optimizer's lr, then cosine decay."""
        warmup = int(self.optim_config.get("warmup_steps", 0))
        floor = float(self.optim_config.get("min_lr_ratio", 0.0))
        return {name: warmup_cosine(opt, warmup, total_steps, floor) for name, opt in self.optimizers.items()}

    def eval_models(self) -> dict[str, nn.Module]:
        """Networks whose weights are saved besides the harmonizer (e.g. a discriminator), unwrapped."""
        return dict(self.raw)

    def checkpoint_data(self) -> dict[str, Any]:
        """Extra JSON-able facts for the checkpoint sidecar (loss weights, ...)."""
        return {}

    # ---- helpers for subclasses ---------------------------------------------------------------------------

    @property
    def optim_config(self) -> dict[str, Any]:
        return self.config.get("optim", {})

    def autocast(self) -> contextlib.AbstractContextManager:
        """bf16 autocast on CUDA when precision is "bf16"; a no-op otherwise (CPU runs stay fp32 and
        exact)."""
        if self.precision == "bf16" and self.device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def check_finite(self, loss: torch.Tensor, name: str) -> None:
        """Raise NonFiniteLossError naming the loss and step; called before any backward.

        Under DDP the verdict is agreed across ranks (one scalar all-reduce): a rank that stopped alone would
        leave the others blocked forever in the gradient all-reduce of their backward.
        """
        value = float(loss.detach())
        bad = not math.isfinite(value)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            flag = torch.tensor([1.0 if bad else 0.0], device=loss.device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            if flag.item() > 0 and not bad:
                raise NonFiniteLossError(self.step, f"{name} (on another rank)", float("nan"))
        if bad:
            raise NonFiniteLossError(self.step, name, value)

    def optimize(
        self, optimizer: str, loss: torch.Tensor, name: str = "loss", clip: float | None = None
    ) -> None:
        """zero_grad, backward, optional grad-norm clip, step, for the optimizer named `optimizer`.

        The finiteness check comes first so a NaN never reaches the weights (or the other DDP ranks'
        gradients)."""
        self.check_finite(loss, name)
        opt = self.optimizers[optimizer]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if clip is not None:
            params = [p for group in opt.param_groups for p in group["params"] if p.grad is not None]
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()

    @staticmethod
    def requires_grad(modules: nn.Module | list[nn.Module], flag: bool) -> None:
        """Freeze or unfreeze networks, e.g. D while G steps."""
        for module in modules if isinstance(modules, list) else [modules]:
            for p in module.parameters():
                p.requires_grad_(flag)

    def parameters(self) -> Iterator[nn.Parameter]:
        for module in self.raw.values():
            yield from module.parameters()


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int, min_ratio: float = 0.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over `warmup_steps`, then half-cosine from 1 to `min_ratio` at `total_steps`."""

    def factor(step: int) -> float:
        if warmup_steps > 0 and step < warmup_steps:
            return (step + 1) / warmup_steps
        span = max(1, total_steps - warmup_steps)
        progress = min(1.0, (step - warmup_steps) / span)
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


# ---- registry ---------------------------------------------------------------------------------------------

_TASKS: dict[str, type[TrainTask]] = {}


def register_task(name: str) -> Callable[[type[TrainTask]], type[TrainTask]]:
    """Class decorator: make a TrainTask subclass available as `task: <name>` in configs."""

    def wrap(cls: type[TrainTask]) -> type[TrainTask]:
        if name in _TASKS and _TASKS[name] is not cls:
            raise ValueError(f"task {name!r} is registered twice")
        _TASKS[name] = cls
        return cls

    return wrap


def _import_task_module(name: str) -> None:
    # A task named "x" lives in vh.training.tasks.x by convention, so configs need no import list.
    module = f"vh.training.tasks.{name}"
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:  # the module exists but one of its own imports is missing: a real error
            raise


def get_task(name: str) -> type[TrainTask]:
    if name not in _TASKS:
        _import_task_module(name)
    if name not in _TASKS:
        known = ", ".join(list_tasks()) or "none"
        raise VhError(f"unknown training task {name!r}; available tasks: {known}")
    return _TASKS[name]


def list_tasks() -> list[str]:
    """Registered task names, after importing the task modules that ship with vh."""
    import pkgutil

    from vh.training import tasks as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "base" and info.name not in _TASKS:
            try:
                _import_task_module(info.name)
            except Exception as exc:  # noqa: BLE001 - a broken task module must not hide the others
                logging.getLogger("vh.training").warning(
                    "task module %s failed to import: %s", info.name, exc
                )
    return sorted(_TASKS)


def create_task(
    name: str, config: dict[str, Any], device: torch.device | str, precision: str = "fp32"
) -> TrainTask:
    return get_task(name)(config, torch.device(device), precision)
