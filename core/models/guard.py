"""The never-worse guard: a learned correction is applied only as far as the evidence for it holds up.

A model's correction `d = model(comp) - comp` is estimated several times for the same window: by each
member of an ensemble (vh.core.models.ensemble), each on its own mirrored view (flipped left-right, up-down,
both); a single model gives one estimate per view. Every estimate holds the same evidence, so a correction
the evidence supports comes out the same from each; one that rests on weak evidence (content unlike the
training data, a small or ambiguous foreground, a plate already in harmony) varies between them. Members
trained apart disagree where views of one network cannot: a network wrong about a shot is mostly wrong the
same way in every view. Per window the guard returns

    out = comp + s * mean_e(d_e),    s = m2 / (m2 + caution * v + floor)

m2 is the matte-weighted mean square of the averaged correction and v the matte-weighted mean variance across
estimates: Wiener (James-Stein) shrinkage toward the identity, i.e. toward the composite itself. `floor`
is the model's own error that no estimate reveals (what every member gets wrong alike), as a mean square in
the working space: a correction not clearly larger than that error is shortened most. s falls toward 0 as the
estimates disagree or the correction shrinks below the floor; it is never negative, so the guard only ever
shortens the correction's step, never turns it around. The average also reduces the correction's own noise.

A second check reads the one thing the background can vouch for: the way it pulls the foreground. Every
method here, learned or classical, moves the foreground's colour toward what the background suggests, so a
correction whose mean colour step leaves that way (the cosine between it and the background mean minus the
foreground mean is below `direction`) rests on the model's idea of the content alone, with the plate as
evidence against it: that window is left as it came (s = 0). It cannot catch a foreground that was graded
*toward* its plate, whose truth lies away from the background: there the evidence agrees with the wrong
correction. benchmarks/bench_background_direction.py prints both cosines per clip. `direction = -1` is off.

`floor`, `caution` and `direction` belong to the trained weights: every learned model's config carries them
(GuardSettings: `guard_floor`, `guard_caution`, `guard_direction`), fitted by `python -m
vh.training.calibrate_guard` on the `calib` split, content the model never trained on (vh.training.splits),
and shipped in the weights' sidecar. A checkpoint saved before its fit gets the defaults below, which are
`vhmae_cpu`'s: DEFAULT_FLOOR fitted on the training side, before the `calib` split existed (the value that
minimised mean fMSE on `vh make-dataset ... --holdout train --recolor grade,hyoutube,none --seed 3003`; 200 on
the 0..255 scale), DEFAULT_DIRECTION on the `calib` sets with that floor by calibrate_guard's rule.
`vhmae_cpu` and `huang_cpu` trained on the calib footage and LUTs too (they predate the split), so their fits
saw familiar content under fresh grades (core/weights/MODEL_CARD.md, "The background-direction check").

The guarded model must not keep state across calls (each estimate would advance it); learned models do not.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from vh.core.errors import InputError
from vh.core.models.base import Harmonizer

#: mirrored views, as the tensor dims to flip of [B, T, C, H, W]: identity, left-right, up-down, both
VIEWS = ((), (4,), (3,), (3, 4))


#: the floor, caution and direction of a model that carries no calibrated ones (see the module docstring)
DEFAULT_FLOOR, DEFAULT_CAUTION, DEFAULT_DIRECTION = 0.0031, 1.0, 0.5


@dataclass
class GuardConfig:
    """The caller's guard: `caution`, `floor` and `direction` left None take the guarded model's own
    (GuardSettings), else the defaults above."""

    views: int = 4  # mirrored views compared; 1 compares none (only the floor then shrinks)
    caution: float | None = None  # weight of the views' disagreement against the correction's size
    floor: float | None = None  # mean-square error the model makes whatever the view (working space, 0..1)
    direction: float | None = None  # least cosine between the correction and the background's pull; -1: off

    def validate(self) -> None:
        caution = DEFAULT_CAUTION if self.caution is None else self.caution
        floor = DEFAULT_FLOOR if self.floor is None else self.floor
        direction = DEFAULT_DIRECTION if self.direction is None else self.direction
        if (
            not 1 <= self.views <= len(VIEWS)
            or not caution >= 0.0
            or not floor >= 0.0
            or not -1.0 <= direction <= 1.0
        ):
            raise InputError(
                f"guard views must be 1..{len(VIEWS)}, caution and floor >= 0, direction in -1..1; got "
                f"{self.views}, {self.caution}, {self.floor}, {self.direction}"
            )


@dataclass
class GuardSettings:
    """The guard's settings that belong to a learned model's weights: a base of the model's config.

    Fitted after training (python -m vh.training.calibrate_guard, on the `calib` split) and shipped in the
    weights' sidecar (`python -m vh.training.ship ... --set guard_direction=D`), so each model carries its
    own. A checkpoint saved before it was fitted gets the defaults above."""

    guard_floor: float = DEFAULT_FLOOR
    guard_caution: float = DEFAULT_CAUTION
    guard_direction: float = DEFAULT_DIRECTION

    def validate(self) -> None:
        guard = GuardConfig(
            floor=self.guard_floor, caution=self.guard_caution, direction=self.guard_direction
        )
        try:
            guard.validate()
        except InputError as exc:
            raise InputError(f"{type(self).__name__}: {exc}") from None


def _first(*values: float | None) -> float:
    return next(float(v) for v in values if v is not None)


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
        calibrated = getattr(model, "config", None)
        self.floor = _first(self.config.floor, getattr(calibrated, "guard_floor", None), DEFAULT_FLOOR)
        self.caution = _first(
            self.config.caution, getattr(calibrated, "guard_caution", None), DEFAULT_CAUTION
        )
        self.direction = _first(
            self.config.direction, getattr(calibrated, "guard_direction", None), DEFAULT_DIRECTION
        )
        self.window, self.input_size = model.window, model.input_size
        self.supports_auto_matte = model.supports_auto_matte
        self.confidence: torch.Tensor | None = None  # [B] the last call's s, for logs and tests

    @property
    def inner(self) -> Harmonizer:
        return self.model

    def corrections(self, comp: torch.Tensor, matte: torch.Tensor | None) -> torch.Tensor:
        """The model's corrections, one per estimate: [E, B, T, 3, H, W]. Estimate j is member j of an
        ensemble (vh.core.models.ensemble) on mirrored view j, cycling through whichever runs out first."""
        members = list(getattr(self.model, "members", None) or [self.model])
        preds = []
        for j in range(max(len(members), self.config.views)):
            net, dims = members[j % len(members)], VIEWS[j % self.config.views]
            flip = lambda x, d=dims: x.flip(d) if d and x is not None else x  # noqa: E731
            preds.append(flip(net(flip(comp), flip(matte))))
        return torch.stack(preds) - comp

    def forward(self, comp: torch.Tensor, matte: torch.Tensor | None) -> torch.Tensor:
        """comp [B, T, 3, H, W], matte [B, T, 1, H, W] -> comp + s * mean correction, s per clip window
        [B]."""
        d = self.corrections(comp, matte)  # [E, B, T, 3, H, W]
        mean = d.mean(0)  # [B, T, 3, H, W]
        w = torch.ones_like(comp[:, :, :1]) if matte is None else matte  # [B, T, 1, H, W]
        dims = (1, 2, 3, 4)
        area = w.sum(dims).clamp(min=1e-6)  # [B]
        m2 = (mean.pow(2).mean(2, keepdim=True) * w).sum(dims) / area  # [B]
        v = (d.var(0, unbiased=False).mean(2, keepdim=True) * w).sum(dims) / area  # [B], 0 for one estimate
        s = m2 / (m2 + self.caution * v + self.floor).clamp(min=1e-12)  # [B], 0 when nothing moved
        s = s * self.follows_background(comp, mean, matte)
        self.confidence = s
        return comp + s.view(-1, 1, 1, 1, 1) * mean

    def follows_background(
        self, comp: torch.Tensor, step: torch.Tensor, matte: torch.Tensor | None
    ) -> torch.Tensor:
        """[B]: 1 where the correction's mean colour step goes the way the background pulls the foreground
        (the cosine between the two is at least `direction`), else 0. 1 where nothing can be judged: no
        matte, or no background or foreground in the window."""
        ones = torch.ones(comp.shape[0], dtype=comp.dtype, device=comp.device)
        if matte is None or self.direction <= -1.0:
            return ones
        dims = (1, 3, 4)
        fg_area, bg_area = matte.sum(dims), (1 - matte).sum(dims)  # [B, 1]
        fg_mean = (comp * matte).sum(dims) / fg_area.clamp(min=1e-6)  # [B, 3]
        pull = (comp * (1 - matte)).sum(dims) / bg_area.clamp(min=1e-6) - fg_mean  # [B, 3]
        moved = (step * matte).sum(dims) / fg_area.clamp(min=1e-6)  # [B, 3]
        follows = F.cosine_similarity(moved, pull, dim=1, eps=1e-12) >= self.direction  # [B]
        judged = (fg_area[:, 0] > 0) & (bg_area[:, 0] > 0)
        return torch.where(judged, follows.to(comp.dtype), ones)
