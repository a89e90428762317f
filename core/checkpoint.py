"""Self-describing checkpoints: weights in safetensors plus a JSON sidecar.

    run/ckpt-000100.safetensors   the model's state_dict
    run/ckpt-000100.json          {"format": "vh-checkpoint", "format_version": 1, "model": "vhmae_tiny",
                                   "config": {...}, "step": 100, "vh_version": "...", "data": {...}, ...}

Loading needs only this module and the model registry, never the training code.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from vh.core import __version__
from vh.core.errors import InputError
from vh.core.io.publish import atomic_write, atomic_write_text
from vh.core.models.base import Harmonizer
from vh.core.models.registry import create_model

FORMAT = "vh-checkpoint"
FORMAT_VERSION = 1
#: Weights that ship inside the package: `<registered model name>.safetensors` + `.json`, with MODEL_CARD.md.
SHIPPED_DIR = Path(__file__).parent / "weights"


def shipped_checkpoint(name: str) -> Path | None:
    """The packaged checkpoint of the registered model `name` (canonical name), or None when none ships."""
    path = SHIPPED_DIR / f"{name}.safetensors"
    return path if path.is_file() and path.with_suffix(".json").is_file() else None


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path)
    if p.name in ("", ".", "..") or p.is_dir():  # "", ".", "/", a run folder: no file to add a suffix to
        raise InputError(
            f"checkpoint {str(path)!r} is a folder or empty; name the checkpoint itself, e.g. "
            "runs/NAME/checkpoints/ckpt-0001024"
        )
    if p.suffix in (".safetensors", ".json"):
        p = p.with_suffix("")
    return p.with_suffix(".safetensors"), p.with_suffix(".json")


def model_config(model: Harmonizer) -> dict[str, Any]:
    """The model's config as plain JSON-able values (its `config` dataclass, if it has one)."""
    config = getattr(model, "config", None)
    if config is None:
        return {}
    return json.loads(json.dumps(dataclasses.asdict(config)))


def save_checkpoint(
    path: str | os.PathLike,
    model: Harmonizer,
    name: str,
    step: int,
    data: dict[str, Any] | None = None,
    dtype: torch.dtype | None = None,
    **extra: Any,
) -> Path:
    """Write `path.safetensors` and `path.json` atomically; returns the weights path. `dtype` (e.g. float16
    for shipped weights) converts floating-point tensors; loading converts them back to the model's own
    dtype."""
    weights, sidecar = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    if dtype is not None:
        state = {k: v.to(dtype) if v.is_floating_point() else v for k, v in state.items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "vh_version": __version__,
        "model": name,
        "config": model_config(model),
        "step": int(step),
        "data": data or {},
        **extra,
    }
    with atomic_write(weights) as tmp:
        save_file(state, str(tmp), metadata={"format": FORMAT, "model": name, "step": str(step)})
    atomic_write_text(sidecar, json.dumps(meta, indent=2, sort_keys=True))
    return weights


def read_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The sidecar of a checkpoint; raises InputError with the path when it is missing or malformed."""
    weights, sidecar = _paths(path)
    if not weights.exists():
        raise InputError(f"checkpoint not found: {weights}")
    if not sidecar.exists():
        raise InputError(
            f"checkpoint {weights} has no sidecar {sidecar.name}; cannot tell which model it holds"
        )
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(f"checkpoint sidecar {sidecar} is unreadable: {exc}") from exc
    if meta.get("format") != FORMAT:
        raise InputError(f"{sidecar} is not a vh checkpoint sidecar")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise InputError(
            f"{sidecar} has format version {meta['format_version']}; this vh reads up to {FORMAT_VERSION}"
        )
    return meta


def load_checkpoint(
    path: str | os.PathLike, device: str | torch.device = "cpu", **overrides: Any
) -> tuple[Harmonizer, dict[str, Any]]:
    """Build the model the sidecar names, load its weights, return (model in eval mode, sidecar)."""
    meta = read_meta(path)
    weights, _ = _paths(path)
    model = create_model(meta["model"], **{**meta.get("config", {}), **overrides})
    try:
        state = load_file(str(weights), device="cpu")
    except Exception as exc:  # safetensors raises several types for a corrupt file
        raise InputError(f"checkpoint {weights} is corrupt or unreadable: {exc}") from exc
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise InputError(
            f"checkpoint {weights} does not fit model {meta['model']!r}: "
            f"missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    return model.to(device).eval(), meta
