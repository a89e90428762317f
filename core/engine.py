"""The inference engine: one path from plate frames to harmonized frames, used by the CLI, the server and
evaluation.

    engine = Engine("stats")                                   # built once per (model, device)
    for out in engine.run(frames, mattes, colorspace="ACEScg"):  # iterables of float32 [H, W, C] / [H, W]
        ...                                                     # float32 [H, W, C], same shape, in order

Per frame: validate -> resize to the model's input size (INTER_AREA, matte the same way and kept soft) ->
colour to the working space -> model over frame windows -> fit a colour transform low-res(comp) ->
low-res(output) -> apply it to the full-resolution plate and composite with the original full-res matte (times
`strength`) in the plate's own colourspace, so the background is bit-exact (one call:
`vh.core.transfer.ColorTransfer.carry`).

Every way of running a model goes through `EngineStream`: `vh harmonize`, the server, `vh eval` (model-only
scoring is the "upsample" transfer: the model's low-res output, upsampled and composited), training validation
(through `vh.core.evaluation`) and `vh detect` (`matte_only`: the auto matte the stream would repaint by).

Windows. A model with `window == 1` streams frame by frame. A window model (VHMAE: 8) runs on windows that
start every `stride = window // 2` frames; each frame's low-res output is the weighted mean of the windows
that cover it with periodic-Hann weights sin^2(pi (k + 1/2) / window). With stride = window / 2 those weights
sum to 1 across overlapping windows, so every frame is a smooth cross-fade of two windows and there is no seam
at window borders. Frames past the end of the clip are mirrored (t -> 2n - 1 - t, periodically for clips
shorter than a window), so a one-frame or odd-length clip runs through the same code.

Memory. A frame leaves the engine as soon as the last window covering it has run, so the engine holds at most
`window + stride * (batch - 1)` full-resolution frames; `batch` is lowered automatically when that many frames
would exceed `memory_budget` bytes (4K float frames are ~100 MB each).

Edge cases (documented behaviour):
- an empty matte: the frame is returned unchanged (bit-exact) and the model is skipped for windows whose
  mattes are all empty; one warning per clip says how many frames.
- a full-frame matte: there is no background to match; the model's output is used as is (classical statistics
  models then have nothing to transfer from and return the composite unchanged).
- `matte=None` (auto matte): only for models with `supports_auto_matte`. A model with a `detect(comp)` method
  predicts the matte: its raw map goes to the model, and the map cleaned in frame order (`vh.core.auto_matte`:
  temporal smoothing, the detector's `matte_threshold`, largest components, feather) drives the transfer and
  the full-res composite (upsampled bilinearly). A frame whose cleaned matte is empty is returned unchanged
  (bit-exact), with one warning per clip saying how many. A model without `detect` gets its matte from where
  it changed the image.
- NaN/Inf pixels, matte/plate size mismatches and size changes mid-clip are `InputError`s naming the frame.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import cv2
import numpy as np
import torch

from vh.core.auto_matte import AutoMatte, AutoMatteConfig
from vh.core.errors import InputError, MissingWeightsError, ResourceError
from vh.core.models.base import Harmonizer
from vh.core.models.guard import ConsensusGuard, GuardConfig
from vh.core.runtime import cores
from vh.core.transfer import ColorTransfer, PlateSpace, TransferConfig

log = logging.getLogger(__name__)

#: (comp [B, T, 3, h, w], matte [B, T, 1, h, w] | None) -> harmonized [B, T, 3, h, w], float32 on the CPU.
InferFn = Callable[[torch.Tensor, "torch.Tensor | None"], torch.Tensor]

#: Long side of the working resolution for models that accept any size (input_size None).
ANY_SIZE_LONG_SIDE = 512
#: Default bound on full-resolution frames held in flight (bytes).
DEFAULT_MEMORY_BUDGET = 1 << 30


def parse_device(device: str | torch.device) -> torch.device:
    """'cpu', 'cuda' or 'cuda:N' -> torch.device; InputError when it does not exist here."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise InputError(f"unknown device {device!r}; use 'cpu' or 'cuda:N'") from exc
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise InputError(f"unsupported device {device!r}; use 'cpu' or 'cuda:N'")
    if not torch.cuda.is_available():
        raise InputError(f"device {device!r} requested but CUDA is not available on this machine")
    index = dev.index if dev.index is not None else torch.cuda.current_device()
    if index >= torch.cuda.device_count():
        raise InputError(
            f"device {device!r} does not exist; this machine has {torch.cuda.device_count()} CUDA device(s)"
        )
    return torch.device("cuda", index)


def count_nonfinite(values: np.ndarray) -> int:
    """How many NaN/Inf values a float array holds."""
    return values.size - int(np.count_nonzero(np.isfinite(values)))


def require_finite(bad: int, label: str | int, what: str) -> None:
    """The error for a frame whose plate or matte (`what`) holds `bad` NaN/Inf values, if any."""
    if bad:
        raise InputError(f"frame {label}: {bad} NaN/Inf pixel value(s) in the {what}")


def window_weights(window: int) -> np.ndarray:
    """Cross-fade weights [window] of one window: periodic Hann, a partition of unity at stride window / 2."""
    if window == 1:
        return np.ones(1, np.float32)
    k = np.arange(window, dtype=np.float64)
    return (np.sin(np.pi * (k + 0.5) / window) ** 2).astype(np.float32)


def mirror_index(t: int, n: int) -> int:
    """Index of the real frame that stands in for frame t of an n-frame clip (symmetric mirror, periodic)."""
    t %= 2 * n
    return t if t < n else 2 * n - 1 - t


def working_size(model: Harmonizer, height: int, width: int) -> tuple[int, int]:
    """(h, w) the model runs at for a plate of height x width."""
    if model.input_size is not None:
        return tuple(model.input_size)  # type: ignore[return-value]
    scale = min(1.0, ANY_SIZE_LONG_SIDE / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize [H, W(, C)] to size (h, w): area averaging when shrinking (as in training), bilinear when
    growing."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image.copy()
    shrink = h <= image.shape[0] and w <= image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _autocast_dtype() -> torch.dtype:
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class Engine:
    """A model on a device, ready to harmonize any number of clips (one `run`/`stream` per clip).

    `model` is a registered name, a Harmonizer instance, or None: the checkpoint's model, else DEFAULT_MODEL.
    `overrides` are model config fields. `transfer` configures the full-resolution transfer. Learned models,
    however given, run behind the never-worse guard (`guard`, vh.core.models.guard); a learned model without
    weights (none shipped, no checkpoint) is refused with MissingWeightsError.
    """

    def __init__(
        self,
        model: str | Harmonizer | None = None,
        checkpoint: str | None = None,
        device: str | torch.device = "cpu",
        batch: int = 4,
        *,
        transfer: TransferConfig | None = None,
        window_stride: int | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        guard: GuardConfig | None = None,
        **overrides,
    ) -> None:
        if batch < 1:
            raise InputError(f"batch must be at least 1, got {batch}")
        self.device = parse_device(device)
        self.guard = guard or GuardConfig()
        self.guard.validate()
        self.model = self._build(model, checkpoint, overrides)
        self.batch = batch
        self.transfer_config = transfer or TransferConfig()
        self.window = int(self.model.window)
        self.stride = window_stride or max(1, self.window // 2)
        if not 1 <= self.stride <= self.window:
            raise InputError(f"window stride must be in 1..{self.window}, got {self.stride}")
        self.memory_budget = memory_budget
        self._lock = threading.Lock()

    def _guarded(self, model: Harmonizer) -> Harmonizer:
        """Learned (stateless) models run behind the never-worse guard; `GuardConfig(views=1, floor=0,
        direction=-1)` is none."""
        g = self.guard  # a None setting is the model's calibrated one, so not off
        off = g.views <= 1 and g.floor == 0.0 and g.direction == -1.0
        if off or model.stateful or not any(True for _ in model.parameters()):
            return model
        return ConsensusGuard(model, self.guard).to(self.device).eval()

    def _build(self, model: str | Harmonizer, checkpoint: str | None, overrides: dict) -> Harmonizer:
        if isinstance(model, Harmonizer):
            if checkpoint is not None or overrides:
                raise InputError(
                    "pass a checkpoint or overrides with a model name, not with a model instance"
                )
            # the same guard as when loaded from a checkpoint: training validation measures what ships
            return self._guarded(model.to(self.device).eval())
        from vh.core.models.registry import DEFAULT_MODEL, create_model, resolve_name

        if checkpoint is None:  # a model with packaged weights (vh/core/weights) loads them by default
            from vh.core.checkpoint import shipped_checkpoint

            model = model or DEFAULT_MODEL
            shipped = shipped_checkpoint(resolve_name(model))
            checkpoint = None if shipped is None else str(shipped)
        # fixed seed (without touching the caller's RNG) so a model built without weights is reproducible
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            if checkpoint is not None:
                from vh.core.checkpoint import load_checkpoint, read_meta

                named = read_meta(checkpoint)["model"]
                if model and model != named and resolve_name(model) != resolve_name(named):
                    raise InputError(f"checkpoint {checkpoint} holds model {named!r}, not {model!r}")
                built, _ = load_checkpoint(checkpoint, self.device, **overrides)
                return self._guarded(built.eval())
            try:
                built = create_model(model, **overrides)
            except (TypeError, ValueError) as exc:
                raise InputError(f"bad options for model {model!r}: {exc}") from exc
        if any(True for _ in built.parameters()):
            # Untrained weights write plausible-looking garbage with exit 0: refuse instead.
            raise MissingWeightsError(
                f"model {model!r} needs learned weights and none ship with this vh; pass --checkpoint FILE "
                f"(a vh training checkpoint)"
            )
        return built.to(self.device).eval()

    @property
    def torch_threads(self) -> int:
        """The torch intra-op thread count this engine runs best with: every core for a network on the CPU,
        else one. The full-resolution transfer runs one band per core either way (NumPy and OCIO, no torch
        threads); torch's idle workers spin for a while after each op and would take those cores from it."""
        learned = any(True for _ in self.model.parameters())
        return cores() if self.device.type == "cpu" and learned else 1

    # -- the model call --------------------------------------------------------------------------------------

    @torch.inference_mode()
    def infer(self, comp: torch.Tensor, matte: torch.Tensor | None) -> torch.Tensor:
        """One batched model call: comp [B, T, 3, h, w], matte [B, T, 1, h, w] or None -> [B, T, 3, h, w]
        float32 CPU.

        Thread-safe: calls are serialised on the model (stateful models and GPU memory are shared).
        """
        with self._lock:
            comp = comp.to(self.device, torch.float32, non_blocking=True)
            matte = None if matte is None else matte.to(self.device, torch.float32, non_blocking=True)
            try:
                if self.device.type == "cuda":
                    with torch.autocast("cuda", dtype=_autocast_dtype()):
                        out = self.model(comp, matte)
                else:
                    out = self.model(comp, matte)
            except torch.cuda.OutOfMemoryError as exc:
                torch.cuda.empty_cache()
                raise ResourceError(
                    f"{self.device} ran out of memory for a batch of {comp.shape[0]}; lower --batch"
                ) from exc
            return out.float().cpu()

    @property
    def detector(self) -> Harmonizer | None:
        """The model that predicts its own matte (`detect`), unwrapped from the guard; None for others."""
        model = self.model.inner if isinstance(self.model, ConsensusGuard) else self.model
        return model if hasattr(model, "detect") else None

    @torch.inference_mode()
    def detect(self, comp: torch.Tensor) -> torch.Tensor | None:
        """The model's own matte for comp [B, T, 3, h, w] -> [B, T, 1, h, w] (models with `detect`), else
        None."""
        if self.detector is None:
            return None
        with self._lock:
            return self.detector.detect(comp.to(self.device, torch.float32)).float().cpu()

    # -- clips -----------------------------------------------------------------------------------------------

    def stream(
        self,
        colorspace: str,
        config: str | None = None,
        infer: InferFn | None = None,
        *,
        strength: float = 1.0,
        matte_only: bool = False,
    ) -> EngineStream:
        """A push-style stream for one clip; `infer` replaces `self.infer` (e.g. the server's batcher).

        `strength` (0..1) is how much of the correction is applied: the full-res composite uses
        `strength * matte`, so 1 is the full correction and 0 returns every frame as it came. `matte_only`:
        auto-matte frames come out as the model's matte [H, W] (what `push(frame, None)` would repaint by)
        instead of harmonized.
        """
        return EngineStream(self, colorspace, config, infer or self.infer, strength, matte_only)

    def run(
        self,
        frames: Iterable[np.ndarray],
        mattes: Iterable[np.ndarray] | None,
        colorspace: str,
        config: str | None = None,
        **stream_options,
    ) -> Iterator[np.ndarray]:
        """Harmonize one clip; yields float32 [H, W, C] frames in order as soon as their windows are done.

        `mattes` None means auto matte (models with `supports_auto_matte`); `stream_options` as for `stream`.
        """
        s = self.stream(colorspace, config, **stream_options)
        matte_iter = None if mattes is None else iter(mattes)
        for i, frame in enumerate(frames):
            matte = None
            if matte_iter is not None:
                matte = next(matte_iter, None)
                if matte is None:
                    raise InputError(f"the matte has only {i} frame(s) but the plate has more")
            yield from s.push(frame, matte)
        if matte_iter is not None and next(matte_iter, None) is not None:
            raise InputError("the matte has more frames than the plate")
        yield from s.finish()


@dataclass
class _Frame:
    """A frame in flight: its full-res plate until it is finished, its low-res inputs while windows need
    them."""

    label: str
    plate: np.ndarray | None  # [H, W, C] in the plate's colourspace, as given
    matte: np.ndarray | None  # [H, W] 0..1, or None (auto)
    comp_lo: np.ndarray | None  # [h, w, 3] working space, 0..1; None for an empty frame no window needs
    matte_lo: np.ndarray | None  # [h, w] 0..1
    empty: bool
    acc: np.ndarray | None = None  # [h, w, 3] weighted sum of window outputs
    weight: float = 0.0
    detected: list = field(default_factory=list)  # auto-matte estimates [h, w] from the windows, with weights


class EngineStream:
    """One clip through an Engine: `push(frame, matte)` returns finished frames (in order), `finish()` the
    rest."""

    def __init__(
        self,
        engine: Engine,
        colorspace: str,
        config: str | None,
        infer: InferFn,
        strength: float = 1.0,
        matte_only: bool = False,
    ) -> None:
        from vh.core import color

        if not 0.0 <= strength <= 1.0:  # also rejects NaN
            raise InputError(f"strength must be within 0..1, got {strength}")
        self.engine, self._infer, self.strength, self.matte_only = engine, infer, strength, matte_only
        self.model = engine.model
        if matte_only and not hasattr(getattr(self.model, "inner", self.model), "detect"):
            raise InputError(f"model {type(self.model).__name__} cannot predict a matte")
        self.space = PlateSpace(
            color.resolve_colorspace(colorspace, config), color.working_space(config), config
        )
        self.window, self.stride = engine.window, engine.stride
        self.weights = (
            window_weights(self.window) if self.stride < self.window else np.ones(self.window, np.float32)
        )
        self.transfer = ColorTransfer(engine.transfer_config)
        # stateful models keep one estimate per stream along T or across calls, never across B
        self.batch = 1 if self.model.stateful else engine.batch
        self._frames: dict[int, _Frame] = {}
        self._n = 0  # frames pushed
        self._done = 0  # frames returned
        self._next_window = 0  # start of the next window to queue
        self._queued: list[int] = []  # window starts waiting for a model call
        self._ran = 0  # windows run (in order), so frames before _ran * stride have all their windows
        self._shape: tuple[int, ...] | None = None
        self._size_lo: tuple[int, int] | None = None
        self._empty = 0
        self._finished = False
        # the detector's maps, cleaned in frame order (frames finish in order); its calibrated level if it has
        # one
        threshold = getattr(engine.detector, "matte_threshold", AutoMatteConfig.threshold)
        self.auto_matte = AutoMatte(AutoMatteConfig(threshold=threshold))
        if self.model.stateful:
            self.model.reset()

    # -- input -----------------------------------------------------------------------------------------------

    def push(
        self,
        frame: np.ndarray,
        matte: np.ndarray | None,
        label: str | int | None = None,
        *,
        finite: bool = False,
    ) -> list[np.ndarray]:
        """Add the next frame (float32 [H, W, C], C >= 3) and its matte ([H, W] 0..1, or None for auto matte).

        A frame with nothing to repaint (an empty matte, or a model that changed nothing) comes back as the
        very array that was pushed, not a copy.

        `label` names the frame in error messages (e.g. its frame number); default: its 0-based index in the
        clip. `finite`: the caller has already checked frame and matte for NaN/Inf (with `require_finite`), as
        the server does while converting them from the wire."""
        if self._finished:
            raise RuntimeError("push() after finish()")
        if self.matte_only and matte is not None:
            raise RuntimeError("a matte-only stream predicts the matte: push frames without one")
        label = str(self._n if label is None else label)
        frame, matte, empty = self._validate(frame, matte, label, finite)
        if self._size_lo is None:
            self._size_lo = working_size(self.model, *frame.shape[:2])
        if empty and self.window == 1:
            comp_lo = matte_lo = None  # it passes through, and no window of other frames needs it as context
        else:
            # RGBA resizes as it is (a contiguous 4-channel image) and drops alpha after: cheaper than copying
            # RGB out
            rgb = frame if frame.shape[2] in (3, 4) else frame[..., :3]
            comp_lo = resize(rgb, self._size_lo)[..., :3]  # [h, w, 3] plate colourspace
            if self.space.converts:
                from vh.core import color

                comp_lo = color.convert(comp_lo, self.space.colorspace, self.space.working, self.space.config)
            # models see 0..1; full-res values beyond stay on the transfer path
            comp_lo = np.clip(comp_lo, 0.0, 1.0)
            matte_lo = (
                None if matte is None else np.clip(resize(matte, self._size_lo), 0.0, 1.0)
            )  # [h, w], soft
        if empty:
            self._empty += 1
            if self._empty == 1:
                log.warning("frame %s: the matte is empty; such frames pass through unchanged", label)
        self._frames[self._n] = _Frame(label, frame, matte, comp_lo, matte_lo, empty)
        self._n += 1
        # windows whose last frame has now arrived
        while self._next_window + self.window <= self._n:
            self._queued.append(self._next_window)
            self._next_window += self.stride
        if len(self._queued) >= self._effective_batch(frame):
            self._run_queued()
        return self._emit()

    def finish(self) -> list[np.ndarray]:
        """Run the remaining (mirror-padded) windows and return every frame not yet returned."""
        if self._finished:
            return []
        self._finished = True
        while self._next_window < self._n:  # every window that starts inside the clip
            self._queued.append(self._next_window)
            self._next_window += self.stride
        self._run_queued()
        out = self._emit()
        if self._empty:
            log.warning(
                "%d of %d frame(s) had an empty matte and were passed through unchanged", self._empty, self._n
            )
        if self.auto_matte.empty:
            log.warning(
                "%d of %d frame(s): the detector found no disharmonious region it is sure of; %s",
                self.auto_matte.empty,
                self.auto_matte.frames,
                "their matte is empty" if self.matte_only else "they pass through unchanged",
            )
        if self.model.stateful:
            self.model.reset()
        return out

    def _validate(
        self, frame: np.ndarray, matte: np.ndarray | None, label: str, finite: bool
    ) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """(float32 frame, matte clipped to 0..1 or None, whether the matte is empty), or InputError."""
        frame = np.asarray(frame)
        if frame.ndim != 3 or frame.shape[2] < 3:
            raise InputError(
                f"frame {label}: expected an RGB image [H, W, C>=3], got shape {tuple(frame.shape)}"
            )
        frame = frame.astype(np.float32, copy=False)
        if not finite:
            require_finite(count_nonfinite(frame), label, "plate")
        if self._shape is None:
            self._shape = frame.shape
        elif frame.shape != self._shape:
            h, w, c = self._shape
            raise InputError(
                f"frame {label}: plate is {frame.shape[1]}x{frame.shape[0]} with {frame.shape[2]} channels, "
                f"but the clip started at {w}x{h} with {c}"
            )
        if matte is None:
            if not self.model.supports_auto_matte:
                raise InputError(
                    f"frame {label}: no matte given and this model cannot predict one (no auto matte)"
                )
            return frame, None, False
        matte = np.asarray(matte, dtype=np.float32)
        if matte.ndim == 3 and matte.shape[2] == 1:
            matte = matte[..., 0]
        if matte.shape != frame.shape[:2]:
            size = f"{matte.shape[1]}x{matte.shape[0]}" if matte.ndim == 2 else str(tuple(matte.shape))
            raise InputError(
                f"frame {label}: matte is {size} but the plate is {frame.shape[1]}x{frame.shape[0]}"
            )
        if not finite:
            require_finite(count_nonfinite(matte), label, "matte")
        low, high = matte.min(), matte.max()
        if (
            low >= 0.0 and high <= 1.0
        ):  # the stream keeps it only until the frame is returned, and never writes to it
            return frame, matte, not high > 0
        return frame, np.clip(matte, 0.0, 1.0), not high > 0

    def _effective_batch(self, frame: np.ndarray) -> int:
        """`batch`, lowered so that the frames held in flight fit the engine's memory budget."""
        held = max(1, self.engine.memory_budget // max(frame.nbytes, 1))
        return max(1, min(self.batch, (held - self.window) // self.stride + 1))

    # -- model -----------------------------------------------------------------------------------------------

    def _window_frames(self, start: int) -> list[int]:
        n = self._n if self._finished else None
        return [t if n is None or t < n else mirror_index(t, n) for t in range(start, start + self.window)]

    def _run_queued(self) -> None:
        if not self._queued:
            return
        # a window of empty frames has nothing to predict: its frames pass through (`_finish_frame`)
        windows = [(start, self._window_frames(start)) for start in self._queued]
        live = [(start, idx) for start, idx in windows if not all(self._frames[t].empty for t in idx)]
        for i in range(0, len(live), self.batch):
            chunk = live[i : i + self.batch]
            comp = torch.from_numpy(np.stack([[self._frames[t].comp_lo for t in idx] for _, idx in chunk]))
            comp = comp.permute(0, 1, 4, 2, 3).contiguous()  # [B, T, 3, h, w]
            matte = self._window_matte(comp, chunk)  # [B, T, 1, h, w] or None
            # the matte alone needs no harmonization
            out = None if self.matte_only else self._infer(comp, matte).permute(0, 1, 3, 4, 2).numpy()
            for b, (start, idx) in enumerate(chunk):
                for k, t in enumerate(idx):
                    if start + k != t:  # a mirrored stand-in frame: its output belongs to no real frame slot
                        continue
                    if out is not None:  # [B, T, h, w, 3]
                        self._add(t, out[b, k], self.weights[k])
                    if matte is not None and self._frames[t].matte is None:
                        self._frames[t].detected.append((matte[b, k, 0].numpy(), float(self.weights[k])))
        self._ran += len(self._queued)
        self._queued.clear()

    def _window_matte(self, comp: torch.Tensor, chunk: list) -> torch.Tensor | None:
        if all(self._frames[t].matte_lo is not None for _, idx in chunk for t in idx):
            m = np.stack([[self._frames[t].matte_lo for t in idx] for _, idx in chunk])  # [B, T, h, w]
            return torch.from_numpy(m)[:, :, None]  # [B, T, 1, h, w]
        return self.engine.detect(comp)  # auto matte: the model's own estimate, or None

    def _add(self, t: int, out_lo: np.ndarray, weight: float) -> None:
        f = self._frames[t]
        f.acc = out_lo * weight if f.acc is None else f.acc + out_lo * weight
        f.weight += weight

    # -- output ----------------------------------------------------------------------------------------------

    def _emit(self) -> list[np.ndarray]:
        """Finish, in order, every frame whose windows have all run, and forget what no future window
        needs."""
        ready_before = self._n if self._finished else min(self._n, self._ran * self.stride)
        out = []
        while self._done < ready_before:
            f = self._frames[self._done]
            out.append(self._finish_frame(f))
            f.plate = f.matte = f.acc = (
                None  # the full-res frame is gone; low-res inputs may still be mirrored
            )
            self._done += 1
        # future windows start at or after the first unrun one, and mirror at most the last `window` frames
        first_needed = min(
            self._queued[0] if self._queued else self._next_window, self._n - self.window, self._done
        )
        for t in [t for t in self._frames if t < first_needed]:
            del self._frames[t]
        return out

    def _finish_frame(self, f: _Frame) -> np.ndarray:
        if self.matte_only:
            return self._full_matte(f, self._auto_matte(f, None))
        if f.empty or self.strength == 0.0:
            # nothing to repaint: the frame as it came (no copy; the stream drops its reference)
            return f.plate
        out_lo = f.acc / f.weight  # [h, w, 3]
        if f.matte is not None and np.array_equal(out_lo, f.comp_lo):
            return f.plate  # the model changed nothing (cut-and-paste): nor does the transfer, to the bit
        matte_lo, matte = f.matte_lo, f.matte
        if matte is None:  # auto matte
            matte_lo = self._auto_matte(f, out_lo)
            if not matte_lo.any():
                return f.plate  # nothing the detector is sure of: unchanged, to the bit
            matte = self._full_matte(f, matte_lo)
        return self.transfer.carry(f.comp_lo, out_lo, matte_lo, f.plate, matte, self.space, self.strength)

    @staticmethod
    def _full_matte(f: _Frame, matte_lo: np.ndarray) -> np.ndarray:
        return np.clip(resize(matte_lo, f.plate.shape[:2]), 0.0, 1.0)  # [H, W], bilinear

    def _auto_matte(self, f: _Frame, out_lo: np.ndarray | None) -> np.ndarray:
        if f.detected:
            total = sum(w for _, w in f.detected)
            return self.auto_matte(sum(m * w for m, w in f.detected) / total)  # [h, w]
        # the model predicted its own matte internally: take it from where the model changed the image
        change = np.abs(out_lo - f.comp_lo).max(axis=2)  # [h, w]
        return np.clip(cv2.GaussianBlur(change / 0.02, (0, 0), 1.5), 0.0, 1.0)
