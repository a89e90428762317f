"""The ensemble: members built from one registered model, a mean output, one self-describing checkpoint."""

from __future__ import annotations

import pytest
import torch

from vh.core.checkpoint import load_checkpoint, save_checkpoint
from vh.core.errors import VhError
from vh.core.models.ensemble import Ensemble
from vh.core.models.registry import create_model


def _clip():
    g = torch.Generator().manual_seed(0)
    comp = torch.rand(1, 8, 3, 128, 128, generator=g)
    matte = torch.zeros(1, 8, 1, 128, 128)
    matte[..., 32:96, 40:100] = 1.0
    return comp, matte


def _perturb(model: Ensemble) -> None:
    # the colour head starts at zero (the identity); give every member its own correction
    with torch.no_grad():
        for k, member in enumerate(model.members):
            for p in member.parameters():
                p.add_(0.02 * (k + 1) * torch.randn_like(p))


def test_output_is_the_mean_of_its_members_and_the_background_is_kept():
    model = create_model("vhmae_ens", count=3).eval()
    _perturb(model)
    comp, matte = _clip()
    with torch.no_grad():
        out = model(comp, matte)
        each = [m(comp, matte) for m in model.members]
    assert torch.allclose(out, torch.stack(each).mean(0), atol=1e-6)
    assert not torch.allclose(each[0], each[1])
    assert torch.allclose(out * (1 - matte), comp * (1 - matte), atol=1e-6)
    assert (model.window, model.input_size) == (8, (128, 128))


def test_checkpoint_round_trip_keeps_members_and_guard_settings(tmp_path):
    model = create_model("vhmae_ens", count=2, guard_floor=0.01, guard_caution=2.0).eval()
    _perturb(model)
    save_checkpoint(tmp_path / "ens", model, "vhmae_ens", step=7)
    loaded, meta = load_checkpoint(tmp_path / "ens")
    assert meta["config"] == {
        "member": "vhmae_cpu",
        "count": 2,
        "guard_floor": 0.01,
        "guard_caution": 2.0,
        "guard_direction": -1.0,
    }
    assert sorted(loaded.state_dict()) == sorted(model.state_dict())
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"count": 0}, "at least one member"),
        ({"guard_floor": -0.1}, "EnsembleConfig: .*caution and floor >= 0"),
        ({"guard_direction": 2.0}, "EnsembleConfig: .*direction in -1..1"),
        ({"member": "no_such_model"}, "unknown model 'no_such_model'"),
        ({"membre": "vhmae_cpu"}, "membre"),
    ],
)
def test_bad_configs_are_refused_with_one_clear_line(overrides, message):
    with pytest.raises(VhError, match=message):
        create_model("vhmae_ens", **overrides)


def test_stateful_members_are_refused():
    with pytest.raises(VhError, match="must be stateless"):
        create_model("vhmae_ens", member="stats", count=2)


def test_without_shipped_weights_the_engine_refuses_it():
    from vh.core.engine import Engine
    from vh.core.errors import MissingWeightsError

    with pytest.raises(MissingWeightsError, match="'vhmae_ens' needs learned weights"):
        Engine("vhmae_ens")
