"""Training task "huang": Huang et al. 2019's two-frame coordinated, alternating G/D adversarial training.

Per step, on a batch of T >= 2 consecutive frames (the paper uses T = 2, batch size 1):

    1. G harmonizes every frame separately: O_t = G(I_t, M_t), frames in [-1, 1].
    2. D step, G fixed (O_t detached): Eq. (1) averaged over the frames.
    3. G step, D frozen: Eq. (2) averaged over the frames. Frame t >= 1 adds the regional temporal loss
    against S(O_{t-1}), the previous output warped with the batch's exact flow; frame 0 (and data with no
    flow) has no previous output, so its temporal term is 0.

Optimizer (Sec. IV): Adam, fixed lr 2e-4. The paper prints "beta1 = 0.999", which would be a near-frozen first
moment; we read it as beta2 = 0.999 and take beta1 = 0.5, the usual value for least-squares/conditional GANs
(LSGAN, pix2pix, whose UNet+GAN recipe this paper follows), because a high first-moment momentum lets G and D
overshoot each other. Both are config values (`optim.betas`). The learning rate stays fixed unless the config
asks for the framework's warm-up/cosine schedule (`optim.schedule: cosine`).

Config sections read here:

    model: {name: huang_tiny, <HuangConfig overrides>}
    loss:  {lambda_temporal: 0.02, lambda_adversarial: 0.01}
    optim: {lr: 2.0e-4, betas: [0.5, 0.999], schedule: constant | cosine}
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vh.core.models import create_model
from vh.core.models.huang import HuangHarmonizer, to_signed
from vh.training.losses.huang import (
    LAMBDA_ADVERSARIAL,
    LAMBDA_TEMPORAL,
    discriminator_loss,
    generator_loss,
)
from vh.training.tasks.base import TrainTask, register_task


@register_task("huang")
class HuangTask(TrainTask):
    model_name = "huang"

    def __init__(self, config: dict[str, Any], device: torch.device, precision: str = "fp32"):
        super().__init__(config, device, precision)
        loss_cfg = config.get("loss", {})
        self.lambda_temporal = float(loss_cfg.get("lambda_temporal", LAMBDA_TEMPORAL))
        self.lambda_adversarial = float(loss_cfg.get("lambda_adversarial", LAMBDA_ADVERSARIAL))
        self.model: HuangHarmonizer | None = None

    def build_models(self) -> dict[str, nn.Module]:
        model = create_model(self.model_name, **self.model_overrides)
        if not isinstance(model, HuangHarmonizer):
            raise TypeError(
                f"task 'huang' trains Huang models, not {type(model).__name__} ({self.model_name!r})"
            )
        self.model = model
        # G and D are separate entries so that the framework can wrap each (DDP) and each gets its own
        # optimizer; they stay submodules of `self.model`, the harmonizer whose state dict (G and D) is the
        # checkpoint.
        return {"G": model.generator, "D": model.discriminator}

    def build_optimizers(self) -> dict[str, torch.optim.Optimizer]:
        lr = float(self.optim_config.get("lr", 2e-4))
        betas = tuple(float(b) for b in self.optim_config.get("betas", (0.5, 0.999)))
        return {
            "G": torch.optim.Adam(self.raw["G"].parameters(), lr=lr, betas=betas),
            "D": torch.optim.Adam(self.raw["D"].parameters(), lr=lr, betas=betas),
        }

    def build_schedulers(self, total_steps: int) -> dict[str, torch.optim.lr_scheduler.LRScheduler]:
        if self.optim_config.get("schedule", "constant") == "cosine":
            return super().build_schedulers(total_steps)
        return {}  # the paper's fixed learning rate

    def harmonizer(self) -> HuangHarmonizer:
        assert self.model is not None, "build_models() has not run"
        return self.model

    def eval_models(self) -> dict[str, nn.Module]:
        return {}  # D is part of the harmonizer's checkpoint: mask-free inference needs it

    def checkpoint_data(self) -> dict[str, Any]:
        return {"lambda_temporal": self.lambda_temporal, "lambda_adversarial": self.lambda_adversarial}

    def train_step(self, batch: dict[str, torch.Tensor], step: int) -> dict[str, torch.Tensor | float]:
        comp, real, matte = batch["comp"], batch["real"], batch["matte"]  # [B, T, 3|1, H, W], 0..1
        flow = batch.get("flow")  # [B, T-1, 2, H, W] or None
        # [B, T-1], 1 = exact flow; real-video clips carry none, and their temporal term is left out
        flow_valid = batch.get("flow_valid")
        b, t, _, h, w = comp.shape
        G, D = self.nets["G"], self.nets["D"]  # possibly DDP-wrapped
        image = to_signed(comp).reshape(b * t, 3, h, w)  # [B*T, 3, H, W], I in [-1, 1]
        target = to_signed(real).reshape(b * t, 3, h, w)  # X
        mask = matte.reshape(b * t, 1, h, w)  # M, 0..1

        # 1. G on every frame, separately (same weights): the two-frame "coordinated" forward.
        with self.autocast():
            output = G(image, mask).float()  # [B*T, 3, H, W], O

        # 2. D step on (O detached, I, X): Eq. (1). One forward over the three stacked, so a DDP-wrapped D
        # sees exactly one forward per backward (GroupNorm is per sample: stacking changes nothing else).
        n = b * t
        with self.autocast():
            d_all = D(torch.cat([output.detach(), image, target])).float()  # [3*B*T, 1, H, W]
        d_out, d_in, d_real = d_all[:n], d_all[n : 2 * n], d_all[2 * n :]
        loss_d = discriminator_loss(d_out, d_in, d_real, mask)
        self.optimize("D", loss_d, name="D")

        # 3. G step against the updated, frozen D: Eq. (2), the temporal term on frames 1..T-1. The unwrapped
        # D is used here: its weights get no gradient in this step, so there is nothing for DDP to
        # synchronise.
        d_raw = self.raw["D"]
        self.requires_grad(d_raw, False)
        try:
            with self.autocast():
                d_fake = d_raw(output).float()  # [B*T, 1, H, W], gradients reach G only
        finally:
            self.requires_grad(d_raw, True)
        seq = output.reshape(b, t, 3, h, w)  # [B, T, 3, H, W]
        real_seq = target.reshape(b, t, 3, h, w)
        d_seq = d_fake.reshape(b, t, 1, h, w)
        totals, recs, temps, advs = [], [], [], []
        for i in range(t):
            prev = seq[:, i - 1] if i > 0 and flow is not None else None
            temporal_matte = matte[
                :, i
            ]  # [B, 1, H, W]; zero where the flow is unknown: an empty region adds 0
            if prev is not None and flow_valid is not None:
                temporal_matte = temporal_matte * flow_valid[:, i - 1, None, None, None]
            terms = generator_loss(
                seq[:, i],
                real_seq[:, i],
                prev,
                flow[:, i - 1] if prev is not None else None,
                temporal_matte,
                d_seq[:, i],
                self.lambda_temporal,
                self.lambda_adversarial,
            )
            totals.append(terms.total)
            recs.append(terms.reconstruction.detach())
            advs.append(terms.adversarial.detach())
            if prev is not None:
                temps.append(terms.temporal.detach())
        loss_g = torch.stack(totals).mean()
        self.optimize("G", loss_g, name="G")

        # D's separation of real from composite foregrounds: mean D inside the mask on I minus on X (ideal:
        # 1).
        with torch.no_grad():
            fg = mask.sum().clamp_min(1.0)
            separation = ((d_in - d_real) * mask).sum() / fg
        return {
            "loss_D": loss_d.detach(),
            "loss_G": loss_g.detach(),
            "rec": torch.stack(recs).mean(),
            "temporal": torch.stack(temps).mean() if temps else torch.zeros(()),
            "adv": torch.stack(advs).mean(),
            "d_separation": separation,
        }
