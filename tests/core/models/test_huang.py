import numpy as np
import pytest
import torch

from vh.core.checkpoint import load_checkpoint, save_checkpoint
from vh.core.errors import InputError
from vh.core.models import Harmonizer, create_model, list_models
from vh.core.models.huang import HuangHarmonizer, to_signed, to_unit
from vh.core.models.registry import resolve_name


def _params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def tiny() -> HuangHarmonizer:
    torch.manual_seed(0)
    model = create_model("huang_tiny", base_channels=4, max_channels=16, depth=3, input_size=32).eval()
    with (
        torch.no_grad()
    ):  # both heads start at zero (identity G, all-harmonious D): give them weights to test
        for head in (model.generator.unet.head, model.discriminator.head):
            torch.nn.init.normal_(head.weight, std=0.5)
        model.discriminator.head.bias.fill_(0.5)
    return model


def _clip(b: int = 2, h: int = 24, w: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    comp = torch.rand(b, 1, 3, h, w, generator=g)  # [B, T=1, 3, H, W]
    matte = torch.zeros(b, 1, 1, h, w)
    matte[..., 6:18, 10:30] = 1.0
    matte[..., 6:18, 9] = 0.5  # a soft edge
    return comp, matte


def test_registered_variants_and_interface():
    assert {"huang_paper", "huang_cpu", "huang_small", "huang_tiny"} <= set(list_models())
    assert resolve_name("huang") == "huang_cpu" and resolve_name("huang2019") == "huang_paper"
    m = create_model("huang")  # the shipped size
    assert isinstance(m, Harmonizer)
    assert m.window == 1 and m.supports_auto_matte and not m.stateful
    assert m.input_size == (128, 128) and m.config.residual
    assert create_model("huang_tiny").input_size == (64, 64)
    assert create_model("huang_small").input_size == (256, 256)


def test_paper_size_is_pix2pix_scale():
    # Built on the meta device: no memory, just the parameter count (~50M per network at 512x512).
    with torch.device("meta"):
        m = create_model("huang_paper")
    assert m.input_size == (512, 512)
    assert 40e6 < _params(m.generator) < 60e6
    assert 40e6 < _params(m.discriminator) < 60e6
    assert m.generator.unet.config.in_channels == 4 and m.discriminator.config.out_channels == 1


def test_overrides_and_unknown_fields():
    m = create_model("huang_tiny", base_channels=8)
    assert m.config.base_channels == 8 and m.config.residual  # tiny default kept
    with pytest.raises(InputError, match="model 'huang_tiny' has no option 'width'"):
        create_model("huang_tiny", width=3)
    with pytest.raises(InputError, match="option 'residual' of model 'huang_tiny' is a bool"):
        create_model("huang_tiny", residual=1)
    with pytest.raises(InputError, match="smaller than"):
        create_model("huang_tiny", input_size=8)  # 4 levels need at least 16


def test_range_conversion_round_trips():
    x = torch.rand(5)
    assert torch.equal(to_signed(torch.tensor([0.0, 0.5, 1.0])), torch.tensor([-1.0, 0.0, 1.0]))
    assert torch.allclose(to_unit(to_signed(x)), x)


def test_forward_keeps_the_background_bit_exact_and_any_size(tiny):
    comp, matte = _clip()
    with torch.no_grad():
        out = tiny(comp, matte)
    assert out.shape == comp.shape
    bg = matte == 0
    assert torch.equal(out.expand_as(comp)[bg.expand_as(comp)], comp[bg.expand_as(comp)])
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_forward_is_the_generator_on_the_signed_frame(tiny):
    comp, matte = _clip(b=1)
    with torch.no_grad():
        out = tiny(comp, matte)
        pred = to_unit(tiny.generator(to_signed(comp[:, 0]), matte[:, 0]))  # [1, 3, H, W]
    expected = comp[:, 0] * (1 - matte[:, 0]) + pred * matte[:, 0]
    assert torch.allclose(out[:, 0], expected, atol=1e-6)


def test_mask_free_mode_uses_the_discriminators_map(tiny):
    comp, _ = _clip()
    with torch.no_grad():
        detected = tiny.detect(comp)  # [B, T, 1, H, W]
        auto = tiny(comp, None)
        explicit = tiny(comp, detected)
    assert detected.shape == (2, 1, 1, 24, 40)
    assert 0.0 <= detected.min() and detected.max() <= 1.0
    assert torch.equal(auto, explicit)


def test_detect_threshold_binarizes(tiny):
    comp, _ = _clip()
    m = create_model(
        "huang_tiny", base_channels=4, max_channels=16, depth=3, input_size=32, detect_threshold=0.5
    )
    m.load_state_dict(tiny.state_dict())
    with torch.no_grad():
        soft, hard = tiny.detect(comp), m.detect(comp)
    assert set(hard.unique().tolist()) == {0.0, 1.0}
    assert torch.equal(hard, (soft > 0.5).float())


def test_fresh_model_is_the_identity_with_an_all_harmonious_discriminator():
    m = create_model("huang_tiny", base_channels=4, max_channels=16, depth=3, input_size=32).eval()
    comp, matte = _clip()
    with torch.no_grad():
        assert torch.allclose(m(comp, matte), comp, atol=1e-6)  # residual G with a zero head: O_t = I_t
        assert torch.equal(m.detect(comp), torch.zeros_like(matte))


def test_residual_generator_output_stays_in_range_and_reaches_any_colour():
    torch.manual_seed(0)
    g = create_model("huang_tiny", base_channels=4, max_channels=16, depth=3).generator
    with torch.no_grad():
        torch.nn.init.normal_(g.unet.head.weight, std=5.0)  # a saturating head: corrections near +-2
        image = to_signed(torch.rand(1, 3, 32, 32))
        out = g(image, torch.ones(1, 1, 32, 32))
    assert out.min() == -1 and out.max() == 1  # clamped to the paper's range, and both ends reachable
    assert (out - image).abs().max() <= 2.0


def test_checkpoint_round_trip_keeps_both_networks(tmp_path, tiny):
    save_checkpoint(tmp_path / "ckpt", tiny, "huang_tiny", step=3)
    loaded, meta = load_checkpoint(tmp_path / "ckpt")
    assert meta["model"] == "huang_tiny" and meta["config"]["base_channels"] == 4
    comp, matte = _clip(b=1)
    with torch.no_grad():
        assert torch.equal(loaded(comp, matte), tiny(comp, matte))
        assert torch.equal(loaded.detect(comp), tiny.detect(comp))


def test_engine_runs_mask_free_with_the_predicted_matte(tiny):
    # The path `vh harmonize --matte auto` takes: no matte in, the model's own detect() drives everything.
    from vh.core import color
    from vh.core.engine import Engine

    engine = Engine(tiny)
    rng = np.random.default_rng(0)
    frames = [rng.uniform(0, 1, (40, 56, 3)).astype(np.float32) for _ in range(2)]
    outs = list(engine.run(frames, None, colorspace=color.working_space()))
    assert len(outs) == 2 and all(o.shape == f.shape for o, f in zip(outs, frames))
    assert all(np.isfinite(o).all() for o in outs)
    with torch.no_grad():
        comp = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2)[:, None]  # [2, 1, 3, H, W]
        lo = torch.nn.functional.interpolate(comp[:, 0], size=(32, 32), mode="area")[:, None]
        detected = tiny.detect(lo)
    assert 0 < float(detected.mean()) < 1  # the predicted matte is partial, so the output mixes both
    assert any(not np.array_equal(o, f) for o, f in zip(outs, frames))
