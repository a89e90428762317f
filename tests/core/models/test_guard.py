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
    """A random foreground on a brighter background: the plate pulls the foreground up, so the positive
    shifts below go the background's way and pass the guard's direction check."""
    matte = torch.zeros(b, 2, 1, 16, 16)
    matte[..., 2:14, 2:14] = 1.0
    comp = 0.5 * torch.rand(b, 2, 3, 16, 16) + 0.5 * (1 - matte)
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
    guard = ConsensusGuard(Unsure(), GuardConfig(views=1, floor=0.0, direction=-1.0))
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


class Members(Harmonizer):
    """Stand-in for an ensemble: members whose corrections agree in every view, or point different ways."""

    window = 2

    def __init__(self, shifts):
        super().__init__()
        self.members = torch.nn.ModuleList(Shift(s) for s in shifts)
        self.config = None

    def forward(self, comp, matte):
        return torch.stack([m(comp, matte) for m in self.members]).mean(0)


class Shift(Harmonizer):
    window = 2

    def __init__(self, shift):
        super().__init__()
        self.shift = shift

    def forward(self, comp, matte):
        return blend(comp, comp + self.shift, matte)


def test_ensemble_members_disagreeing_shrink_where_mirrored_views_cannot():
    # each member alone is consistent under mirroring, so one member's views would pass its correction whole;
    # members trained apart that point opposite ways are what the guard must catch
    comp, matte = clip()
    agree = ConsensusGuard(Members([0.1, 0.1, 0.1, 0.1]), GuardConfig(floor=0.0))
    split = ConsensusGuard(Members([0.1, -0.1, 0.1, -0.1]), GuardConfig(floor=0.0))
    lean = ConsensusGuard(Members([0.3, -0.1, 0.3, -0.1]), GuardConfig(floor=0.0))
    assert torch.allclose(agree(comp, matte), blend(comp, comp + 0.1, matte), atol=1e-6)
    assert torch.allclose(split(comp, matte), comp, atol=1e-6)  # mean 0: nothing to apply
    lean(comp, matte)  # mean 0.1, spread 0.2: s = 0.01 / (0.01 + 0.04)
    assert float(lean.confidence[0]) == pytest.approx(0.2, rel=1e-4)
    assert float(agree.confidence[0]) == pytest.approx(1.0, abs=1e-6)


def test_each_member_is_run_once_on_its_own_view():
    calls = []

    class Spy(Shift):
        def forward(self, comp, matte):
            calls.append((id(self), comp.clone()))
            return super().forward(comp, matte)

    comp, matte = clip()
    model = Members([0.1] * 4)
    model.members = torch.nn.ModuleList(Spy(0.1) for _ in range(4))
    ConsensusGuard(model)(comp, matte)
    assert [c[0] for c in calls] == [id(m) for m in model.members]
    seen = [c[1] for c in calls]
    assert torch.equal(seen[0], comp) and torch.equal(seen[1], comp.flip(4))
    assert torch.equal(seen[2], comp.flip(3)) and torch.equal(seen[3], comp.flip((3, 4)))


def test_a_model_carries_its_calibrated_floor_and_caution_and_the_caller_may_override_them():
    from types import SimpleNamespace

    model = Offset()
    model.config = SimpleNamespace(guard_floor=0.02, guard_caution=3.0)
    carried = ConsensusGuard(model)
    assert (carried.floor, carried.caution) == (0.02, 3.0)
    overridden = ConsensusGuard(model, GuardConfig(floor=0.0, caution=1.0))
    assert (overridden.floor, overridden.caution) == (0.0, 1.0)
    plain = ConsensusGuard(Offset())
    assert (plain.floor, plain.caution) == (0.0031, 1.0)
    with pytest.raises(InputError, match="caution and floor >= 0"):
        GuardConfig(floor=-1.0).validate()


def _plate(fg: float = 0.6, bg: float = 0.3, full: bool = False):
    """A flat background with a flat foreground square; `full`: the matte covers the whole frame."""
    comp = torch.full((1, 2, 3, 16, 16), bg)
    matte = torch.ones(1, 2, 1, 16, 16) if full else torch.zeros(1, 2, 1, 16, 16)
    matte[..., 4:12, 4:12] = 1.0
    return torch.where(matte > 0, torch.full_like(comp, fg), comp), matte


def _shift(step: float) -> Harmonizer:
    model = Offset()
    model.forward = lambda c, m: blend(c, c + step, m)
    return model


def test_a_correction_that_goes_against_the_background_is_not_applied():
    comp, matte = _plate()  # the foreground is brighter than the background: the pull is toward darker
    away = ConsensusGuard(_shift(+0.1), GuardConfig(floor=0.0, direction=0.15))
    assert torch.equal(away(comp, matte), comp)
    assert float(away.confidence[0]) == 0.0
    toward = ConsensusGuard(_shift(-0.1), GuardConfig(floor=0.0, direction=0.15))
    assert torch.allclose(toward(comp, matte), _shift(-0.1)(comp, matte), atol=1e-6)


def test_the_direction_check_is_off_at_minus_one_and_where_there_is_no_background():
    comp, matte = _plate()
    off = ConsensusGuard(_shift(+0.1), GuardConfig(floor=0.0, direction=-1.0))
    assert torch.allclose(off(comp, matte), comp + 0.1 * matte, atol=1e-6)
    assert float(off.confidence[0]) == pytest.approx(1.0)
    full_comp, full = _plate(full=True)  # nothing outside the matte to judge the correction by
    unjudged = ConsensusGuard(_shift(+0.1), GuardConfig(floor=0.0, direction=0.15))
    assert torch.allclose(unjudged(full_comp, full), full_comp + 0.1, atol=1e-6)
    with pytest.raises(InputError, match="direction in -1..1"):
        GuardConfig(direction=1.5).validate()


@pytest.mark.parametrize("name", ["vhmae_tiny", "huang_tiny"])
def test_each_learned_model_carries_its_own_guard_settings_through_its_checkpoint(name, tmp_path):
    import json

    from vh.core.checkpoint import load_checkpoint, save_checkpoint
    from vh.core.models.registry import create_model

    save_checkpoint(tmp_path / "m", create_model(name, guard_floor=0.02, guard_direction=-1.0), name, step=1)
    guard = ConsensusGuard(load_checkpoint(tmp_path / "m")[0])
    assert (guard.floor, guard.caution, guard.direction) == (0.02, 1.0, -1.0)

    sidecar = tmp_path / "m.json"
    meta = json.loads(sidecar.read_text())
    meta["config"]["guard_direction"] = 1.5  # a hand-edited sidecar
    sidecar.write_text(json.dumps(meta))
    with pytest.raises(InputError, match=r"Config: .*direction in -1..1; got .*1\.5"):
        load_checkpoint(tmp_path / "m")
