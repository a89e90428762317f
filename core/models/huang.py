"""Huang et al. 2019, "Temporally Coherent Video Harmonization Using Adversarial Networks".

Two UNets of the same design (paper, Sec. III-B):

    G  [I_t, M_t] (4 channels)  -> O_t (RGB)          the harmonization network, run frame by frame
    D  I_t (RGB)                -> disharmony map     per pixel, 1 = disharmonious, 0 = harmonious (LSGAN)

Both work on frames in [-1, 1] (the paper's range); the `Harmonizer` interface stays in 0..1, so the
conversion happens here and nowhere else. The matte channel fed to G stays in 0..1 because it is a coverage,
not a colour.

Mask-free mode (Sec. III-C): with no matte, D predicts one and G uses it, O_t = G(I_t, D(I_t)); the returned
composite keeps the background where the predicted matte is 0, exactly as with a user matte.

The paper gives no layer counts. Our reading of "UNet [35]" at 512x512 is a pix2pix-sized UNet (64 base
channels, 8 stride-2 levels, 512 max, ~50M parameters per network); `huang_small` and `huang_tiny` shrink
width, depth and working size for laptops and CPU tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from vh.core.errors import InputError
from vh.core.layers.unet import UNet, UNetConfig
from vh.core.models.base import Harmonizer, blend
from vh.core.models.guard import GuardSettings
from vh.core.models.registry import register_model
from vh.core.options import build_config, option


@dataclass
class HuangConfig(GuardSettings):
    #: square working size the engine resizes to (the paper trains at 512x512).
    input_size: int = 512
    base_channels: int = 64
    depth: int = 8
    max_channels: int = 512
    norm: str = "group"
    # : G predicts a correction added to I_t instead of O_t itself. The paper's G is a plain UNet (False); a
    # residual : head lets a small CPU-trained model start from the identity, which a plain UNet needs many
    # steps to learn.
    residual: bool = False
    # : mask-free mode: 0 feeds D's soft map (clamped to 0..1) to G, as the paper does; > 0 binarizes it at
    # that level.
    detect_threshold: float = option(
        0.0,
        help="mask-free mode only: 0 uses the discriminator's soft disharmony map as the matte; "
        "a value in (0, 1) binarizes it at that level",
        min=0.0,
        max=1.0,
    )
    #: the engine's auto matte: the level of D's temporally smoothed map that counts as disharmonious. Shipped
    #: weights carry a level calibrated on training-side clips (vh.training.calibrate_matte).
    matte_threshold: float = option(
        0.5,
        help="mask-free mode only: the level of the discriminator's smoothed map that the auto matte keeps; "
        "higher repaints less",
        min=0.0,
        max=1.0,
    )

    def unet(self, in_channels: int, out_channels: int, activation: str) -> UNetConfig:
        return UNetConfig(
            in_channels=in_channels,
            out_channels=out_channels,
            base_channels=self.base_channels,
            depth=self.depth,
            max_channels=self.max_channels,
            norm=self.norm,
            activation=activation,
        )


def to_signed(x: torch.Tensor) -> torch.Tensor:
    """0..1 -> [-1, 1], the paper's pixel range."""
    return x * 2.0 - 1.0


def to_unit(x: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> 0..1."""
    return (x + 1.0) * 0.5


class HuangGenerator(nn.Module):
    """G: (I_t [N, 3, H, W] in [-1, 1], M_t [N, 1, H, W] in 0..1) -> O_t [N, 3, H, W] in [-1, 1].

    A module of its own (rather than a method of the harmonizer) so that a trainer can wrap it, e.g. in DDP.
    """

    def __init__(self, config: HuangConfig) -> None:
        super().__init__()
        self.residual = config.residual
        # G regresses colours in [-1, 1]: tanh, or a tanh-bounded correction in residual mode.
        self.unet = UNet(config.unet(4, 3, "tanh"))
        if self.residual:
            # start at the identity (O_t = I_t): training only has to learn the correction, not to copy the
            # input
            nn.init.zeros_(self.unet.head.weight)
            nn.init.zeros_(self.unet.head.bias)

    def forward(self, image: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        out = self.unet(torch.cat([image, matte], dim=1))  # [N, 3, H, W]
        if self.residual:
            # twice the tanh range so that any colour in [-1, 1] stays reachable from any input colour.
            out = (image + 2.0 * out).clamp(-1.0, 1.0)  # [N, 3, H, W]
        return out


class HuangHarmonizer(Harmonizer):
    config_class = HuangConfig
    window = 1
    stateful = False
    supports_auto_matte = True

    def __init__(self, config: HuangConfig | None = None) -> None:
        super().__init__()
        self.config = config = config or HuangConfig()
        config.validate()
        if config.input_size < 2**config.depth:
            raise InputError(f"input_size {config.input_size} is smaller than 2^depth = {2**config.depth}")
        self.input_size = (config.input_size, config.input_size)
        self.generator = HuangGenerator(config)
        # D is an LSGAN regressor: a linear head pushed toward 0/1 targets by squared error (Eq. 1).
        self.discriminator = UNet(config.unet(3, 1, "none"))
        # D starts by calling every pixel harmonious (0): its first answers carry no chance separation, so
        # what it reports later (and what G's adversarial term pushes against) is learned, not a quirk of the
        # init.
        nn.init.zeros_(self.discriminator.head.weight)
        nn.init.zeros_(self.discriminator.head.bias)

    @property
    def matte_threshold(self) -> float:
        return self.config.matte_threshold

    # -- the two networks on single frames in the paper's range ----------------------------------------------

    def generate(self, image: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        """O_t = G(I_t, M_t): image [N, 3, H, W] in [-1, 1], matte [N, 1, H, W] in 0..1 -> [N, 3, H, W] in
        [-1, 1]."""
        return self.generator(image, matte)

    def discriminate(self, image: torch.Tensor) -> torch.Tensor:
        """D(x): image [N, 3, H, W] in [-1, 1] -> raw disharmony map [N, 1, H, W] (targets 0/1, unbounded)."""
        return self.discriminator(image)

    # -- the Harmonizer interface, 0..1 ----------------------------------------------------------------------

    def detect(self, comp: torch.Tensor) -> torch.Tensor:
        """The predicted matte of a composite: comp [B, T, 3, H, W] in 0..1 -> [B, T, 1, H, W] in 0..1."""
        b, t, _, h, w = comp.shape
        frames = to_signed(comp.reshape(b * t, 3, h, w))  # [B*T, 3, H, W]
        matte = self.discriminate(frames).clamp(0.0, 1.0)  # [B*T, 1, H, W]
        if self.config.detect_threshold > 0:
            matte = (matte > self.config.detect_threshold).to(matte.dtype)
        return matte.reshape(b, t, 1, h, w)

    def forward(self, comp: torch.Tensor, matte: torch.Tensor | None = None) -> torch.Tensor:
        """comp [B, T, 3, H, W], matte [B, T, 1, H, W] or None (mask-free) -> harmonized [B, T, 3, H, W],
        0..1."""
        if matte is None:
            matte = self.detect(comp)  # [B, T, 1, H, W]
        b, t, _, h, w = comp.shape
        pred = self.generate(to_signed(comp.reshape(b * t, 3, h, w)), matte.reshape(b * t, 1, h, w))
        pred = to_unit(pred).reshape(b, t, 3, h, w)  # [B, T, 3, H, W]
        return blend(comp, pred, matte)


def _build(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> HuangHarmonizer:
    return HuangHarmonizer(build_config(HuangConfig, name, overrides, defaults))


@register_model("huang_paper", aliases=("huang2019",))
def huang_paper(**overrides) -> HuangHarmonizer:
    """Paper size: 512x512, pix2pix-sized UNets (~50M parameters each)."""
    return _build("huang_paper", {}, overrides)


@register_model("huang_cpu", aliases=("huang",))
def huang_cpu(**overrides) -> HuangHarmonizer:
    """The shipped model (vh/core/weights/huang_cpu): 128x128, 16-128 channels, 5 levels, residual G."""
    # matte_threshold: calibrated on training-side clips (vh.training.calibrate_matte, MODEL_CARD_huang.md)
    shipped = {
        "input_size": 128,
        "base_channels": 16,
        "depth": 5,
        "max_channels": 128,
        "residual": True,
        "matte_threshold": 0.7,
    }
    return _build("huang_cpu", shipped, overrides)


@register_model("huang_small")
def huang_small(**overrides) -> HuangHarmonizer:
    """256x256, 32-256 channels, 7 levels (~10M parameters each): the engine's default working size."""
    small = {"input_size": 256, "base_channels": 32, "depth": 7, "max_channels": 256}
    return _build("huang_small", small, overrides)


@register_model("huang_tiny")
def huang_tiny(**overrides) -> HuangHarmonizer:
    """64x64, 8-64 channels, 4 levels (~0.2M parameters each), residual G: smoke runs in minutes."""
    tiny = {"input_size": 64, "base_channels": 8, "depth": 4, "max_channels": 64, "residual": True}
    return _build("huang_tiny", tiny, overrides)
