"""VHMAE: a masked video autoencoder that repaints the foreground of a composite (seed 000, Table 1).

Unlike VideoMAE there is no random masking: the *foreground* tubelets are the masked tokens, so the network
reconstructs exactly what must be repainted, from the background it sees.

    comp  [B, 8, 3, 256, 256] ──tubelet embed 2x16x16──> tokens [B, 1024, 768] (+ fixed 3D sin-cos positions)
      visible (background) tokens ──12 x Block(768, MLP 3072)──> LN ──encoder projector──> [B, N_vis, 384]
      masked (foreground) tokens  ──PAM: MLP(768 -> 384)──────────────────────────────────> [B, N_fg, 384]
    merge at their positions [B, 1024, 384] (+ positions) ──4 x Block(384, MLP 1536)──> LN ──head──>
                                                                                      [B, 1024, 1536]
    reshape 1536 = 3 x 2 x 16 x 16 ──> pred [B, 8, 3, 256, 256];   out = comp * (1 - matte) + pred * matte

Mask values, everywhere in this file: a token-mask entry is True for a *foreground* (masked, repainted)
tubelet, one in which any matte pixel is > 0.5; the matte itself is 1 = foreground, 0 = background.

Variable counts. Each clip has its own number of foreground tokens. The encoder takes the visible tokens of
every clip sorted to the front and right-padded to the batch's largest count, with a key-padding mask, so a
batch gives the same result as a per-sample loop. Edge cases:
- no foreground token anywhere in the batch: the model returns `comp` unchanged without running.
- a clip with no background token (the foreground covers every tubelet): the encoder has nothing to see and is
  skipped for that clip; its decoder runs on the PAM tokens alone. In a mixed batch such a clip gets one
  padded key slot marked valid, only so that its attention rows stay finite; that slot's output is dropped.
- background tubelets are never predicted: a tubelet whose matte never exceeds 0.5 keeps `comp`'s pixels as
  its prediction, so a soft matte edge that stays below 0.5 blends the composite with itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn

from vh.core.errors import InputError
from vh.core.layers.color_transform import FEATURES as COLOR_FEATURES
from vh.core.layers.color_transform import apply_color_transform, pool_over_foreground
from vh.core.layers.mlp import Mlp
from vh.core.layers.pos_embed import sincos_3d
from vh.core.layers.transformer_block import Block
from vh.core.layers.tubelet_embed import TubeletEmbed, patchify, token_mask, unpatchify
from vh.core.models.base import Harmonizer, blend
from vh.core.models.guard import GuardSettings
from vh.core.models.registry import register_model
from vh.core.options import build_config

OUTPUTS = ("pixels", "color")
COLOR_POOLS = ("token", "window")


@dataclass
class VHMAEConfig(GuardSettings):
    """Architecture of one VHMAE variant; the defaults are Table 1 of the paper (`vhmae_base`)."""

    input_size: int = 256  # square frames the model runs at; a multiple of `patch`
    frames: int = 8  # frames per window; a multiple of `tubelet`
    tubelet: int = 2  # frames per token
    patch: int = 16  # pixels per token side
    in_chans: int = 3
    embed_dim: int = 768  # encoder width (divisible by 6 for the 3D sin-cos code)
    depth: int = 12
    heads: int = 12
    mlp_dim: int = 3072
    decoder_dim: int = 384
    decoder_depth: int = 4
    decoder_heads: int = 6
    decoder_mlp_dim: int = 1536
    pam_hidden: int = 768  # hidden width of the PAM MLP (768 -> pam_hidden -> decoder_dim)
    mask_threshold: float = 0.5  # a tubelet is foreground when any matte pixel exceeds this
    #: what the head predicts per token. "pixels": the tubelet's pixels (the paper). "color": the weights of a
    #: colour transform of the composite's own tubelet pixels (`layers.color_transform`), zero-initialised, so
    #: the untrained model is the identity and the output keeps the foreground's detail.
    output: str = "pixels"
    #: with output="color": "token" gives each foreground tubelet its own transform; "window" gives every
    #: foreground tubelet of a clip window the mean of those transforms (one global transform per window).
    color_pool: str = "window"

    @property
    def grid(self) -> tuple[int, int, int]:
        """Token grid (T', H', W')."""
        side = self.input_size // self.patch
        return (self.frames // self.tubelet, side, side)

    @property
    def num_tokens(self) -> int:
        t, h, w = self.grid
        return t * h * w

    @property
    def token_pixels(self) -> int:
        return self.in_chans * self.tubelet * self.patch * self.patch

    @property
    def head_dim(self) -> int:
        return self.token_pixels if self.output == "pixels" else self.in_chans * COLOR_FEATURES

    def matmul_flops(self, n_fg: int) -> int:
        """FLOPs (2 x multiply-adds) of one window's matrix products with `n_fg` foreground tokens; norms,
        activations and the final blend are left out (<1%). What a TFLOP/s figure should divide."""
        N, D, Dd, n_vis = self.num_tokens, self.embed_dim, self.decoder_dim, self.num_tokens - n_fg

        def blocks(depth: int, L: int, d: int, mlp: int) -> int:  # qkv, proj, MLP; then QK^T and AV
            return depth * 2 * (L * d * (4 * d + 2 * mlp) + 2 * L * L * d)

        return (
            2
            * (
                N * self.token_pixels * D  # tubelet embedding
                + n_fg * (D * self.pam_hidden + self.pam_hidden * Dd)  # PAM, foreground only
                + n_vis * D * Dd  # encoder projector
                + N * Dd * self.head_dim  # head
            )
            + blocks(self.depth, n_vis, D, self.mlp_dim)
            + blocks(self.decoder_depth, N, Dd, self.decoder_mlp_dim)
        )

    def validate(self) -> None:
        super().validate()
        if self.output not in OUTPUTS or self.color_pool not in COLOR_POOLS:
            raise InputError(
                f"VHMAE output={self.output!r}, color_pool={self.color_pool!r}: choose output from {OUTPUTS} "
                f"and color_pool from {COLOR_POOLS}"
            )
        if self.input_size % self.patch or self.frames % self.tubelet:
            raise InputError(
                f"VHMAE input {self.frames}x{self.input_size}x{self.input_size} is not a multiple of its "
                f"{self.tubelet}x{self.patch}x{self.patch} tubelets"
            )
        for name, dim in (("embed_dim", self.embed_dim), ("decoder_dim", self.decoder_dim)):
            if dim % 6:
                raise InputError(f"VHMAE {name}={dim} must be divisible by 6 (3D sin-cos position code)")


class Reconstruction(NamedTuple):
    """What one training forward returns (see `VHMAE.reconstruct`)."""

    pred: torch.Tensor  # [B, T, 3, H, W] raw prediction; background tubelets hold comp's pixels
    fg: torch.Tensor  # [B, N] bool, True = foreground (masked) tubelet
    pam: torch.Tensor  # [M, decoder_dim] PAM tokens of the foreground, M = fg.sum(), in fg.nonzero() order


class VHMAE(Harmonizer):
    """The VHMAE harmonizer; build it with `create_model("vhmae_base" | "vhmae_small" | "vhmae_tiny")`."""

    config_class = VHMAEConfig
    window = 8
    stateful = False

    def __init__(self, config: VHMAEConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.window = config.frames
        self.input_size = (config.input_size, config.input_size)
        c = config
        self.patch_embed = TubeletEmbed(c.in_chans, c.embed_dim, c.tubelet, c.patch)
        self.encoder = nn.ModuleList(Block(c.embed_dim, c.heads, c.mlp_dim) for _ in range(c.depth))
        self.encoder_norm = nn.LayerNorm(c.embed_dim, eps=1e-6)
        self.encoder_proj = nn.Linear(c.embed_dim, c.decoder_dim)
        self.pam = Mlp(c.embed_dim, c.pam_hidden, c.decoder_dim)
        self.decoder = nn.ModuleList(
            Block(c.decoder_dim, c.decoder_heads, c.decoder_mlp_dim) for _ in range(c.decoder_depth)
        )
        self.decoder_norm = nn.LayerNorm(c.decoder_dim, eps=1e-6)
        self.head = nn.Linear(c.decoder_dim, c.head_dim)
        # Fixed codes are recomputed from the config, so they stay out of checkpoints (persistent=False).
        self.register_buffer("pos_embed", sincos_3d(c.embed_dim, c.grid)[None], persistent=False)  # [1, N, D]
        self.register_buffer("decoder_pos_embed", sincos_3d(c.decoder_dim, c.grid)[None], persistent=False)
        self.apply(_init_weights)
        if c.output == "color":  # start as the identity transform: the untrained model returns the composite
            nn.init.zeros_(self.head.weight)

    # ---- stages --------------------------------------------------------------------------------------------

    def tokens_mask(self, matte: torch.Tensor) -> torch.Tensor:
        """matte [B, T, 1, H, W] -> [B, N] bool, True = foreground (masked) tubelet."""
        return token_mask(matte, self.config.tubelet, self.config.patch, self.config.mask_threshold)

    def pam_tokens(self, video: torch.Tensor, fg: torch.Tensor) -> torch.Tensor:
        """PAM(embed(video)) at the foreground tubelets: [M, decoder_dim], M = fg.sum(), in fg.nonzero()
        order.

        Used on the composite (the decoder's initial masked tokens) and, by L_align, on the real video.
        """
        return self.pam(self.patch_embed(video)[fg])  # [M, D] -> [M, Dd]

    def encode(self, x: torch.Tensor, fg: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Visible tokens through the encoder.

        x [B, N, D] embedded tokens with positions; fg [B, N] bool.
        Returns (tokens [B, L, Dd] after the projector, their positions [B, L] long, valid [B, L] bool) where
        L is the batch's largest visible count and valid marks real (non-padding) slots.
        """
        B, _, D = x.shape
        n_vis = (~fg).sum(1)  # [B]
        L = int(n_vis.max())
        # A stable sort on the mask puts each clip's visible tokens first, in their original order.
        order = torch.argsort(fg.to(torch.uint8), dim=1, stable=True)[:, :L]  # [B, L]
        valid = torch.arange(L, device=x.device)[None, :] < n_vis[:, None]  # [B, L]
        h = torch.gather(x, 1, order[:, :, None].expand(B, L, D))  # [B, L, D]
        # A clip without visible tokens would have no key to attend to (NaN softmax): let it see its one
        # padded slot; the output of that slot is dropped below, so the clip's encoder is effectively skipped.
        keys = valid.clone()
        keys[:, 0] = True
        if bool(
            keys.all()
        ):  # equal counts (always so for one clip): no mask keeps SDPA on its fastest kernel
            keys = None
        for block in self.encoder:
            h = block(h, keys)  # [B, L, D]
        h = self.encoder_proj(self.encoder_norm(h))  # [B, L, Dd]
        return h, order, valid

    def decode(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens [B, N, Dd] (all positions, no padding) -> per-token head outputs [B, N, head_dim]: pixels
        [C*t*p*p] or colour-transform weights [C*7]."""
        h = tokens + self.decoder_pos_embed  # [B, N, Dd]
        for block in self.decoder:
            h = block(h)  # [B, N, Dd]
        return self.head(self.decoder_norm(h))  # [B, N, 1536]

    def reconstruct(self, comp: torch.Tensor, matte: torch.Tensor) -> Reconstruction:
        """The training forward: the raw (unclamped) prediction, the token mask and the composite's PAM
        tokens."""
        c = self.config
        B = comp.shape[0]
        fg = self.tokens_mask(matte)  # [B, N]
        emb = self.patch_embed(comp)  # [B, N, D]
        pam = self.pam(emb[fg])  # [M, Dd]
        tokens = emb.new_zeros(B, c.num_tokens, c.decoder_dim)  # [B, N, Dd]
        tokens[fg] = pam
        if bool((~fg).any()):  # some clip has background to look at
            enc, order, valid = self.encode(emb + self.pos_embed, fg)  # [B, L, Dd], [B, L], [B, L]
            rows = torch.arange(B, device=comp.device)[:, None].expand_as(order)  # [B, L]
            tokens[rows[valid], order[valid]] = enc[valid]
        head = self.decode(tokens)  # [B, N, head_dim]
        comp_pixels = patchify(comp, c.tubelet, c.patch)  # [B, N, C*t*p*p]
        if c.output == "color":
            if c.color_pool == "window":
                head = pool_over_foreground(head, fg)  # [B, N, C*7], one transform per clip window
            pixels = apply_color_transform(comp_pixels, head, c.in_chans)  # [B, N, C*t*p*p]
        else:
            pixels = head
        # Background tubelets are not predicted: they keep the composite's own pixels.
        pixels = torch.where(fg[:, :, None], pixels, comp_pixels)
        pred = unpatchify(pixels, c.grid, c.tubelet, c.patch)  # [B, T, 3, H, W]
        return Reconstruction(pred, fg, pam)

    # ---- Harmonizer ----------------------------------------------------------------------------------------

    def check_input(self, comp: torch.Tensor, matte: torch.Tensor) -> None:
        c = self.config
        want = (c.frames, c.in_chans, c.input_size, c.input_size)
        if comp.dim() != 5 or tuple(comp.shape[1:]) != want:
            raise InputError(f"VHMAE expects comp [B, {', '.join(map(str, want))}], got {list(comp.shape)}")
        if matte is None or tuple(matte.shape) != (comp.shape[0], c.frames, 1, c.input_size, c.input_size):
            got = None if matte is None else list(matte.shape)
            raise InputError(
                f"VHMAE expects a matte [B, {c.frames}, 1, {c.input_size}, {c.input_size}], got {got}"
            )

    def forward(self, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        """comp [B, T, 3, H, W], matte [B, T, 1, H, W] in 0..1 -> comp * (1 - matte) + pred * matte."""
        self.check_input(comp, matte)
        if not bool(self.tokens_mask(matte).any()):
            return comp.clone()  # nothing to repaint: the input, bit for bit, without running the network
        pred = self.reconstruct(comp, matte).pred.clamp(
            0.0, 1.0
        )  # the working space is display-referred 0..1
        return blend(comp, pred, matte)


def _init_weights(m: nn.Module) -> None:
    # MAE's initialisation: xavier-uniform linears (the tubelet conv as the linear layer it is), zero biases.
    if isinstance(m, (nn.Linear, nn.Conv3d)):
        nn.init.xavier_uniform_(m.weight.view(m.weight.shape[0], -1))
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# ---- named variants ----------------------------------------------------------------------------------------


def _build(name: str, defaults: dict[str, Any], overrides: dict[str, Any]) -> VHMAE:
    return VHMAE(build_config(VHMAEConfig, name, overrides, defaults))


@register_model("vhmae_base")
def vhmae_base(**overrides: Any) -> VHMAE:
    """Table 1: 8x256x256, ViT-B encoder (12 x 768) on background tokens, 4 x 384 decoder; 95.1M
    parameters."""
    return _build("vhmae_base", {}, overrides)


@register_model("vhmae_small")
def vhmae_small(**overrides: Any) -> VHMAE:
    """ViT-S-sized encoder (12 x 384) with a 4 x 192 decoder at 256x256: a quarter of base's compute."""
    defaults = {
        "embed_dim": 384,
        "heads": 6,
        "mlp_dim": 1536,
        "pam_hidden": 384,
        "decoder_dim": 192,
        "decoder_heads": 3,
        "decoder_mlp_dim": 768,
    }
    return _build("vhmae_small", defaults, overrides)


_TINY = {
    "input_size": 128,
    "embed_dim": 192,
    "depth": 4,
    "heads": 3,
    "mlp_dim": 768,
    "pam_hidden": 192,
    "decoder_dim": 96,
    "decoder_depth": 2,
    "decoder_heads": 3,
    "decoder_mlp_dim": 384,
}


@register_model("vhmae_tiny")
def vhmae_tiny(**overrides: Any) -> VHMAE:
    """CPU-sized (4 x 192 encoder, 2 x 96 decoder) at 128x128, for tests and laptop experiments."""
    return _build("vhmae_tiny", _TINY, overrides)


@register_model("vhmae_cpu", aliases=("vhmae",))
def vhmae_cpu(**overrides: Any) -> VHMAE:
    """The shipped VHMAE (`vhmae`): vhmae_tiny's size, its head predicting one colour transform per window.

    Trained on a CPU (see core/weights/MODEL_CARD.md); recolouring rather than repainting keeps the plate's
    detail and generalises to footage, LUTs and grades that training never saw.
    """
    return _build("vhmae_cpu", {**_TINY, "output": "color", "color_pool": "window"}, overrides)
