"""The never-worse guard: consistent corrections pass, corrections the mirrored views disagree on shrink."""

from __future__ import annotations

import pytest
import torch

from vh.core.errors import InputError
from vh.core.models.base import Harmonizer, blend
from vh.core.models.guard import ConsensusGuard, GuardConfig


class Offset(Harmonizer):
    """A consistent correction: the same shift whatever the view."""

    window = 2

    def forward(self, comp, matte):
        return blend(comp, comp + 0.1, matte)


class Unsure(Harmonizer):
    """A correction that depends on where the foreground sits: mirrored views contradict each other, as a
    model guessing from weak evidence does. Here the true answer is 'leave it', so the naive correction only
    hurts."""

    window = 2

    def forward(self, comp, matte):
        W = comp.shape[-1]
        ramp = torch.linspace(-0.2, 0.2, W).view(1, 1, 1, 1, W)
        H = comp.shape[-2]
        ramp = ramp + torch.linspace(-0.2, 0.2, H).view(1, 1, 1, H, 1)
        return blend(comp, comp + ramp, matte)


def clip(b: int = 1):
    comp = torch.rand(b, 2, 3, 16, 16)
    matte = torch.zeros(b, 2, 1, 16, 16)
    matte[..., 2:14, 2:14] = 1.0
    return comp, matte


def fmse(x, y, matte):
    return float((((x - y) * 255) ** 2 * matte).sum() / (3 * matte.sum()))


def test_consistent_correction_passes_whole():
    comp, matte = clip()
    guard = ConsensusGuard(Offset(), GuardConfig(floor=0.0))
    out = guard(comp, matte)
    assert torch.allclose(out, Offset()(comp, matte), atol=1e-6)
    assert float(guard.confidence[0]) == pytest.approx(1.0, abs=1e-6)


def test_floor_shortens_small_corrections_more_than_large_ones():
    comp, matte = clip()
    small, large = ConsensusGuard(Offset()), ConsensusGuard(Offset())
    large.model.forward = lambda c, m: blend(c, c + 0.3, m)  # the same correction, three times the size
    small(comp, matte), large(comp, matte)
    s_small, s_large = float(small.confidence[0]), float(large.confidence[0])
    assert s_small == pytest.approx(0.01 / (0.01 + 0.0031), rel=1e-4)  # m2 / (m2 + floor), 0.1^2 = 0.01
    assert 0.7 < s_small < s_large < 1.0


def test_contradicting_views_shrink_toward_the_composite():
    # the constructed case where the naive correction hurts: the composite is already right (truth == comp)
    comp, matte = clip()
    truth = comp
    naive = Unsure()(comp, matte)
    guard = ConsensusGuard(Unsure())
    guarded = guard(comp, matte)
    assert fmse(naive, truth, matte) > 200.0  # the unguarded model makes the shot clearly worse
    assert fmse(guarded, truth, matte) < 0.05 * fmse(naive, truth, matte)
    assert 0.0 <= float(guard.confidence[0]) < 0.2
    assert torch.equal(guarded * (1 - matte), comp * (1 - matte))  # background untouched


def test_guard_never_reverses_and_one_view_turns_it_off():
    comp, matte = clip(3)
    guard = ConsensusGuard(Unsure(), GuardConfig(views=1, floor=0.0))
    assert torch.allclose(guard(comp, matte), Unsure()(comp, matte), atol=1e-6)
    g4 = ConsensusGuard(Unsure())
    out = g4(comp, matte)
    assert ((g4.confidence >= 0) & (g4.confidence <= 1)).all()
    # the step taken is along the mean correction and no longer than it
    d = out - comp
    assert float((d * matte).abs().max()) <= 0.4 + 1e-6


def test_bad_settings_and_stateful_models_are_refused():
    with pytest.raises(InputError, match="views must be"):
        ConsensusGuard(Offset(), GuardConfig(views=5))

    class Stateful(Offset):
        stateful = True

    with pytest.raises(InputError, match="stateless"):
        ConsensusGuard(Stateful())
