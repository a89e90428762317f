"""VHMAE's loss terms on examples small enough to compute by hand: frames T=2, tubelet (1, 2), 1 channel."""

import pytest
import torch

from vh.training.losses.vhmae import (
    RELATIVE_FLOOR,
    VHMAELossWeights,
    align_loss,
    balance_loss,
    harm_loss,
    rec_loss,
    relative_loss,
    token_pixel_mask,
    total_loss,
)

TUB = (1, 2)  # one frame, 2x2 pixels per token; a 1 x 4 x 4 frame has a 2 x 2 token grid


def test_token_pixel_mask_expands_tokens_to_their_pixels():
    fg = torch.tensor([[False, True, False, False]])  # token (row 0, column 1)
    mask = token_pixel_mask(fg, torch.Size([1, 1, 1, 4, 4]), TUB)
    expected = torch.zeros(1, 1, 1, 4, 4)
    expected[..., 0:2, 2:4] = 1
    assert torch.equal(mask, expected)


def test_rec_loss_is_mse_over_foreground_tubelets_only():
    real = torch.zeros(1, 1, 1, 4, 4)
    pred = torch.zeros(1, 1, 1, 4, 4)
    pred[..., 0:2, 2:4] = torch.tensor([[1.0, 2.0], [3.0, 0.0]])  # inside the fg token: squares 1+4+9+0
    pred[..., 3, 0] = 100.0  # a background pixel: must not count
    fg = torch.tensor([[False, True, False, False]])
    assert rec_loss(pred, real, fg, TUB).item() == pytest.approx(14 / 4)


def test_rec_loss_without_foreground_is_zero_not_nan():
    pred = torch.ones(1, 1, 3, 4, 4, requires_grad=True)
    loss = rec_loss(pred, torch.zeros(1, 1, 3, 4, 4), torch.zeros(1, 4, dtype=torch.bool), TUB)
    loss.backward()
    assert loss.item() == 0 and pred.grad is not None


def test_align_loss_is_normalised_distance_with_gradient_on_the_composite_side_only():
    comp = torch.tensor([[3.0, 0.0], [0.0, 2.0]], requires_grad=True)
    real = torch.tensor([[5.0, 0.0], [1.0, 0.0]], requires_grad=True)
    # Token 0: same direction, distance 0. Token 1: orthogonal unit vectors, |(0, 1) - (1, 0)|^2 = 2. Mean 1.
    loss = align_loss(comp, real)
    assert loss.item() == pytest.approx(1.0)
    loss.backward()
    assert real.grad is None
    assert comp.grad[0].abs().max() < 1e-6 and comp.grad[1].abs().max() > 0
    # scale-invariant: a target that grows does not make the loss grow
    assert align_loss(comp * 10, real * 1000).item() == pytest.approx(1.0)
    assert align_loss(torch.zeros(0, 8), torch.zeros(0, 8)).item() == 0


def test_balance_loss_counts_only_pairs_across_tubelet_borders():
    real = torch.zeros(1, 1, 1, 4, 4)
    fg = torch.ones(1, 4, dtype=torch.bool)
    # A constant offset per token is the MAE grid artifact: +1 on the left tokens, 0 on the right ones.
    pred = torch.zeros(1, 1, 1, 4, 4)
    pred[..., :, 0:2] = 1.0
    # Pairs: columns (1, 2) in 4 rows -> 4 pairs with (1 - 0)^2 = 1; rows (1, 2) in 4 columns -> 4 pairs of 0;
    # one frame gives no temporal pairs. Mean over the 8 pairs = 4 / 8.
    assert balance_loss(pred, real, fg, TUB).item() == pytest.approx(0.5)
    # An offset inside a token (not at a border) costs nothing: column 0 vs 1 is not a border pair.
    inside = torch.zeros(1, 1, 1, 4, 4)
    inside[..., :, 0] = 1.0
    assert balance_loss(inside, real, fg, TUB).item() == 0


def test_balance_loss_temporal_border_and_foreground_restriction():
    real = torch.zeros(1, 2, 1, 4, 4)
    pred = torch.zeros(1, 2, 1, 4, 4)
    pred[:, 1] = 2.0  # the second tubelet in time is brighter than truth by 2 everywhere
    fg = torch.tensor([[True, False, False, False, False, False, False, False]])  # token t=0, (0, 0) only
    # Pairs touching the fg token: column border in rows 0-1 of frame 0 (2 pairs, 0), row border in columns
    # 0-1 of frame 0 (2 pairs, 0), frame border at its 4 pixels (4 pairs, (0 - 2)^2 = 4). Mean = 16 / 8.
    assert balance_loss(pred, real, fg, (1, 2)).item() == pytest.approx(2.0)


def test_total_loss_weights():
    one = torch.tensor(1.0)
    assert total_loss(one, 2 * one, 3 * one, VHMAELossWeights(alpha=0.5, beta=0.7)).item() == pytest.approx(
        4.1
    )
    assert total_loss(one, 2 * one, 3 * one, VHMAELossWeights()).item() == pytest.approx(6.0)


def test_harm_charges_only_the_clips_made_worse_than_their_composite():
    real = torch.zeros(3, 1, 1, 2, 2)
    comp = torch.full_like(real, 0.5)  # fMSE 0.25 in every clip
    matte = torch.ones_like(real)
    pred = torch.stack([torch.full((1, 1, 2, 2), v) for v in (0.2, 0.7, 0.5)])  # better, worse, unchanged
    # per clip: max(0, 0.04 - 0.25) = 0, max(0, 0.49 - 0.25) = 0.24, 0; the mean over clips is 0.08
    assert harm_loss(pred, real, comp, matte).item() == pytest.approx(0.08)
    matte[1, ..., 0, 0] = 0  # the harmed clip's error is read inside its matte only
    assert harm_loss(pred, real, comp, matte).item() == pytest.approx(0.08)
    assert harm_loss(pred, real, comp, torch.zeros_like(matte)).item() == 0.0  # no foreground: nothing


def test_harm_pushes_a_harmful_prediction_back_toward_the_composite():
    real, comp, matte = (
        torch.zeros(1, 1, 1, 2, 2),
        torch.full((1, 1, 1, 2, 2), 0.5),
        torch.ones(1, 1, 1, 2, 2),
    )
    pred = torch.full((1, 1, 1, 2, 2), 0.7, requires_grad=True)
    harm_loss(pred, real, comp, matte).backward()
    assert (pred.grad > 0).all()  # lowering pred (toward the truth) lowers the loss


def test_total_loss_adds_the_weighted_harm_only_when_given():
    one = torch.tensor(1.0)
    w = VHMAELossWeights(alpha=1.0, beta=1.0, harm=3.0)
    assert total_loss(one, one, one, w).item() == 3.0
    assert total_loss(one, one, one, w, harm=torch.tensor(0.5)).item() == 4.5


def test_total_loss_adds_the_weighted_again_term_beside_harm():
    one = torch.tensor(1.0)
    w = VHMAELossWeights(alpha=1.0, beta=1.0, harm=3.0, again=0.5)
    assert total_loss(one, one, one, w, again=torch.tensor(2.0)).item() == 4.0
    assert total_loss(one, one, one, w, harm=torch.tensor(0.5), again=torch.tensor(2.0)).item() == 5.5


def test_total_loss_adds_relative_and_refuses_a_term_it_has_no_weight_for():
    one = torch.tensor(1.0)
    w = VHMAELossWeights(alpha=1.0, beta=1.0, relative=0.25)
    assert total_loss(one, one, one, w, relative=torch.tensor(2.0)).item() == 3.5
    with pytest.raises(ValueError, match="unknown loss terms \\['hram'\\]"):
        total_loss(one, one, one, w, hram=torch.tensor(2.0))


def test_relative_scores_each_clip_by_its_share_of_the_composites_error():
    real = torch.zeros(2, 1, 1, 2, 2)
    comp = torch.stack([torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.1)])  # fMSE 0.25 and 0.01
    pred = torch.stack([torch.full((1, 1, 2, 2), 0.25), torch.full((1, 1, 2, 2), 0.05)])  # half of each error
    matte = torch.ones_like(real)
    # both clips keep a quarter of their composite's squared error, however far each started; L_rec would
    # weigh the far clip's error 25 times the near one's
    want = (0.0625 / (0.25 + RELATIVE_FLOOR) + 0.0025 / (0.01 + RELATIVE_FLOOR)) / 2
    assert relative_loss(pred, real, comp, matte).item() == pytest.approx(want)
    matte[1] = 0  # a clip without foreground contributes zero
    only_far = 0.0625 / (0.25 + RELATIVE_FLOOR) / 2
    assert relative_loss(pred, real, comp, matte).item() == pytest.approx(only_far)


def test_relative_gradient_is_larger_for_the_clip_that_started_closer():
    real = torch.zeros(2, 1, 1, 2, 2)
    comp = torch.stack([torch.full((1, 1, 2, 2), 0.5), torch.full((1, 1, 2, 2), 0.1)])
    pred = torch.stack([torch.full((1, 1, 2, 2), 0.2), torch.full((1, 1, 2, 2), 0.2)]).requires_grad_()
    relative_loss(pred, real, comp, torch.ones_like(real)).backward()
    # the same error is a larger share of a small composite error, so the near clip is pushed harder
    assert (pred.grad[1] > pred.grad[0]).all() and (pred.grad > 0).all()
