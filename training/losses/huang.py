"""The losses of Huang et al. 2019, written as the paper's equations (Sec. III-B).

Notation, per sample, for frames [B, C, H, W] in [-1, 1]:

    I_t composite, X_t ground truth, O_t = G(I_t, M_t), M_t foreground mask (1 = foreground), D(.) [B,1,H,W]
    N   = H * W, the number of pixels in a frame
    N_F = sum(M_t), the number of foreground pixels (a soft matte counts its coverage)
    ||.||^2 sums over every element, channels included, so 1/N ||O_t - X_t||^2 is the per-pixel squared RGB
    distance, three times a per-element mean. We keep the paper's normalisation so that lambda1 and lambda2
    weigh the terms exactly as the paper tuned them.

Eq. (1), the pixel-wise disharmony discriminator (LSGAN-style least squares, targets 0/1):

    L_D = 1/2N ||D(O_t) - M_t||^2 + 1/2N ||D(I_t) - M_t||^2 + 1/N ||D(X_t)||^2

  Note the target for the *harmonized* frame: the paper pushes D(O_t) toward M_t, i.e. G's foreground pixels
  are labelled disharmonious (1) like the composite's, and only the real frame is all-harmonious (0). D never
  sees O_t's foreground as real; G's adversarial term pulls D(O_t) toward 0 (Eq. 2).

Eq. (2), the harmonization network:

    L_G = 1/N ||O_t - X_t||^2 + lambda1/N_F ||M_t o (O_t - S(O_{t-1}))||^2 + lambda2/N ||D(O_t)||^2

  S warps the previous output to frame t with the ground-truth flow through a differentiable bilinear sampler
  (a spatial transformer): `vh.training.flow.warp`, whose flow convention is warp(frame_{t-1}, flow_{t-1}) ~=
  frame_t. lambda1 = 2e-2, lambda2 = 1e-2 (Sec. IV, implementation details).

Each function returns the batch mean of the per-sample value.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vh.training.flow import warp

LAMBDA_TEMPORAL = 2e-2  # lambda1
LAMBDA_ADVERSARIAL = 1e-2  # lambda2


def _sq_sum(x: torch.Tensor) -> torch.Tensor:
    """||x||^2 per sample: [B, ...] -> [B]."""
    return x.pow(2).flatten(1).sum(dim=1)


def _pixels(x: torch.Tensor) -> int:
    """N: pixels in one frame of a [B, C, H, W] tensor."""
    return x.shape[-2] * x.shape[-1]


def discriminator_loss(
    d_output: torch.Tensor, d_input: torch.Tensor, d_real: torch.Tensor, matte: torch.Tensor
) -> torch.Tensor:
    """Eq. (1) from D's three outputs [B, 1, H, W]: on O_t (G detached), on I_t, on X_t; matte [B, 1, H,
    W]."""
    n = _pixels(matte)
    loss = (
        _sq_sum(d_output - matte) / (2 * n)  # harmonized frame: foreground still labelled disharmonious
        + _sq_sum(d_input - matte) / (2 * n)  # composite: the foreground is disharmonious
        + _sq_sum(d_real) / n  # real frame: every pixel harmonious
    )
    return loss.mean()


def reconstruction_loss(output: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """1/N ||O_t - X_t||^2 for frames [B, 3, H, W]."""
    return (_sq_sum(output - real) / _pixels(output)).mean()


def regional_temporal_loss(
    output: torch.Tensor, previous_output: torch.Tensor, flow: torch.Tensor, matte: torch.Tensor
) -> torch.Tensor:
    """1/N_F ||M_t o (O_t - S(O_{t-1}))||^2, without lambda1.

    output, previous_output [B, 3, H, W]; flow [B, 2, H, W] from frame t-1 to frame t (pixels, backward:
    sampling O_{t-1} at p + flow(p) gives frame t at p); matte M_t [B, 1, H, W].
    Gradients flow into both outputs: the paper trains the two frames "in a coordinated way".
    """
    warped = warp(previous_output, flow)  # [B, 3, H, W], S(O_{t-1}) aligned to frame t
    n_f = matte.flatten(1).sum(dim=1).clamp_min(1.0)  # [B]; an empty mask contributes 0, not NaN
    return (_sq_sum(matte * (output - warped)) / n_f).mean()


def adversarial_loss(d_output: torch.Tensor) -> torch.Tensor:
    """1/N ||D(O_t)||^2, without lambda2: G wants every pixel of O_t judged harmonious (0)."""
    return (_sq_sum(d_output) / _pixels(d_output)).mean()


@dataclass
class GeneratorLoss:
    total: torch.Tensor
    reconstruction: torch.Tensor
    temporal: torch.Tensor
    adversarial: torch.Tensor


def generator_loss(
    output: torch.Tensor,
    real: torch.Tensor,
    previous_output: torch.Tensor | None,
    flow: torch.Tensor | None,
    matte: torch.Tensor,
    d_output: torch.Tensor,
    lambda_temporal: float = LAMBDA_TEMPORAL,
    lambda_adversarial: float = LAMBDA_ADVERSARIAL,
) -> GeneratorLoss:
    """Eq. (2). Without a previous output (the first frame of a pair, or data with no flow) the temporal term
    is 0."""
    rec = reconstruction_loss(output, real)
    if previous_output is None or flow is None:
        temporal = output.new_zeros(())
    else:
        temporal = regional_temporal_loss(output, previous_output, flow, matte)
    adv = adversarial_loss(d_output)
    total = rec + lambda_temporal * temporal + lambda_adversarial * adv
    return GeneratorLoss(total=total, reconstruction=rec, temporal=temporal, adversarial=adv)
