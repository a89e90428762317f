"""Measure harmonizers on a HYouTube-layout folder with the evaluation protocol of `vh.core.metrics`.

Each *harmonizer* gets a clip's stored frames as `vh harmonize` reads them (float32 `[H, W, 3]` sRGB in 0..1)
and its binary matte (`[H, W]`, mask > 127), and returns its results at the same size. Results are scored as
the 8-bit files `vh harmonize` would write for these 8-bit frames: rounded to 8 bits, then brought to the
evaluation size exactly as the protocol brings the ground truth (`cv2.resize`, bilinear; the mask nearest,
then > 127). So a model scored here and the files `vh harmonize` writes for the same clips, scored as a
predictions folder, agree by construction. Clips are the outer loop so that the ground truth and its optical
flow (the slow part of TL) are computed once and shared by every model.

A harmonizer is one function, `(clip, comps, mattes) -> preds`, so the same evaluation measures
- a model (registered name or instance), run through the product's `Engine`: the same windows, resize and
  full-resolution transfer as `vh harmonize` and the server; `model_only` scores the model's own low-res
  output instead (the engine's "upsample" transfer), through the very same stream;
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

from vh.core import metrics
from vh.core.errors import InputError, MissingFrameError

if TYPE_CHECKING:
    from vh.core.io.hyoutube import ClipRecord
    from vh.core.models.base import Harmonizer

#: the largest evaluation size: frames are scored at size x size, 8192 is about 0.8 GB per float frame
MAX_EVAL_SIZE = 8192

#: (clip, composites, mattes) -> predictions: frames float32 [H, W, 3] in 0..1 (or uint8), mattes [H, W]
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


# ------------------------------------------------------------------------------------------------------------
# Harmonizers
# ------------------------------------------------------------------------------------------------------------


def model_method(
    model: str | Harmonizer,
    device: str = "cpu",
    model_only: bool = False,
    checkpoint: str | None = None,
    engine_options: dict | None = None,
    auto_matte: bool = False,
    **overrides,
) -> Method:
    """A model (a registered name or a Harmonizer instance) as a Method, run through `vh.core.engine.Engine`,
    the product path. `model_only` scores the model's own output at its working size, upsampled and composited
    under the full-resolution matte (the "upsample" transfer), to separate the model's quality from the
    transfer's: same stream, windows and resize. `engine_options` are Engine keywords (`transfer`, `guard`,
    `window_stride`). `auto_matte`: a model that finds its own matte (`supports_auto_matte`) gets none and
    is labelled `name+auto`; other models keep the clip's matte.
    """
    from vh.core.color import WORKING_SPACE
    from vh.core.engine import Engine
    from vh.core.transfer import TransferConfig

    options = dict(engine_options or {})
    if model_only:
        options["transfer"] = TransferConfig(method="upsample")
    # a stream resets a stateful model at each clip's start and feeds it the clip in frame order
    engine = Engine(model, checkpoint=checkpoint, device=device, **options, **overrides)
    name = model if isinstance(model, str) else type(model).__name__
    auto_matte = auto_matte and engine.model.supports_auto_matte
    name += "+auto" if auto_matte else ""
    label = (
        name if not overrides else f"{name}({', '.join(f'{k}={v}' for k, v in sorted(overrides.items()))})"
    )

    def run(clip, comps: list[np.ndarray], mattes: list[np.ndarray]) -> list[np.ndarray]:
        # the stored 8-bit frames are sRGB-encoded Rec.709 (the working space), as `vh harmonize` reads them
        return list(engine.run(comps, None if auto_matte else mattes, colorspace=WORKING_SPACE))

    return Method(name=label, harmonize=run, options=dict(overrides))


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
        for stem, comp in zip(clip.stems, comps, strict=True):
            if stem not in by_stem:
                raise MissingFrameError(f"prediction frame {stem} is missing in {clip_dir}")
            image = read_rgb(by_stem[stem])  # [h, w, 3] uint8
            if image.shape != comp.shape:  # stored at another size: the protocol's bilinear resize
                image = cv2.resize(image, (comp.shape[1], comp.shape[0]), interpolation=cv2.INTER_LINEAR)
            preds.append(image)
        return preds

    return Method(name=name or root.name, harmonize=run, options={"predictions": str(root)})


# ------------------------------------------------------------------------------------------------------------
# The evaluation loop
# ------------------------------------------------------------------------------------------------------------


def evaluate(
    dataset: str | Path,
    methods: Sequence[Method],
    split: str = "test",
    size: int = metrics.EVAL_SIZE,
    clips: Iterable[str] | None = None,
    progress: Callable[[str], None] | None = None,
    start: Callable[[int], None] | None = None,
    max_clips: int | None = None,
    max_frames: int | None = None,
) -> list[ModelResult]:
    """Score each method on each clip of `dataset` (a HYouTube-layout folder); one ModelResult per method.

    Methods get the frames at their stored size (see the module doc); `size` is the evaluation size the
    results and the ground truth are brought to. `clips` selects clips by name, `max_clips` keeps the first so
    many of those, `max_frames` the first so many frames of each.

    `start(n_clips)` is called once the clips are known, `progress(clip)` after each. A clip whose mask is
    empty in every frame has no foreground to judge: it is skipped with a warning and listed in
    `ModelResult.skipped`."""
    import logging

    from vh.core.io.hyoutube import HYouTube

    if not methods:
        raise InputError("nothing to evaluate: name at least one model or a predictions folder")
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise InputError(
            f"a method is named twice: {', '.join(sorted({n for n in names if names.count(n) > 1}))}"
        )
    if not 16 <= size <= MAX_EVAL_SIZE:  # each frame is scored at size x size: 100000 would ask for 30 GB
        raise InputError(f"evaluation size must be within 16..{MAX_EVAL_SIZE} pixels, got {size}")
    for what, value in (("clip", max_clips), ("frame", max_frames)):
        if value is not None and value < 1:
            raise InputError(f"the {what} limit must be at least 1, got {value}")
    ds = HYouTube(dataset, split=split)
    wanted = set(clips) if clips is not None else None
    records = [c for c in ds if wanted is None or c.name in wanted or c.name.split("/")[0] in wanted]
    if not records:
        raise InputError(f"no clip of {ds.list_file} matches {sorted(wanted or [])}")
    records = records[:max_clips]
    if start is not None:
        start(len(records))
    per_clip: dict[str, dict[str, metrics.Scores]] = {m.name: {} for m in methods}
    skipped: list[str] = []
    seconds = {m.name: 0.0 for m in methods}
    frames_total = 0
    for record in records:
        comps, mattes, gts, masks = [], [], [], []
        for f in ds.read(record, 0, max_frames):
            gts.append(metrics.resize_image(f.real, size))  # [S, S, 3] uint8
            masks.append(metrics.resize_mask(f.mask, size))  # [S, S] bool
            comp, _, matte = f.as_float()  # [H, W, 3], [H, W] binary
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
            began = time.perf_counter()
            preds = method.harmonize(record, comps, mattes)
            seconds[method.name] += time.perf_counter() - began
            if len(preds) != len(gts):
                raise InputError(
                    f"{method.name} returned {len(preds)} frames for {len(gts)} on clip {record.name}"
                )
            scored = [_as_written(p, comps[0].shape, size) for p in preds]
            per_clip[method.name][record.name] = metrics.clip_scores(scored, gts, masks, flows)
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


def _as_written(pred: np.ndarray, shape: tuple[int, ...], size: int) -> np.ndarray:
    """A result [H, W, C>=3] (float 0..1, or uint8) as the protocol scores an 8-bit file of it: float32 0..255
    at the evaluation size."""
    pred = np.asarray(pred)[..., :3]
    if pred.shape != shape:
        raise InputError(f"a prediction is {pred.shape}, expected {shape}")
    if pred.dtype != np.uint8:
        if not np.isfinite(pred).all():
            raise InputError("a prediction contains NaN or Inf")
        # rounded to 8 bits as the file would be; results are 0..1 working-space values, clipped as a file is
        pred = np.rint(np.clip(pred.astype(np.float32) * 255.0, 0.0, 255.0)).astype(np.uint8)
    return metrics.resize_image(pred, size).astype(np.float32)  # [S, S, 3]


# ------------------------------------------------------------------------------------------------------------
# Reporting
# ------------------------------------------------------------------------------------------------------------

_COLUMNS = (
    ("MSE", "mse", "{:.2f}"),
    ("fMSE", "fmse", "{:.2f}"),
    ("PSNR", "psnr", "{:.2f}"),
    ("fSSIM", "fssim", "{:.4f}"),
    ("TL", "tl", "{:.2f}"),
    ("flicker", "flicker", "{:.3f}"),
)


def worse_than(result: ModelResult, baseline: ModelResult) -> int:
    """Clips on which `result`'s fMSE exceeds `baseline`'s (e.g. cut-and-paste: clips the method made
    worse)."""
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
