"""Training task "vhmae": one masked-autoencoder step per batch, L = L_rec + alpha * L_align + beta *
L_balance.

Per step, on a batch of T = model.frames frames (comp, real, matte; the optional flow is not used):

    1. Augment (seed Table 2: rotation and flipping only): each clip is rotated by a random multiple of 90
       degrees and/or flipped left-right, identically over its frames and over comp, real and matte. Right
       angles keep every pixel (no resampling, no padding) because the model's frames are square.
    2. reconstruct(comp, matte) -> raw prediction, foreground token mask, PAM tokens of the composite.
    3. L_rec on the foreground tubelets, L_align against PAM(embed(real)) computed without gradient (its
       stop-gradient side), L_balance across tubelet borders; one AdamW step (no gradient clipping).

Config sections read here (defaults are seed Table 2 / Table 3):

    model:   {name: vhmae_base, <VHMAEConfig overrides>}
    loss:    {alpha: 1.0, beta: 1.0, harm: 0.0, again: 0.0, relative: 0.0}
    optim:   {lr: 1.0e-3, weight_decay: 0.05, betas: [0.9, 0.95], warmup_epochs | warmup_steps, min_lr_ratio}
    augment: {rotate: true, flip: true}

The ready commands (single process and torchrun DDP) are in docs/vhmae.md.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vh.core.models import create_model
from vh.core.models.base import blend
from vh.core.models.vhmae import VHMAE, Reconstruction
from vh.training.losses.vhmae import (
    VHMAELossWeights,
    align_loss,
    balance_loss,
    harm_loss,
    rec_loss,
    relative_loss,
    total_loss,
)
from vh.training.tasks.base import TrainTask, register_task, warmup_cosine


def rotate_flip(
    batch: dict[str, torch.Tensor],
    rotate: bool = True,
    flip: bool = True,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Random per-clip rot90 (k in 0..3) and left-right flip of comp/real/matte [B, T, C, H, W] (H == W).

    Other keys (flow) are dropped: a rotated clip's flow would need rotating too, and VHMAE does not use it.
    """
    B = batch["comp"].shape[0]
    k = torch.randint(0, 4, (B,), generator=generator).tolist() if rotate else [0] * B
    f = torch.randint(0, 2, (B,), generator=generator).tolist() if flip else [0] * B
    out = {}
    for key in ("comp", "real", "matte"):
        clips = []
        for b in range(B):
            x = batch[key][b]  # [T, C, H, W]
            x = torch.rot90(x, k[b], dims=(2, 3)) if k[b] else x
            clips.append(torch.flip(x, dims=(3,)) if f[b] else x)
        out[key] = torch.stack(clips)  # [B, T, C, H, W]
    return out


class Reconstructor(nn.Module):
    """Exposes `VHMAE.reconstruct` as `forward`, so that DDP (which hooks `forward`) syncs its gradients.

    With `again`, one forward also runs the second pass of L_again on the first pass's result: both passes
    inside one DDP forward, so each parameter's gradient is reduced once per step."""

    def __init__(self, model: VHMAE) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, comp: torch.Tensor, matte: torch.Tensor, again: bool = False
    ) -> tuple[Reconstruction, Reconstruction | None]:
        first = self.model.reconstruct(comp, matte)
        if not again:
            return first, None
        # what the engine would feed a second run: the first result inside the matte, in range
        result = blend(comp, first.pred.detach().to(comp.dtype), matte).clamp(0.0, 1.0)  # [B, T, 3, H, W]
        return first, self.model.reconstruct(result, matte)


@register_task("vhmae")
class VHMAETask(TrainTask):
    model_name = "vhmae_base"

    def __init__(self, config: dict[str, Any], device: torch.device, precision: str = "fp32"):
        super().__init__(config, device, precision)
        loss_cfg = config.get("loss", {})
        self.weights = VHMAELossWeights(
            alpha=float(loss_cfg.get("alpha", 1.0)),
            beta=float(loss_cfg.get("beta", 1.0)),
            **{name: float(loss_cfg.get(name, 0.0)) for name in VHMAELossWeights.OPTIONAL},
        )
        aug = config.get("augment", {})
        self.rotate, self.flip = bool(aug.get("rotate", True)), bool(aug.get("flip", True))

    def build_models(self) -> dict[str, nn.Module]:
        model = create_model(self.model_name, **self.model_overrides)
        if not isinstance(model, VHMAE):
            raise TypeError(
                f"task 'vhmae' trains VHMAE models, not {type(model).__name__} ({self.model_name!r})"
            )
        # The registered network is a view whose forward is `reconstruct`; the harmonizer is its `.model`.
        return {"net": Reconstructor(model)}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        o = self.optim_config
        # MAE practice: no weight decay on biases and LayerNorm gains (1-D tensors).
        params = [p for p in self.raw["net"].parameters() if p.requires_grad]
        groups = [
            {
                "params": [p for p in params if p.ndim >= 2],
                "weight_decay": float(o.get("weight_decay", 0.05)),
            },
            {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
        ]
        betas = tuple(float(b) for b in o.get("betas", (0.9, 0.95)))
        return {"net": torch.optim.AdamW(groups, lr=float(o.get("lr", 1e-3)), betas=betas)}

    def build_schedulers(self, total_steps: int) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        """Linear warm-up then cosine decay; `optim.warmup_epochs` (Table 2: 10 of 100) wins over
        warmup_steps."""
        o = self.optim_config
        epochs = int(self.config.get("train", {}).get("epochs", 1))
        warmup = int(o.get("warmup_steps", 0))
        if o.get("warmup_epochs") is not None:
            warmup = round(total_steps * float(o["warmup_epochs"]) / max(1, epochs))
        floor = float(o.get("min_lr_ratio", 0.0))
        return {name: warmup_cosine(opt, warmup, total_steps, floor) for name, opt in self.optimizers.items()}

    def harmonizer(self) -> VHMAE:
        return self.raw["net"].model

    def eval_models(self) -> dict[str, nn.Module]:
        return {}  # the Reconstructor view holds no weights of its own

    def checkpoint_data(self) -> dict[str, Any]:
        data = {"alpha": self.weights.alpha, "beta": self.weights.beta}
        optional = {name: getattr(self.weights, name) for name in VHMAELossWeights.OPTIONAL}
        return data | {name: weight for name, weight in optional.items() if weight > 0}

    def augment(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return rotate_flip(batch, self.rotate, self.flip) if (self.rotate or self.flip) else batch

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The three terms and their weighted sum on one (already augmented) batch; no optimizer step."""
        model = self.harmonizer()
        comp, real, matte = batch["comp"], batch["real"], batch["matte"]  # [B, T, 3|1, H, W]
        tub = (model.config.tubelet, model.config.patch)
        with self.autocast():
            # through the DDP wrapper when there is one; `second` is L_again's pass, None without it
            rec, second = self.nets["net"](comp, matte, again=self.weights.again > 0)
            with torch.no_grad():
                pam_real = model.pam_tokens(real, rec.fg)  # [M, Dd], the stop-gradient side of L_align
        pred = self._scored(rec, comp, matte)
        terms = {
            "rec": rec_loss(pred, real, rec.fg, tub),
            "align": align_loss(rec.pam.float(), pam_real.float()),
            "balance": balance_loss(pred, real, rec.fg, tub),
        }
        optional = {}
        if self.weights.harm > 0:
            optional["harm"] = harm_loss(pred, real, comp, matte)
        if second is not None:
            optional["again"] = rec_loss(self._scored(second, comp, matte), real, second.fg, tub)
        if self.weights.relative > 0:
            optional["relative"] = relative_loss(pred, real, comp, matte)
        terms |= optional
        terms["loss"] = total_loss(terms["rec"], terms["align"], terms["balance"], self.weights, **optional)
        return terms

    def _scored(self, rec: Reconstruction, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        """The prediction the losses score [B, T, 3, H, W]. A recolouring model is scored on what it returns:
        its transform acts on the foreground through the matte, so the background pixels inside edge tubelets
        neither pull it toward the identity nor count."""
        pred = rec.pred.float()
        return blend(comp, pred, matte) if self.harmonizer().config.output == "color" else pred

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor | float]:
        terms = self.losses(self.augment(batch))
        self.optimize("net", terms["loss"], name="loss")
        return {name: value.detach() for name, value in terms.items()}


def sweep_rows(path: str) -> list[tuple[str, list[str]]]:
    """The runs of a sweep file (`grid: [[alpha, beta], ...]`) as (run name, `vh train` --set arguments)."""
    import yaml

    from vh.core.errors import InputError

    try:
        with open(path) as f:
            grid = yaml.safe_load(f)["grid"]
        rows = [(float(a), float(b)) for a, b in grid]
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError) as exc:
        raise InputError(f"sweep file {path} must hold `grid: [[alpha, beta], ...]`: {exc}") from exc
    return [
        (f"alpha{a:g}_beta{b:g}", ["--set", f"loss.alpha={a:g}", "--set", f"loss.beta={b:g}"])
        for a, b in rows
    ]


if (
    __name__ == "__main__"
):  # python -m vh.training.tasks.vhmae SWEEP.yaml -> "name --set ... --set ..." per line
    import sys

    for name, args in sweep_rows(sys.argv[1]):
        print(name, *args)
