"""The never-worse guard: a learned correction is applied only as far as the evidence for it holds up.

A model's correction `d = model(comp) - comp` is estimated again on mirrored views of the same window (flipped
left-right, up-down, both). Every view holds the same evidence, so a correction the evidence supports comes
out the same from each; one that rests on weak evidence (a model extrapolating beyond its training, a small or
ambiguous foreground, a plate that is already in harmony) varies between views. Per window the guard returns

    out = comp + s * mean_v(d_v),    s = m2 / (m2 + caution * v + floor)

m2 is the matte-weighted mean square of the averaged correction and v the matte-weighted mean variance across
views: Wiener (James-Stein) shrinkage toward the identity, i.e. toward the composite itself. `floor` is the
model's own error that no view reveals (what it gets wrong consistently), as a mean square in the working
space: a correction not clearly larger than that error is shortened most. s falls toward 0 as the views
disagree or the correction shrinks below the floor; it is never negative, so the guard only ever shortens the
correction's step, never turns it around. The average over views also reduces the correction's own noise.

The default floor was calibrated on clips built from the *training* side of the held-out split (the set
`vh make-dataset ... --holdout train --recolor grade,hyoutube,none --seed 3003`), as the value that minimised
their mean fMSE (0.0031, i.e. 200 on the 0..255 scale); the unseen sets played no part in choosing it.

The guarded model must not keep state across calls (each view would advance it); learned models do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vh.core.errors import InputError
from vh.core.models.base import Harmonizer

#: mirrored views, as the tensor dims to flip of [B, T, C, H, W]: identity, left-right, up-down, both
VIEWS = ((), (4,), (3,), (3, 4))


@dataclass
class GuardConfig:
    views: int = 4  # mirrored views compared; 1 compares none (only the floor then shrinks)
    caution: float = 1.0  # weight of the views' disagreement against the correction's size
    floor: float = 0.0031  # mean-square error the model makes whatever the view (working space, 0..1)

    def validate(self) -> None:
        if not 1 <= self.views <= len(VIEWS) or not self.caution >= 0.0 or not self.floor >= 0.0:
            raise InputError(
                f"guard views must be 1..{len(VIEWS)}, caution and floor >= 0; got {self.views}, "
                f"{self.caution}, "
                f"{self.floor}"
            )


class ConsensusGuard(Harmonizer):
    """`model`, with its correction shrunk toward the identity by the agreement of mirrored views."""

    def __init__(self, model: Harmonizer, config: GuardConfig | None = None) -> None:
        super().__init__()
        if model.stateful:
            raise InputError(
                f"the consensus guard needs a stateless model; {type(model).__name__} keeps state"
            )
        self.config = config or GuardConfig()
        self.config.validate()
        self.model = model
        self.window, self.input_size = model.window, model.input_size
        self.supports_auto_matte = model.supports_auto_matte
        self.confidence: torch.Tensor | None = None  # [B] the last call's s, for logs and tests

    @property
    def inner(self) -> Harmonizer:
        return self.model

    def forward(self, comp: torch.Tensor, matte: torch.Tensor | None) -> torch.Tensor:
        """comp [B, T, 3, H, W], matte [B, T, 1, H, W] -> comp + s * mean correction, s per clip window
        [B]."""
        views = VIEWS[: self.config.views]
        preds = []
        for dims in views:
            flip = lambda x, d=dims: x.flip(d) if d and x is not None else x  # noqa: E731
            preds.append(flip(self.model(flip(comp), flip(matte))))
        d = torch.stack(preds) - comp  # [V, B, T, 3, H, W]
        mean = d.mean(0)  # [B, T, 3, H, W]
        w = torch.ones_like(comp[:, :, :1]) if matte is None else matte  # [B, T, 1, H, W]
        dims = (1, 2, 3, 4)
        area = w.sum(dims).clamp(min=1e-6)  # [B]
        m2 = (mean.pow(2).mean(2, keepdim=True) * w).sum(dims) / area  # [B]
        v = (d.var(0, unbiased=False).mean(2, keepdim=True) * w).sum(dims) / area  # [B], 0 for one view
        s = m2 / (m2 + self.config.caution * v + self.config.floor).clamp(
            min=1e-12
        )  # [B], 0 when nothing moved
        self.confidence = s
        return comp + s.view(-1, 1, 1, 1, 1) * mean
