"""`vh train`: config -> data -> task -> (DDP) loop -> checkpoints, TensorBoard logs and validation.

    vh train training/configs/vhmae_base.yaml --run-dir runs/vhmae --set optim.lr=5e-4
    torchrun --nproc_per_node 8 -m vh.training.cli CONFIG --run-dir runs/vhmae       # one process per GPU

Run folder:

    RUN/config.yaml                         the resolved config (file + --set overrides + defaults)
    RUN/checkpoints/ckpt-0001000.safetensors/.json    the harmonizer, loadable by vh.core.checkpoint alone
    RUN/checkpoints/state-0001000.pt        everything else a resume needs: all networks, optimizers,
                                            schedulers, loop position and RNG states (torch.save)
    RUN/tb/                                 TensorBoard scalars: losses, learning rates, validation metrics

Resume (`--resume`, or `--resume PATH` to a state file) restores all of it, so a resumed run continues bit for
bit as if it had never stopped: data order comes from `EpochSampler` (a pure function of seed, epoch and
position) and loader workers never touch the global RNG.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import random
import signal
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vh.core.errors import InputError, OutputError, Terminated
from vh.core.io.publish import atomic_write
from vh.core.options import check_fields, nearest, option

log = logging.getLogger("vh.training")


@dataclass
class TrainConfig:
    """The `train:` section."""

    batch_size: int = option(8, help="clips per step, per process", min=1)
    epochs: int = option(1, help="passes over data.length clips", min=1)
    steps_per_epoch: int | None = option(None, help="default: the sampler's batches per epoch", min=1)
    stop_at_step: int | None = option(
        None, help="stop early (state saved) at this global step: time-boxed jobs, tests", min=1
    )
    # fine-tuning: start from these weights (a checkpoint path, or a model whose weights ship); a resumed run
    # restores its own weights instead
    init_from: str | None = None
    num_workers: int = option(2, help="data loader processes; 0 loads in the training process", min=0)
    seed: int = 0
    precision: str = option(
        "bf16", help="bf16 autocast on CUDA; CPU always runs fp32", choices=("bf16", "fp32")
    )
    log_every: int = option(20, help="steps between logged losses", min=1)
    ckpt_every: int = option(
        1000, help="steps; 0: only at the end of every epoch and on stop, when one is written anyway", min=0
    )
    keep_last: int = option(3, help="state files kept (older ones are deleted; checkpoints stay)", min=1)
    val_every: int = option(0, help="steps; 0 = at the end of each epoch only", min=0)
    find_unused_parameters: bool = False  # DDP: set when some parameters get no gradient in a step
    progress: bool = True


@dataclass
class ValConfig:
    """The `val:` section: a HYouTube-layout folder scored with the protocol metrics."""

    root: str | None = None
    split: str = "test"
    clips: int | None = option(None, help="the first so many clips; default all", min=1)
    frames: int | None = option(None, help="the first so many frames of each; default all", min=1)


def _section(cls, d: dict[str, Any] | None, name: str):
    return cls(**check_fields(cls, d or {}, name))


# ---- config -----------------------------------------------------------------------------------------------


def parse_override(text: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a", "b", "c"], YAML-parsed value)."""
    import yaml

    if "=" not in text:
        raise InputError(f"--set expects KEY=VALUE (e.g. optim.lr=1e-4), got {text!r}")
    key, value = text.split("=", 1)
    try:
        parsed = yaml.safe_load(value) if value else None
    except yaml.YAMLError as exc:
        raise InputError(f"--set {key}: cannot parse {value!r}: {exc}") from exc
    if isinstance(parsed, str):  # YAML 1.1 reads "1e-4" as a string; users mean a number
        try:
            parsed = float(parsed)
        except ValueError:
            pass
    return key.strip().split("."), parsed


def load_config(path: str | os.PathLike, overrides: list[str] = ()) -> dict[str, Any]:
    """The YAML file with `--set` overrides applied; relative data paths are kept as written."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise InputError(f"config file not found: {path}")
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"config {path} is not valid YAML: {str(exc).splitlines()[0]}") from exc
    if not isinstance(config, dict):
        raise InputError(f"config {path} must be a mapping at the top level")
    for text in overrides:
        keys, value = parse_override(text)
        node = config
        for k in keys[:-1]:
            node = node.setdefault(k, {})
            if not isinstance(node, dict):
                raise InputError(f"--set {text}: {k} is not a section")
        node[keys[-1]] = value
    if not config.get("task"):
        raise InputError(f"config {path} names no task (add e.g. `task: vhmae`)")
    check_keys(config)
    return config


@dataclass
class OptimKeys:
    """The `optim:` keys, their kinds and ranges. Each key left out takes its task's default (tasks/*.py)."""

    lr: float | None = option(None, help="peak learning rate", min=0.0)
    betas: list | None = None  # Adam's two betas, each in [0, 1): checked in check_keys
    weight_decay: float | None = option(None, help="decoupled weight decay", min=0.0)
    schedule: str | None = None  # one of _SCHEDULES: checked in check_keys
    warmup_steps: int | None = option(None, help="linear warm-up steps", min=0)
    warmup_epochs: float | None = option(None, help="warm-up in epochs; wins over warmup_steps", min=0.0)
    min_lr_ratio: float | None = option(None, help="the cosine's floor, as a share of lr", min=0.0, max=1.0)


@dataclass
class LossKeys:
    """The `loss:` keys; each left out takes its task's default."""

    alpha: float | None = option(None, help="VHMAE: weight of L_align", min=0.0)
    beta: float | None = option(None, help="VHMAE: weight of L_balance", min=0.0)
    harm: float | None = option(
        None, help="VHMAE: weight of L_harm, the excess error of clips made worse than the composite", min=0.0
    )
    again: float | None = option(
        None, help="VHMAE: weight of L_again, L_rec of a second pass over the model's own result", min=0.0
    )
    relative: float | None = option(
        None, help="VHMAE: weight of L_relative, each clip's error as a share of its composite's", min=0.0
    )
    lambda_temporal: float | None = option(None, help="Huang: weight of the temporal loss", min=0.0)
    lambda_adversarial: float | None = option(None, help="Huang: weight of the adversarial loss", min=0.0)


@dataclass
class AugmentKeys:
    """The `augment:` keys; each left out takes its task's default."""

    rotate: bool | None = None
    flip: bool | None = None


# The top-level keys a run config may hold. A typo (`lr_rate`, `optm`) would otherwise be read as "not given"
# and the run would silently train with a default. Sections with a dataclass have their keys and values
# checked by it: train, val and data where they are resolved (resolve), optim, loss and augment here.
_KEYS: dict[str, type | None] = {
    "task": None,
    "task_modules": None,
    "base": None,
    "grid": None,
    "data": None,
    "train": None,
    "val": None,
    "model": None,  # checked against the named model's config fields
    "optim": OptimKeys,
    "loss": LossKeys,
    "augment": AugmentKeys,
}
_SECTIONS = ("data", "train", "val", "model", "optim", "loss", "augment")
_SCHEDULES = ("constant", "cosine")


def check_keys(config: dict[str, Any]) -> None:
    """Every key known and every value of a checked section of its kind and range, else one InputError
    naming it (and, for a typo, the nearest valid key)."""
    for key, value in config.items():
        if key not in _KEYS:
            raise InputError(f"unknown config key {key!r}{nearest(key, _KEYS)}")
        if key in _SECTIONS and value is not None and not isinstance(value, dict):
            raise InputError(f"config key {key!r} is a section (KEY: VALUE lines), got {value!r}")
        if _KEYS[key] is not None and value:
            check_fields(_KEYS[key], value, key)
        elif key == "model" and value and (known := _model_keys(config)) is not None:
            for sub in value:
                if sub not in known:
                    raise InputError(
                        f"unknown config key '{key}.{sub}'{nearest(sub, known)}; {key} keys: "
                        f"{', '.join(sorted(known))}"
                    )
    optim = config.get("optim") or {}
    schedule, betas = optim.get("schedule"), optim.get("betas")
    if schedule is not None and schedule not in _SCHEDULES:
        raise InputError(
            f"optim.schedule must be one of {', '.join(_SCHEDULES)}, got {schedule!r}"
            f"{nearest(str(schedule), _SCHEDULES)}"
        )
    if betas is not None and not (
        isinstance(betas, (list, tuple))
        and len(betas) == 2
        and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1 for b in betas)
    ):
        raise InputError(f"optim.betas must be two numbers in [0, 1), e.g. [0.9, 0.95]; got {betas!r}")


def _model_keys(config: dict[str, Any]) -> set[str] | None:
    """`name` plus the config fields of the model the section names (None when they cannot be told)."""
    import dataclasses
    import typing

    from vh.core.models import registry

    name = (config.get("model") or {}).get("name")
    if not name:
        return None
    try:
        cls = typing.get_type_hints(registry._FACTORIES[registry.resolve_name(name)]).get("return")
        cfg = typing.get_type_hints(cls.__init__).get("config")
        cfg = next((a for a in typing.get_args(cfg) if dataclasses.is_dataclass(a)), cfg)
        return {"name", *(f.name for f in dataclasses.fields(cfg))}
    except Exception:  # noqa: BLE001 - an unknown model is reported by the task, with the list of models
        return None


def import_task_modules(config: dict[str, Any]) -> None:
    """`task_modules: [pkg.mod, ...]` registers tasks defined outside vh.training.tasks (plugins, tests)."""
    import importlib

    for name in config.get("task_modules") or []:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise InputError(f"cannot import task module {name!r}: {exc}") from exc


def resolve(config: dict[str, Any]) -> tuple[dict[str, Any], TrainConfig, ValConfig, Any]:
    """Fill defaults; returns (resolved dict, train, val, data configs)."""
    from vh.training.data import DataConfig

    train = _section(TrainConfig, config.get("train"), "train")
    val = _section(ValConfig, config.get("val"), "val")
    data = DataConfig.from_dict(config.get("data") or {})
    resolved = copy.deepcopy(config)
    resolved["train"], resolved["val"], resolved["data"] = asdict(train), asdict(val), asdict(data)
    return resolved, train, val, data


# ---- distributed ------------------------------------------------------------------------------------------


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            torch.distributed.barrier()


def init_distributed(device: str | None) -> Dist:
    """torchrun sets WORLD_SIZE/RANK/LOCAL_RANK; NCCL on CUDA, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    cuda = torch.cuda.is_available() if device in (None, "auto") else device.startswith("cuda")
    backend = "nccl" if cuda else "gloo"
    torch.distributed.init_process_group(backend)
    return Dist(torch.distributed.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")))


def pick_device(requested: str | None, dist: Dist) -> torch.device:
    """`auto` (CUDA if any), `cuda` (this rank's GPU under torchrun), else as `parse_device` reads."""
    from vh.core.engine import parse_device

    if requested in (None, "auto"):
        requested = "cuda" if torch.cuda.is_available() else "cpu"
    device = parse_device(f"cuda:{dist.local_rank}" if requested == "cuda" else requested)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


# ---- state ------------------------------------------------------------------------------------------------


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def worker_start_method() -> str:
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class ScalarLog:
    """Scalars of a run: always `metrics.jsonl` in the run folder (the learning curve, readable without any
    viewer), and TensorBoard's `tb/` too when tensorboard is installed (the `train` extra)."""

    def __init__(self, run_dir: Path) -> None:
        import json
        import time

        self.path = run_dir / "metrics.jsonl"
        # A resumed run counts on from the time already spent, so `seconds` is the run's training time.
        spent = 0.0
        if self.path.is_file():
            lines = self.path.read_text().splitlines()
            spent = float(json.loads(lines[-1])["seconds"]) if lines else 0.0
        self.file = open(self.path, "a", buffering=1)  # noqa: SIM115 - closed by close(); line-buffered
        self.start = time.monotonic() - spent
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            log.warning(
                "tensorboard is not installed (pip install 'vh[train]'): scalars go to %s only", self.path
            )
            self.tb = None
        else:
            self.tb = SummaryWriter(str(run_dir / "tb"))

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        import json
        import time

        self.file.write(
            json.dumps(
                {
                    "tag": tag,
                    "value": float(value),
                    "step": int(step),
                    "seconds": round(time.monotonic() - self.start, 2),
                }
            )
            + "\n"
        )
        if self.tb is not None:
            self.tb.add_scalar(tag, value, step)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


class StopRequest:
    """SIGINT or SIGTERM during training: finish the step in flight, save, then stop. A stop at a step
    boundary keeps the saved state consistent (a step is never half applied) and `--resume` exact. The
    first signal restores the previous handlers, so a second one interrupts at once."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self) -> None:
        self.signal: str | None = None

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():  # handlers live in the main thread
            yield
            return
        sigs = [getattr(signal, name) for name in self.SIGNALS]

        def handler(signum: int, _frame: object) -> None:
            self.signal = signal.Signals(signum).name
            for sig in sigs:
                signal.signal(sig, previous[sig])

        previous = {sig: signal.signal(sig, handler) for sig in sigs}
        try:
            yield
        finally:
            for sig in sigs:
                if signal.getsignal(sig) is handler:
                    signal.signal(sig, previous[sig])


def latest_state(run_dir: Path) -> Path | None:
    states = sorted((run_dir / "checkpoints").glob("state-*.pt"))
    return states[-1] if states else None


class Trainer:
    """One training run: owns the task, the loader, the loop state and the run folder."""

    def __init__(self, config: dict[str, Any], run_dir: str | os.PathLike, device: str | None = None):
        from vh.training.data import ClipDataset, EpochSampler
        from vh.training.tasks.base import create_task

        import_task_modules(config)
        self.config, self.train_cfg, self.val_cfg, self.data_cfg = resolve(config)
        self.run_dir = Path(run_dir)
        self.dist = init_distributed(device)
        self.device = pick_device(device, self.dist)
        seed_everything(self.train_cfg.seed + self.dist.rank)  # ranks differ in dropout etc., not in init

        self.dataset = ClipDataset(self.data_cfg)
        self.sampler = EpochSampler(
            len(self.dataset), self.dist.rank, self.dist.world, seed=self.data_cfg.seed
        )
        per_epoch = len(self.sampler) // self.train_cfg.batch_size
        self.steps_per_epoch = self.train_cfg.steps_per_epoch or per_epoch
        if self.steps_per_epoch < 1 or self.steps_per_epoch > per_epoch:
            raise InputError(
                f"{self.steps_per_epoch} steps per epoch but the data gives {per_epoch} batches of "
                f"{self.train_cfg.batch_size} per process; adjust data.length or train.steps_per_epoch"
            )
        self.total_steps = self.steps_per_epoch * self.train_cfg.epochs

        self.task = create_task(self.config["task"], self.config, self.device, self.train_cfg.precision)
        torch.manual_seed(self.train_cfg.seed)  # identical initial weights on every rank
        self.task.raw = self.task.build_models()
        if self.train_cfg.init_from:
            self._init_weights(self.train_cfg.init_from)
        self.task.raw = {k: m.to(self.device) for k, m in self.task.raw.items()}
        self.task.nets = {k: self._wrap(m) for k, m in self.task.raw.items()}
        seed_everything(self.train_cfg.seed + self.dist.rank)
        self.task.optimizers = self.task.build_optimizers()
        self.task.schedulers = self.task.build_schedulers(self.total_steps)
        from vh.training.loop import LoopState

        self.state = LoopState()
        self.writer = None
        self.stop = StopRequest()

    def _init_weights(self, source: str) -> None:
        """Load the harmonizer's weights (every network it holds) from `source`, before anything moves to
        the device; the architecture must match exactly."""
        from vh.core.checkpoint import load_checkpoint, shipped_checkpoint
        from vh.core.errors import UnknownModelError
        from vh.core.models.registry import resolve_name

        path: str | Path | None = source
        if not Path(source).with_suffix(".safetensors").is_file():
            try:
                path = shipped_checkpoint(resolve_name(source))
            except UnknownModelError:
                path = None
            if path is None:
                raise InputError(
                    f"train.init_from {source!r} is neither a checkpoint nor a model whose weights ship"
                )
        donor, meta = load_checkpoint(path)
        target = self.task.harmonizer()
        try:
            target.load_state_dict(donor.state_dict())
        except RuntimeError as exc:
            raise InputError(
                f"train.init_from {source!r} holds {meta['model']!r} weights that do not fit "
                f"{self.task.model_name!r}: {str(exc).splitlines()[0]}"
            ) from exc
        log.info("weights initialised from %s (step %s)", path, meta.get("step"))

    def _wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        if self.dist.world <= 1 or not any(p.requires_grad for p in module.parameters()):
            return module
        ids = [self.device.index] if self.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(
            module, device_ids=ids, find_unused_parameters=self.train_cfg.find_unused_parameters
        )

    # -- persistence --

    def save(self, final: bool = False) -> Path | None:
        """Checkpoint (safetensors + sidecar) and resumable state, from rank 0; all ranks wait for it."""
        from vh.core.checkpoint import save_checkpoint

        path = None
        # every rank's RNG state (they differ: seed + rank), so a resumed DDP run draws what it would have
        # drawn
        rngs = [rng_state()]
        if self.dist.world > 1:
            rngs = [None] * self.dist.world
            torch.distributed.all_gather_object(rngs, rng_state())
        if self.dist.main:
            ckpt_dir = self.run_dir / "checkpoints"
            step = self.state.step
            path = save_checkpoint(
                ckpt_dir / f"ckpt-{step:07d}",
                self.task.harmonizer(),
                self.task.model_name,
                step,
                data=self.dataset.summary(),
                task=self.config["task"],
                epoch=self.state.epoch,
                train=self.task.checkpoint_data(),
                metrics=self.state.best,
            )
            state = {
                "step": step,
                "loop": asdict(self.state),
                "nets": {k: m.state_dict() for k, m in self.task.raw.items()},
                "optimizers": {k: o.state_dict() for k, o in self.task.optimizers.items()},
                "schedulers": {k: s.state_dict() for k, s in self.task.schedulers.items()},
                "rng": rngs,
                "config": self.config,
            }
            with atomic_write(ckpt_dir / f"state-{step:07d}.pt") as tmp:
                torch.save(state, tmp)
            for old in sorted(ckpt_dir.glob("state-*.pt"))[: -self.train_cfg.keep_last]:
                old.unlink()
        self.dist.barrier()
        return path

    def load(self, path: Path) -> None:
        from vh.training.loop import LoopState

        try:
            state = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise InputError(f"cannot read training state {path}: {exc}") from exc
        if set(state["nets"]) != set(self.task.raw):
            raise InputError(
                f"{path} holds networks {sorted(state['nets'])}, this task has {sorted(self.task.raw)}"
            )
        for k, m in self.task.raw.items():
            m.load_state_dict(state["nets"][k])
        for k, o in self.task.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        for k, s in self.task.schedulers.items():
            s.load_state_dict(state["schedulers"][k])
        rngs = state["rng"]
        if len(rngs) != self.dist.world:
            log.warning(
                "%s was saved by %d processes, resuming with %d: random streams restart",
                path,
                len(rngs),
                self.dist.world,
            )
        set_rng_state(rngs[self.dist.rank % len(rngs)])
        self.state = LoopState(**state["loop"])
        if self.state.batch_in_epoch >= self.steps_per_epoch:  # saved at an epoch's end
            self.state.epoch, self.state.batch_in_epoch = self.state.epoch + 1, 0
        log.info("resumed from %s at step %d (epoch %d)", path, self.state.step, self.state.epoch)

    # -- loop --

    def validate(self) -> dict[str, float]:
        from vh.training.loop import evaluate

        if not self.val_cfg.root or not self.dist.main:
            return {}
        scores = evaluate(
            self.task.harmonizer(),
            self.val_cfg.root,
            self.val_cfg.split,
            self.val_cfg.clips,
            self.val_cfg.frames,
            self.device,
        )
        log.info(
            "step %d validation: %s", self.state.step, ", ".join(f"{k} {v:.4g}" for k, v in scores.items())
        )
        if self.writer:
            for k, v in scores.items():
                self.writer.add_scalar(f"val/{k}", v, self.state.step)
        if "fmse" in scores and scores["fmse"] < self.state.best.get("fmse", float("inf")):
            self.state.best = {**scores, "step": self.state.step}
        return scores

    def _on_step(self, losses: dict[str, float]) -> bool:
        cfg, step = self.train_cfg, self.state.step
        if self.writer and (step % cfg.log_every == 0 or step == 1):
            for k, v in losses.items():
                self.writer.add_scalar(f"train/{k}", v, step)
            for name, opt in self.task.optimizers.items():
                self.writer.add_scalar(f"lr/{name}", opt.param_groups[0]["lr"], step)
        if cfg.val_every and step % cfg.val_every == 0:
            self.validate()
        stop = (cfg.stop_at_step is not None and step >= cfg.stop_at_step) or self._stop_requested()
        if stop or (cfg.ckpt_every and step % cfg.ckpt_every == 0):
            self.save()
        return stop

    def _stop_requested(self) -> bool:
        """Whether a signal asked any process to stop. DDP ranks agree first, one scalar per step: a rank that
        saved and stopped while another went on would leave both waiting on each other."""
        if self.dist.world > 1:
            device = self.device if self.device.type == "cuda" else torch.device("cpu")
            flag = torch.tensor([float(self.stop.signal is not None)], device=device)
            torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
            if flag.item() and self.stop.signal is None:
                self.stop.signal = "a signal to another rank"
        return self.stop.signal is not None

    def fit(self) -> dict[str, Any]:
        from torch.utils.data import DataLoader

        from vh.training.data import init_worker
        from vh.training.loop import train_one_epoch

        if self.dist.main:
            import yaml

            try:
                (self.run_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
                (self.run_dir / "config.yaml").write_text(yaml.safe_dump(self.config, sort_keys=False))
            except OSError as exc:
                raise OutputError(f"cannot write the run folder {self.run_dir}: {exc.strerror}") from exc
            self.writer = ScalarLog(self.run_dir)
        self.dist.barrier()
        cfg = self.train_cfg
        history: dict[str, Any] = {"epochs": []}
        # One loader for the whole run: its workers persist across epochs (the sampler, iterated here in the
        # main process, still draws each epoch's indices). They start by forkserver/spawn, never fork: a
        # worker forked after torch's OpenMP pool has run deadlocks in its first torch call.
        workers = cfg.num_workers > 0
        loader = DataLoader(
            self.dataset,
            batch_size=cfg.batch_size,
            sampler=self.sampler,
            num_workers=cfg.num_workers,
            pin_memory=self.device.type == "cuda",
            drop_last=True,
            generator=torch.Generator(),  # keeps the global RNG untouched: resume stays exact
            persistent_workers=workers,
            worker_init_fn=init_worker if workers else None,
            multiprocessing_context=worker_start_method() if workers else None,
        )
        with self.stop.installed():
            try:
                while self.state.epoch < cfg.epochs:
                    self.sampler.set_epoch(self.state.epoch, skip=self.state.batch_in_epoch * cfg.batch_size)
                    means = train_one_epoch(
                        self.task,
                        loader,
                        self.state,
                        self.steps_per_epoch,
                        self._on_step,
                        cfg.progress and self.dist.main,
                    )
                    history["epochs"].append(means)
                    at_stop_step = cfg.stop_at_step is not None and self.state.step >= cfg.stop_at_step
                    if self.stop.signal or at_stop_step:
                        history["stopped_at"] = self.state.step
                        break
                    log.info(
                        "epoch %d: %s", self.state.epoch, ", ".join(f"{k} {v:.4g}" for k, v in means.items())
                    )
                    if not cfg.val_every:
                        self.validate()
                    if self.state.step % max(cfg.ckpt_every, 1) != 0 or not cfg.ckpt_every:
                        self.save()
                    self.state.epoch += 1
                    self.state.batch_in_epoch = 0
            finally:
                if self.writer:
                    self.writer.close()
        if self.stop.signal:
            log.warning(
                "%s: stopped at step %d with its state saved in %s; continue with --resume",
                self.stop.signal,
                self.state.step,
                self.run_dir / "checkpoints",
            )
            raise Terminated() if self.stop.signal == "SIGTERM" else KeyboardInterrupt()
        history["step"] = self.state.step
        history["best"] = self.state.best
        return history


def run_training(
    config: dict[str, Any],
    run_dir: str | os.PathLike,
    device: str | None = None,
    resume: str | bool | None = None,
) -> dict[str, Any]:
    trainer = Trainer(config, run_dir, device)
    try:
        if resume:
            path = latest_state(trainer.run_dir) if resume is True else Path(resume)
            if path is None or not path.is_file():
                raise InputError(f"nothing to resume: no state file in {trainer.run_dir / 'checkpoints'}")
            trainer.load(path)
        elif latest_state(trainer.run_dir) is not None:
            raise InputError(
                f"{trainer.run_dir} already holds a run; pass --resume to continue it or choose another "
                "--run-dir"
            )
        return trainer.fit()
    finally:
        if trainer.dist.world > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
