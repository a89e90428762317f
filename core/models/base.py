"""The interface every harmonizer implements, learned or classical.

Tensors are in the model's working space (sRGB-encoded Rec.709, 0..1), channels first:

    comp  [B, T, 3, H, W]  the composite (foreground pasted over the background)
    matte [B, T, 1, H, W]  coverage: 1 = foreground to repaint, 0 = background to keep, soft in between

`forward` returns the harmonized composite [B, T, 3, H, W] at the same size. Models never touch the
background: their output is `comp * (1 - matte) + pred * matte`. The engine handles resizing, windows, colour
spaces and the full-resolution transfer, so a model only ever sees `T == window` frames at `input_size`."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from vh.core.options import ModelOption, options_of


class Harmonizer(nn.Module):
    """Base class: a model that repaints the matted foreground of a composite to match its background."""

    #: frames per forward pass; 1 for per-frame models, 8 for VHMAE.
    window: int = 1
    #: (H, W) the model runs at; None means "any size" (the engine still picks a working size).
    input_size: tuple[int, int] | None = (256, 256)
    # : True when the model keeps estimates across calls (temporal smoothing); the engine calls reset() per
    # clip.
    stateful: bool = False
    #: True when forward() can run without a matte (matte=None), e.g. by predicting it.
    supports_auto_matte: bool = False
    #: the config dataclass the model is built from; its `option(...)` fields are the model's user options.
    config_class: ClassVar[type | None] = None

    def reset(self) -> None:
        """Forget temporal state before a new clip."""

    @classmethod
    def options(cls) -> list[ModelOption]:
        """What a user may set through `create_model(name, **overrides)`: `config_class`'s option fields."""
        return options_of(cls.config_class) if cls.config_class is not None else []

    def forward(self, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError


def blend(comp: torch.Tensor, pred: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
    """The composite every model returns: background from `comp`, foreground from `pred`, soft in between."""
    return comp * (1.0 - matte) + pred * matte
