"""A tiny trainable harmonizer and its task, for exercising the training framework on the CPU in seconds.

Not a test module: the framework tests import it (and torchrun workers import it through `task_modules`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vh.core.models.base import Harmonizer, blend
from vh.core.models.registry import register_model
from vh.training.tasks.base import TrainTask, register_task


@dataclass
class TinyConfig:
    hidden: int = 8


class TinyHarmonizer(Harmonizer):
    """Per-pixel MLP on (comp, matte) plus the foreground/background mean colours: enough to learn a
    recolour."""

    window = 1
    input_size = None

    def __init__(self, config: TinyConfig | None = None):
        super().__init__()
        self.config = config or TinyConfig()
        self.net = nn.Sequential(
            nn.Conv2d(10, self.config.hidden, 1), nn.ReLU(), nn.Conv2d(self.config.hidden, 3, 1)
        )

    def forward(self, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        b, t, _, h, w = comp.shape
        x, m = comp.flatten(0, 1), matte.flatten(0, 1)  # [BT, 3, H, W], [BT, 1, H, W]
        fg = (x * m).sum((2, 3), keepdim=True) / m.sum((2, 3), keepdim=True).clamp_min(1)  # [BT, 3, 1, 1]
        bg = (x * (1 - m)).sum((2, 3), keepdim=True) / (1 - m).sum((2, 3), keepdim=True).clamp_min(1)
        feats = torch.cat([x, m, fg.expand_as(x), bg.expand_as(x)], dim=1)  # [BT, 10, H, W]
        pred = x + self.net(feats)  # residual: starts near identity
        return blend(x, pred, m).view(b, t, 3, h, w)


@register_model("test_tiny")
def test_tiny(**overrides) -> TinyHarmonizer:
    return TinyHarmonizer(TinyConfig(**overrides))


@register_task("test_tiny")
class TinyTask(TrainTask):
    model_name = "test_tiny"

    def build_models(self) -> dict[str, nn.Module]:
        return {"net": test_tiny(**self.config.get("model", {}))}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        lr = float(self.optim_config.get("lr", 1e-2))
        return {"net": torch.optim.AdamW(self.nets["net"].parameters(), lr=lr, weight_decay=0.0)}

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor]:
        # a random flip uses the global RNG, so a resume must restore it to stay bit-identical
        flip = bool(torch.rand(()) < 0.5)
        comp, real, matte = (batch[k].flip(-1) if flip else batch[k] for k in ("comp", "real", "matte"))
        with self.autocast():
            out = self.nets["net"](comp, matte)  # [B, T, 3, H, W]
        loss = ((out.float() - real) ** 2).mean()
        nan = self.config.get("loss", {})
        rank = torch.distributed.get_rank() if torch.distributed.is_initialized() else 0
        if step == nan.get("nan_at_step", -1) and rank == nan.get("nan_rank", rank):
            loss = loss * float("nan")
        self.optimize("net", loss, name="rec")
        return {"rec": loss.detach()}

    def harmonizer(self) -> Harmonizer:
        return self.raw["net"]
