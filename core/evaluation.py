"""Measure harmonizers on a HYouTube-layout folder with the evaluation protocol of `vh.core.metrics`.

For each clip the frames are brought to the evaluation size exactly as the protocol says (`cv2.resize`, bilinear
for images, nearest for the mask, then > 127). Each *harmonizer* gets the resized composite and binary matte as
float32 `[H, W, 3]` / `[H, W]` arrays in 0..1 and returns its predictions; the metrics compare them with the
resized ground truth. Clips are the outer loop so that the ground truth and its optical flow (the slow part of
TL) are computed once and shared by every model.

A harmonizer is one function, `(clip, comps, mattes) -> preds`, so the same evaluation measures
- a registered model, run through the product's `Engine` (the same code path as `vh harmonize` and the server),
  or called directly when the engine is not installed;
- a folder of precomputed predictions in the layout of `synthetic_composite_videos` (`DIR/<clip>/object_k/*`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import metrics
from .errors import InputError, MissingFrameError

if TYPE_CHECKING:
    from vh.core.io.hyoutube import ClipRecord


#: (clip, composites, mattes) -> predictions; frames float32 [H, W, 3] in 0..1, mattes float32 [H, W]
HarmonizeFn = Callable[["ClipRecord", list[np.ndarray], list[np.ndarray]], list[np.ndarray]]


@dataclass
class ModelResult:
    """One row of the table: a method's dataset scores, per-clip scores and speed."""

    name: str
    scores: metrics.Scores
    clips: dict[str, metrics.Scores] = field(default_factory=dict)
    seconds_per_frame: float = math.nan
    options: dict = field(default_factory=dict)
    #: clips left out because no frame had a foreground to judge (fMSE is undefined there)
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """Plain JSON values: a metric that does not exist (TL of a one-frame clip) is None, never NaN."""
        return _finite(
            {
                "name": self.name,
                "options": self.options,
                **self.scores.as_dict(),
                "seconds_per_frame": self.seconds_per_frame,
                "clips": {k: v.as_dict() for k, v in self.clips.items()},
                "skipped_clips": list(self.skipped),
            }
        )


def _finite(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


@dataclass
class Method:
    """A named harmonizer to evaluate."""

    name: str
    harmonize: HarmonizeFn
    options: dict = field(default_factory=dict)
    #: called before each clip (models with temporal state start afresh)
    reset: Callable[[], None] = lambda: None


# --------------------------------------------------------------------------------------------------------------
# Harmonizers
# --------------------------------------------------------------------------------------------------------------


def model_method(
    name: str,
    device: str = "cpu",
    use_engine: bool | None = None,
    checkpoint: str | None = None,
    engine_options: dict | None = None,
    **overrides,
) -> Method:
    """A registered model as a Method: through `vh.core.engine.Engine` when it exists (the product path), else by
    calling the model on `[1, T, 3, H, W]` tensors window by window. `use_engine=False` forces the direct call
    (to separate the model's quality from the engine's full-resolution transfer). `engine_options` are Engine
    keywords (`transfer`, `guard`, `window_stride`)."""
    engine_cls = _engine_class()
    if use_engine is None:
        use_engine = engine_cls is not None
    if use_engine and engine_cls is None:
        raise InputError("the inference engine (vh.core.engine) is not installed; evaluate with --direct")
    label = (
        name if not overrides else f"{name}({', '.join(f'{k}={v}' for k, v in sorted(overrides.items()))})"
    )
    if use_engine:
        # the engine resets a stateful model at each clip's start and feeds it one stream in frame order
        engine = engine_cls(name, checkpoint=checkpoint, device=device, **(engine_options or {}), **overrides)
        model, harmonize = engine.model, _engine_harmonizer(engine)
    else:
        if checkpoint is not None:
            from .checkpoint import load_checkpoint

            model, _ = load_checkpoint(checkpoint, device, **overrides)
        else:
            from .models import create_model

            model = create_model(name, **overrides)
        model = model.to(device).eval()
        harmonize = _direct_harmonizer(model, device)
    return Method(name=label, harmonize=harmonize, options=dict(overrides), reset=model.reset)


def _engine_class():
    try:
        from .engine import Engine
    except ModuleNotFoundError as exc:
        if exc.name != "vh.core.engine":
            raise
        return None
    return Engine


def _engine_harmonizer(engine) -> HarmonizeFn:
    from .color import WORKING_SPACE

    def run(clip, comps: list[np.ndarray], mattes: list[np.ndarray]) -> list[np.ndarray]:
        # frames are already in the working space, so the engine's colour conversion is the identity
        return [
            np.asarray(out)[..., :3]
            for out in engine.run(iter(comps), iter(mattes), colorspace=WORKING_SPACE)
        ]

    return run


def _direct_harmonizer(model, device: str) -> HarmonizeFn:
    import torch

    window = max(1, int(getattr(model, "window", 1)))

    @torch.no_grad()
    def run(clip, comps: list[np.ndarray], mattes: list[np.ndarray]) -> list[np.ndarray]:
        comp = torch.from_numpy(np.stack(comps)).permute(0, 3, 1, 2)  # [T, 3, H, W]
        matte = torch.from_numpy(np.stack(mattes))[:, None]  # [T, 1, H, W]
        outs = []
        # consecutive, non-overlapping windows; a short last window is padded by repeating its last frame
        for start in range(0, comp.shape[0], window):
            c, m = comp[start : start + window], matte[start : start + window]
            n = c.shape[0]
            if n < window:
                c = torch.cat([c, c[-1:].expand(window - n, -1, -1, -1)])
                m = torch.cat([m, m[-1:].expand(window - n, -1, -1, -1)])
            out = model(c[None].to(device), m[None].to(device))[0, :n]  # [n, 3, H, W]
            outs.append(out.float().cpu())
        return list(torch.cat(outs).permute(0, 2, 3, 1).numpy())  # T x [H, W, 3]

    return run


def predictions_method(folder: str | Path, name: str | None = None) -> Method:
    """Precomputed predictions: `folder/<clip>/object_k/<stem>.{jpg,png}`, one per real frame."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"predictions folder not found: {root}")

    def run(clip, comps: list[np.ndarray], mattes: list[np.ndarray]) -> list[np.ndarray]:
        import cv2

        from vh.core.io.hyoutube import IMAGE_SUFFIXES, read_rgb

        clip_dir = root / clip.name
        if not clip_dir.is_dir():
            raise InputError(f"no predictions for clip {clip.name}: {clip_dir} not found")
        by_stem = {p.stem: p for p in clip_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
        preds = []
        for stem, comp in zip(clip.stems, comps):
            if stem not in by_stem:
                raise MissingFrameError(f"prediction frame {stem} is missing in {clip_dir}")
            image = read_rgb(by_stem[stem])  # [h, w, 3] uint8
            if image.shape != comp.shape:
                # stored at another size (e.g. full resolution): the protocol's bilinear resize, like the ground truth
                image = cv2.resize(image, (comp.shape[1], comp.shape[0]), interpolation=cv2.INTER_LINEAR)
            preds.append(image.astype(np.float32) / 255.0)
        return preds

    return Method(name=name or root.name, harmonize=run, options={"predictions": str(root)})


# --------------------------------------------------------------------------------------------------------------
# The evaluation loop
# --------------------------------------------------------------------------------------------------------------


def evaluate(
    dataset: str | Path,
    methods: Sequence[Method],
    split: str = "test",
    size: int = metrics.EVAL_SIZE,
    clips: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    full_res: bool = False,
    start: Callable[[int], None] | None = None,
) -> list[ModelResult]:
    """Score each method on each clip of `dataset` (a HYouTube-layout folder); one ModelResult per method.

    `full_res=True` hands the methods the frames at their stored size (the product case: the engine works at the
    model's size and transfers the result to full resolution) and brings their outputs to the evaluation size
    with the protocol's bilinear resize; otherwise methods see the protocol's `size`x`size` frames.

    `start(n_clips)` is called once the clips are known, `progress(clip)` after each. A clip whose mask is empty
    in every frame has no foreground to judge: it is skipped with a warning and listed in `ModelResult.skipped`.
    """
    import logging

    from vh.core.io.hyoutube import HYouTube

    if not methods:
        raise InputError("nothing to evaluate: name at least one model or a predictions folder")
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise InputError(
            f"a method is named twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}"
        )
    if size < 16:
        raise InputError(f"evaluation size must be at least 16 pixels, got {size}")
    ds = HYouTube(dataset, split=split)
    wanted = set(clips) if clips is not None else None
    records = [c for c in ds if wanted is None or c.name in wanted or c.name.split("/")[0] in wanted]
    if not records:
        raise InputError(f"no clip of {ds.list_file} matches {sorted(wanted or [])}")
    if start is not None:
        start(len(records))
    per_clip: dict[str, dict[str, metrics.Scores]] = {m.name: {} for m in methods}
    skipped: list[str] = []
    seconds = {m.name: 0.0 for m in methods}
    frames_total = 0
    for record in records:
        comps, mattes, gts, masks = [], [], [], []
        for f in ds.read(record):
            gts.append(metrics.resize_image(f.real, size))  # [S, S, 3] uint8
            masks.append(metrics.resize_mask(f.mask, size))  # [S, S] bool
            if full_res:
                comp, _, matte = f.as_float()  # [H, W, 3], [H, W] binary
            else:
                comp = metrics.resize_image(f.comp, size).astype(np.float32) / 255.0  # [S, S, 3]
                matte = masks[-1].astype(np.float32)  # [S, S]
            comps.append(comp)
            mattes.append(matte)
        if not any(m.any() for m in masks):
            logging.getLogger(__name__).warning(
                "clip %s has an empty mask in every frame; skipped", record.name
            )
            skipped.append(record.name)
            if progress is not None:
                progress(record.name)
            continue
        flows = [metrics.gt_flow(gts[t + 1], gts[t]) for t in range(len(gts) - 1)]
        frames_total += len(gts)
        for method in methods:
            method.reset()
            start = time.perf_counter()
            preds = method.harmonize(record, comps, mattes)
            seconds[method.name] += time.perf_counter() - start
            if len(preds) != len(gts):
                raise InputError(
                    f"{method.name} returned {len(preds)} frames for {len(gts)} on clip {record.name}"
                )
            if full_res:  # the protocol's resize, on the float result (no 8-bit rounding in between)
                preds = [metrics.resize_image(np.asarray(p, dtype=np.float32)[..., :3], size) for p in preds]
            preds255 = [_to_255(p, gts[0].shape) for p in preds]
            per_clip[method.name][record.name] = metrics.clip_scores(preds255, gts, masks, flows)
        if progress is not None:
            progress(record.name)
    if len(skipped) == len(records):
        raise InputError(f"every selected clip has an empty mask ({', '.join(skipped)}); nothing to measure")
    return [
        ModelResult(
            name=m.name,
            scores=metrics.mean_scores(list(per_clip[m.name].values())),
            clips=per_clip[m.name],
            seconds_per_frame=seconds[m.name] / max(frames_total, 1),
            options=m.options,
            skipped=list(skipped),
        )
        for m in methods
    ]


def _to_255(pred: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    pred = np.asarray(pred, dtype=np.float32)
    if pred.shape != shape:
        raise InputError(f"a prediction is {pred.shape}, expected {shape}")
    if not np.isfinite(pred).all():
        raise InputError("a prediction contains NaN or Inf")
    # predictions are 0..1 working-space values; the protocol measures 8-bit-range RGB, so clip like a file would
    return np.clip(pred, 0.0, 1.0) * 255.0  # [H, W, 3] float32


# --------------------------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------------------------

_COLUMNS = (
    ("MSE", "mse", "{:.2f}"),
    ("fMSE", "fmse", "{:.2f}"),
    ("PSNR", "psnr", "{:.2f}"),
    ("fSSIM", "fssim", "{:.4f}"),
    ("TL", "tl", "{:.2f}"),
    ("flicker", "flicker", "{:.3f}"),
)


def worse_than(result: ModelResult, baseline: ModelResult) -> int:
    """Clips on which `result`'s fMSE exceeds `baseline`'s (e.g. cut-and-paste: clips the method made worse)."""
    return sum(1 for k, v in result.clips.items() if k in baseline.clips and v.fmse > baseline.clips[k].fmse)


def format_table(results: Sequence[ModelResult]) -> str:
    """A plain-text table, one row per method; with a `cut` row, a column counts the clips each made worse."""
    cut = next((r for r in results if r.name == "cut"), None)
    header = ["model", *(c[0] for c in _COLUMNS), "s/frame", *(["worse"] if cut else [])]
    rows = [
        [
            r.name,
            *(fmt.format(getattr(r.scores, key)) for _, key, fmt in _COLUMNS),
            f"{r.seconds_per_frame:.4f}",
            *([f"{worse_than(r, cut)}/{len(r.clips)}"] if cut else []),
        ]
        for r in results
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) if i == 0 else h.rjust(w) for i, (h, w) in enumerate(zip(header, widths)))]
    lines += [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        for row in rows
    ]
    return "\n".join(lines)
