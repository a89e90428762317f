"""A config-driven UNet (Ronneberger et al. 2015) with concatenated skips, shared by Huang et al.'s G and D.

    stem   3x3 conv at full resolution                  -> c0            (kept as the finest skip)
    down_i 4x4 stride-2 conv, norm, LeakyReLU(0.2)      -> c_i at H/2^i  (i = 1..depth, pix2pix-style encoder)
    up_i   bilinear x2, 3x3 conv on [x, skip], norm, ReLU
    head   1x1 conv -> out_channels, then the configured output activation

Channels double per level from `base_channels` up to `max_channels`. Decoding uses upsample + conv rather than
transposed convolutions because the latter leave checkerboard patterns, which a colour-repainting network
turns into visible texture on flat foregrounds. Inputs of any size work: they are reflect-padded to a multiple
of 2^depth and the output is cropped back, so the engine's working size never has to be a power of two."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("group", "batch", "instance", "none")
ACTIVATIONS = ("none", "tanh", "sigmoid")


@dataclass
class UNetConfig:
    in_channels: int
    out_channels: int
    #: channels of the full-resolution stem; level i has min(base * 2^i, max_channels).
    base_channels: int = 64
    #: number of stride-2 levels; the bottleneck is at H / 2^depth.
    depth: int = 8
    max_channels: int = 512
    # : "group" by default: Huang et al. train with batch size 1, where BatchNorm's running statistics are
    # unreliable : and train/eval behave differently; GroupNorm is batch-independent and identical in both
    # modes.
    norm: str = "group"
    #: output activation: "tanh" for images in [-1, 1], "none" for LSGAN-style regression heads.
    activation: str = "none"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, not {self.norm!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, not {self.activation!r}")
        if self.depth < 1 or self.base_channels < 1 or self.max_channels < self.base_channels:
            raise ValueError("UNet needs depth >= 1 and 1 <= base_channels <= max_channels")

    def channels(self, level: int) -> int:
        return min(self.base_channels * 2**level, self.max_channels)


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "group":
        # 8 groups where possible (or fewer for thin layers); a group must divide the channel count.
        groups = next(g for g in (8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    return nn.Identity()


class _Down(nn.Sequential):
    def __init__(self, cin: int, cout: int, norm: str) -> None:
        super().__init__(
            nn.Conv2d(cin, cout, 4, stride=2, padding=1, bias=norm == "none"),
            _norm(norm, cout),
            nn.LeakyReLU(0.2, inplace=True),
        )


class _Up(nn.Module):
    def __init__(self, cin: int, cskip: int, cout: int, norm: str) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin + cskip, cout, 3, padding=1, bias=norm == "none")
        self.norm = _norm(norm, cout)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)  # [B, Cin, h, w]
        x = torch.cat([x, skip], dim=1)  # [B, Cin + Cskip, h, w]
        return F.relu(self.norm(self.conv(x)), inplace=True)  # [B, Cout, h, w]


class UNet(nn.Module):
    """`UNet(UNetConfig(in_channels=4, out_channels=3, ...))`: [B, Cin, H, W] -> [B, Cout, H, W]."""

    def __init__(self, config: UNetConfig) -> None:
        super().__init__()
        self.config = config
        c = config.channels
        self.stem = nn.Sequential(
            nn.Conv2d(config.in_channels, c(0), 3, padding=1), nn.LeakyReLU(0.2, inplace=True)
        )
        self.downs = nn.ModuleList(_Down(c(i), c(i + 1), config.norm) for i in range(config.depth))
        # up_i brings level i+1 back to level i, concatenating level i's skip.
        self.ups = nn.ModuleList(
            _Up(c(i + 1), c(i), c(i), config.norm) for i in reversed(range(config.depth))
        )
        self.head = nn.Conv2d(c(0), config.out_channels, 1)

    @property
    def multiple(self) -> int:
        return 2**self.config.depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        m = self.multiple
        ph, pw = (-h) % m, (-w) % m
        if ph or pw:
            # Reflect keeps image statistics at the border; replicate is the fallback when the pad exceeds the
            # size.
            mode = "reflect" if ph < h and pw < w else "replicate"
            x = F.pad(x, (0, pw, 0, ph), mode=mode)  # [B, Cin, H', W'] with H', W' multiples of 2^depth
        skips = [self.stem(x)]  # [B, c0, H', W']
        for down in self.downs:
            skips.append(down(skips[-1]))  # [B, c_i, H'/2^i, W'/2^i]
        y = skips.pop()  # bottleneck [B, c_depth, H'/2^depth, W'/2^depth]
        for up in self.ups:
            y = up(y, skips.pop())  # one level finer
        y = self.head(y)[..., :h, :w]  # [B, Cout, H, W]
        if self.config.activation == "tanh":
            return torch.tanh(y)
        if self.config.activation == "sigmoid":
            return torch.sigmoid(y)
        return y
