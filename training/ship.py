"""Package a training checkpoint as the model's shipped weights (fp16 safetensors + sidecar).

The files land in vh/core/weights.

    python -m vh.training.ship runs/vhmae_cpu/checkpoints/ckpt-0001024 --name vhmae_cpu \\
        --command "vh train training/configs/vhmae_cpu.yaml --run-dir runs/vhmae_cpu --device cpu" [--command
        ...] \\ [--set matte_threshold=0.3]

The sidecar keeps what made the weights (the run's resolved config, step, data summary, the exact commands and
the wall-clock training time from the run's metrics.jsonl), so the packaged file describes itself; the model
card (vh/core/weights/MODEL_CARD.md) says the same for people.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch


def _train_seconds(checkpoint: str, step: int) -> float | None:
    """Wall-clock training time up to `step`, from the run's metrics.jsonl (None when the run has none)."""
    metrics = Path(checkpoint).resolve().parent.parent / "metrics.jsonl"
    if not metrics.is_file():
        return None
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    seconds = max((r["seconds"] for r in rows if r["step"] <= step), default=None)
    # logs written before resumes counted on from the time spent restart at 0 at each resume: add them up
    restarts = [a["seconds"] for a, b in zip(rows, rows[1:]) if b["seconds"] < a["seconds"]]
    return None if seconds is None else seconds + sum(restarts)


def _load(checkpoints: list[str], name: str, calibrated: dict[str, Any]):
    """The registered model `name` holding the checkpoints' weights, and their sidecars. One checkpoint holds
    the whole model; several are the members of an ensemble (vh.core.models.ensemble), in order."""
    from vh.core.checkpoint import load_checkpoint
    from vh.core.errors import InputError
    from vh.core.models.registry import create_model

    if len(checkpoints) == 1:
        model, meta = load_checkpoint(checkpoints[0], **calibrated)
        # the architecture must match; values calibrated after training, now or when it shipped before, differ
        reference = create_model(name, **{**meta.get("calibrated", {}), **calibrated})
        if type(reference) is not type(model) or getattr(reference, "config", None) != getattr(
            model, "config", None
        ):
            raise InputError(
                f"{checkpoints[0]} holds a {meta['model']} whose config differs from the registered {name!r}"
            )
        return model, [meta]
    model = create_model(name, **calibrated)
    members = getattr(model, "members", None)
    if members is None or len(members) != len(checkpoints):
        raise InputError(f"{name!r} is not an ensemble of {len(checkpoints)} members; ship one checkpoint")
    metas = []
    for member, checkpoint in zip(members, checkpoints):
        loaded, meta = load_checkpoint(checkpoint)
        if type(loaded) is not type(member) or loaded.config != member.config:
            raise InputError(f"{checkpoint} holds a {meta['model']}, not a member of {name!r}")
        member.load_state_dict(loaded.state_dict())
        metas.append(meta)
    return model, metas


def ship(
    checkpoints: str | list[str],
    name: str,
    commands: list[str],
    out_dir: Path | None = None,
    calibrated: dict[str, Any] | None = None,
) -> Path:
    """`checkpoints`: one, or an ensemble's members in order. `calibrated`: config values measured after
    training (e.g. the auto matte's level), set on the weights."""
    from vh.core.checkpoint import SHIPPED_DIR, save_checkpoint

    checkpoints = [checkpoints] if isinstance(checkpoints, str) else list(checkpoints)
    model, metas = _load(checkpoints, name, calibrated or {})
    seconds = [_train_seconds(c, m["step"]) for c, m in zip(checkpoints, metas)]
    meta = metas[0]
    # what an earlier `ship` recorded: shipped weights shipped again (a new calibration) keep their provenance
    shipped = {k: meta[k] for k in ("source_checkpoint", "calibrated", "train_seconds") if k in meta}
    extra = {
        k: v
        for k, v in meta.items()
        if k not in ("format", "format_version", "vh_version", "model", "config", "step", "data", "commands")
        and k not in shipped
    }
    if len(metas) > 1:  # one member's validation does not describe the ensemble
        extra.pop("metrics", None)
        extra["member_seeds"] = [m.get("data", {}).get("seed") for m in metas]
    sources = [Path(c).name for c in checkpoints]
    return save_checkpoint(
        (out_dir or SHIPPED_DIR) / name,
        model,
        name,
        meta["step"],
        data=meta.get("data"),
        dtype=torch.float16,
        **extra,
        source_checkpoint=shipped.get("source_checkpoint", sources if len(sources) > 1 else sources[0]),
        commands=commands,
        calibrated={**shipped.get("calibrated", {}), **(calibrated or {})},
        train_seconds=shipped.get("train_seconds") if None in seconds else sum(seconds),
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m vh.training.ship", description=__doc__.split("\n")[0])
    p.add_argument(
        "checkpoints", nargs="+", metavar="checkpoint", help="one, or an ensemble's members in order"
    )
    p.add_argument("--name", required=True, help="registered model name the weights ship for")
    p.add_argument(
        "--command",
        dest="commands",
        action="append",
        required=True,
        help="the exact training command, recorded in the sidecar; repeat for a resumed run's commands",
    )
    p.add_argument(
        "--set",
        dest="calibrated",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a config value calibrated after training, e.g. --set matte_threshold=0.3 (repeatable)",
    )
    p.add_argument("--out-dir", type=Path, help="default: the package's weights folder")
    args = p.parse_args(argv)
    from vh.core.errors import VhError
    from vh.training.train import parse_override

    try:
        calibrated = {".".join(key): value for key, value in map(parse_override, args.calibrated)}
        print(ship(args.checkpoints, args.name, args.commands, args.out_dir, calibrated))
    except VhError as exc:
        print(f"vh: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
