"""An ensemble: independently trained copies of one architecture, whose disagreement shows what they do
not know.

Members share the architecture (a registered model name) and the recipe, and differ only in their training
seed (initial weights and the clips drawn). On content like their training data they agree; where they
extrapolate (footage, grades or LUTs unlike anything they saw) they diverge, and the never-worse guard
(vh.core.models.guard) shortens the correction by that disagreement. Mirrored views of one network cannot give
this signal: a network that is wrong about a shot is mostly wrong the same way in every view. Measured on
unseen footage, members trained on the same data still share most of their errors
(core/weights/MODEL_CARD.md).

    comp [B, T, 3, H, W], matte [B, T, 1, H, W] ──member k──> out_k [B, T, 3, H, W];  forward = mean_k out_k

Weights are one checkpoint: `members.<k>.<member's own key>`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vh.core.errors import InputError
from vh.core.models.base import Harmonizer
from vh.core.models.guard import GuardSettings
from vh.core.models.registry import create_model, register_model
from vh.core.options import build_config


@dataclass
class EnsembleConfig(GuardSettings):
    member: str = "vhmae_cpu"  # registered model every member is built as (its own defaults)
    count: int = 4  # members
    # the guard's settings as fitted for the shipped members on the `calib` split (GuardSettings)
    guard_floor: float = 0.01
    guard_caution: float = 1.0
    guard_direction: float = -1.0

    def validate(self) -> None:
        if self.count < 1:
            raise InputError(f"an ensemble needs at least one member, got count={self.count}")
        super().validate()


class Ensemble(Harmonizer):
    """`count` members of the model `member`; the output is their mean."""

    config_class = EnsembleConfig

    def __init__(self, config: EnsembleConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.members = nn.ModuleList(create_model(config.member) for _ in range(config.count))
        first = self.members[0]
        if first.stateful:
            raise InputError(f"ensemble members must be stateless; {config.member} keeps state")
        self.window, self.input_size = first.window, first.input_size

    def forward(self, comp: torch.Tensor, matte: torch.Tensor | None) -> torch.Tensor:
        return torch.stack([m(comp, matte) for m in self.members]).mean(0)  # [B, T, 3, H, W]


@register_model("vhmae_ens")
def vhmae_ens(**overrides: Any) -> Ensemble:
    """Four `vhmae_cpu` members trained with seeds 0-3 on the `train` split, behind a guard fitted on the
    `calib` split. Measured and not shipped: it did not beat `vhmae` on the unseen sets
    (core/weights/MODEL_CARD.md, "An ensemble with a guard fitted on held-out content")."""
    return Ensemble(build_config(EnsembleConfig, "vhmae_ens", overrides))
