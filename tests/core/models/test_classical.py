"""Classical harmonizers: registry, background untouched, empty matte, statistics land where they should,
temporal smoothing and its state."""

from __future__ import annotations

import pytest
import torch

from vh.core.errors import InputError
from vh.core.models import create_model, list_models, resolve_name
from vh.core.models.classical import SPACES, from_space, to_space

MODELS = ("cut", "stats", "histogram")


def _scene(t: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A composite [1, T, 3, 32, 32]: bluish background, reddish square foreground, with texture; soft
    edges."""
    g = torch.Generator().manual_seed(seed)
    comp = torch.empty(1, t, 3, 32, 32)
    comp[:, :, 0] = 0.2 + 0.1 * torch.rand(1, t, 32, 32, generator=g)
    comp[:, :, 1] = 0.3 + 0.1 * torch.rand(1, t, 32, 32, generator=g)
    comp[:, :, 2] = 0.6 + 0.2 * torch.rand(1, t, 32, 32, generator=g)
    matte = torch.zeros(1, t, 1, 32, 32)
    matte[..., 8:24, 8:24] = 1.0
    matte[..., 7, 8:24] = 0.5  # a soft edge
    fg = matte[:, :, 0] > 0
    red = torch.tensor([0.8, 0.3, 0.2]).view(3, 1, 1) + 0.1 * torch.rand(1, t, 3, 32, 32, generator=g)
    comp = torch.where(fg[:, :, None], red, comp)
    return comp, matte


def test_registered_with_aliases():
    assert set(MODELS) <= set(list_models())
    assert resolve_name("cut-and-paste") == "cut"
    assert resolve_name("identity") == "cut"


@pytest.mark.parametrize("name", MODELS)
def test_background_is_bit_exact_and_shape_kept(name):
    comp, matte = _scene()
    out = create_model(name)(comp, matte)
    assert out.shape == comp.shape and out.dtype == comp.dtype
    bg = (matte == 0).expand_as(comp)
    assert torch.equal(out[bg], comp[bg])


@pytest.mark.parametrize("name", MODELS)
def test_empty_matte_returns_input_unchanged(name):
    comp, matte = _scene()
    out = create_model(name)(comp, torch.zeros_like(matte))
    assert torch.equal(out, comp)


@pytest.mark.parametrize("name", ["stats", "histogram"])
def test_full_matte_has_no_background_to_match(name):
    comp, matte = _scene()
    out = create_model(name)(comp, torch.ones_like(matte))
    assert torch.equal(out, comp)


@pytest.mark.parametrize("name", ["stats", "histogram"])
def test_foreground_moves_toward_the_background(name):
    comp, matte = _scene()
    out = create_model(name, time_constant=0, amount=1.0)(comp, matte)
    fg, bg = matte[0, 0, 0] == 1, matte[0, 0, 0] == 0

    def mean(x, m):
        return x[0, 0][:, m].mean(dim=1)

    before = (mean(comp, fg) - mean(comp, bg)).abs().sum()
    after = (mean(out, fg) - mean(comp, bg)).abs().sum()
    assert after < 0.25 * before


def test_stats_in_rgb_matches_the_background_mean_and_std_exactly():
    comp, matte = _scene()
    m = create_model("stats", space="rgb", time_constant=0, amount=1.0)
    hard = (matte > 0.9).float()  # binary matte: the foreground's stats are those of its pixels
    out = m(comp, hard)
    fg, bg = hard[0, 0, 0] == 1, hard[0, 0, 0] == 0
    got, ref = out[0, 0][:, fg], comp[0, 0][:, bg]
    assert torch.allclose(got.mean(1), ref.mean(1), atol=1e-4)
    assert torch.allclose(got.std(1, unbiased=False), ref.std(1, unbiased=False), atol=1e-4)


@pytest.mark.parametrize("name", ["stats", "histogram"])
def test_amount_zero_is_the_identity(name):
    comp, matte = _scene()
    out = create_model(name, amount=0.0, space="rgb")(comp, matte)
    assert torch.allclose(out, comp, atol=1e-5)


@pytest.mark.parametrize("space", SPACES)
def test_colour_spaces_round_trip(space):
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    assert torch.allclose(from_space(to_space(x, space), space), x, atol=1e-9)


def test_lab_of_white_and_black():
    white, black = torch.ones(3, 1, 1, dtype=torch.float64), torch.zeros(3, 1, 1, dtype=torch.float64)
    assert torch.allclose(
        to_space(white, "lab").flatten(), torch.tensor([100.0, 0.0, 0.0], dtype=torch.float64), atol=1e-3
    )
    assert torch.allclose(to_space(black, "lab").flatten(), torch.zeros(3, dtype=torch.float64), atol=1e-6)


class TestTemporalSmoothing:
    @pytest.mark.parametrize("name", ["stats", "histogram"])
    def test_calls_continue_where_the_last_left_off(self, name):
        comp, matte = _scene(t=4, seed=1)
        whole = create_model(name, time_constant=3)(comp, matte)
        split = create_model(name, time_constant=3)
        parts = [split(comp[:, i : i + 1], matte[:, i : i + 1]) for i in range(4)]
        assert torch.allclose(torch.cat(parts, dim=1), whole, atol=1e-5)

    @pytest.mark.parametrize("name", ["stats", "histogram"])
    def test_reset_forgets_the_clip(self, name):
        comp, matte = _scene(t=2, seed=2)
        other, _ = _scene(t=2, seed=3)
        model = create_model(name, time_constant=5)
        first = model(comp, matte)
        model(other * 0.5, matte)  # a different clip moves the pool
        assert not torch.allclose(model(comp, matte), first, atol=1e-4)
        model.reset()
        assert torch.allclose(model(comp, matte), first, atol=1e-6)

    def test_smoothing_damps_a_sudden_change(self):
        # the background brightens at frame 3: per-frame stats follow at once, smoothed ones lag behind
        comp, matte = _scene(t=6, seed=4)
        comp[:, 3:] = torch.where(matte[:, 3:] == 0, (comp[:, 3:] + 0.3).clamp(max=1.0), comp[:, 3:])
        fg = matte[0, 0, 0] == 1

        def mean_fg(x):
            return x[0, :, :, fg].mean(dim=(1, 2))

        per_frame = mean_fg(create_model("stats", space="rgb", time_constant=0)(comp, matte))
        smooth = mean_fg(create_model("stats", space="rgb", time_constant=4)(comp, matte))
        jump_raw, jump_smooth = per_frame[3] - per_frame[2], smooth[3] - smooth[2]
        assert jump_raw > 0.1
        assert 0 < jump_smooth < 0.5 * jump_raw

    def test_empty_matte_frame_does_not_move_the_estimate(self):
        comp, matte = _scene(t=3, seed=5)
        matte[:, 1] = 0.0  # the object leaves frame 1
        model = create_model("stats", time_constant=2)
        out = model(comp, matte)
        assert torch.isfinite(out).all()
        assert torch.equal(out[:, 1], comp[:, 1])

    def test_stateful_flag(self):
        assert create_model("stats").stateful and create_model("histogram").stateful


class TestOptions:
    @pytest.mark.parametrize("name", ["stats", "histogram"])
    def test_options_list_time_constant(self, name):
        model = create_model(name)
        names = {o.name for o in model.options()}
        assert {"time_constant", "space", "amount"} <= names
        for o in model.options():
            assert getattr(model.config, o.name) == o.default

    def test_overrides_are_typed(self):
        # numbers take their field's kind; text is never parsed here (`--option` values arrive typed)
        time_constant = create_model("stats", time_constant=8).config.time_constant
        assert time_constant == 8.0 and isinstance(time_constant, float)
        bins = create_model("histogram", bins=32.0).config.bins
        assert bins == 32 and isinstance(bins, int)

    @pytest.mark.parametrize(
        "name, overrides, message",
        [
            ("stats", {"colour": 1}, "model 'stats' has no option 'colour'"),
            (
                "stats",
                {"space": "hsv"},
                "option 'space' of model 'stats' must be one of lab, lalphabeta, rgb",
            ),
            (
                "stats",
                {"time_constant": -1},
                "option 'time_constant' of model 'stats' is -1.0 but must be >= 0",
            ),
            (
                "stats",
                {"time_constant": "soon"},
                "option 'time_constant' of model 'stats' is a number, got 'soon'",
            ),
            ("stats", {"time_constant": "8"}, "is a number, got '8'"),
            ("histogram", {"bins": 1}, "option 'bins' of model 'histogram' is 1 but must be >= 2"),
            ("histogram", {"bins": 8.5}, "option 'bins' of model 'histogram' is an integer, got 8.5"),
            ("histogram", {"amount": 2}, "option 'amount' of model 'histogram' is 2.0 but must be <= 1"),
            ("cut", {"space": "lab"}, "model 'cut' has no options; got 'space'"),
        ],
    )
    def test_bad_options_are_input_errors(self, name, overrides, message):
        with pytest.raises(InputError, match=message):
            create_model(name, **overrides)


def test_stats_half_amount_moves_mean_halfway_and_std_geometrically():
    comp, matte = _scene()
    hard = (matte > 0.9).float()
    out = create_model("stats", space="rgb", time_constant=0, amount=0.5)(comp, hard)
    fg, bg = hard[0, 0, 0] == 1, hard[0, 0, 0] == 0
    src, ref, got = comp[0, 0][:, fg], comp[0, 0][:, bg], out[0, 0][:, fg]
    assert torch.allclose(got.mean(1), (src.mean(1) + ref.mean(1)) / 2, atol=1e-4)

    def sd(x):
        return x.std(1, unbiased=False)

    assert torch.allclose(sd(got), (sd(src) * sd(ref)).sqrt(), atol=1e-4)


@pytest.mark.realdata
def test_defaults_beat_cut_and_paste_on_real_clips(shared_data):
    from vh.core import evaluation

    methods = [evaluation.model_method(n, model_only=True) for n in MODELS]
    cut_r, stats_r, hist_r = evaluation.evaluate(
        shared_data / "hyoutube_val", methods, clips=["camel-0", "dog-1", "goat-0"]
    )
    for r in (stats_r, hist_r):
        assert r.scores.fmse < 0.7 * cut_r.scores.fmse, r.name
        assert r.scores.psnr > cut_r.scores.psnr + 1.0, r.name
