"""vh.core.color: config loading, colourspace names, conversion accuracy, processor caching, fallbacks."""

from __future__ import annotations

import numpy as np
import pytest

from vh.core import color
from vh.core.errors import InputError

SRGB = color.WORKING_SPACE


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def test_default_config_is_pinned_and_has_working_space(monkeypatch):
    monkeypatch.delenv("OCIO", raising=False)
    assert color.DEFAULT_CONFIG == "ocio://cg-config-v2.2.0_aces-v1.3_ocio-v2.4"
    assert color.working_space() == "sRGB Encoded Rec.709 (sRGB)"
    assert color.load_config() is color.load_config(color.DEFAULT_CONFIG)  # cached


def test_linear_srgb_linear_round_trip_within_1e5(rng):
    lin = rng.random((32, 48, 3), dtype=np.float32)  # [H, W, 3] in 0..1
    for space in ("scene_linear", "Linear Rec.709 (sRGB)"):
        srgb = color.convert(lin, space, SRGB)
        back = color.convert(srgb, SRGB, space)
        assert np.abs(back - lin).max() <= 1e-5


def test_srgb_encoding_matches_the_formula():
    lin = np.linspace(0, 1, 101, dtype=np.float32)[:, None].repeat(3, 1)  # [N, 3] grey ramp
    srgb = color.convert(lin, "Linear Rec.709 (sRGB)", SRGB)
    expect = np.where(lin <= 0.0031308, 12.92 * lin, 1.055 * np.power(lin, 1 / 2.4) - 0.055)
    np.testing.assert_allclose(srgb, expect, atol=1e-5)


def test_values_above_one_survive_linear_paths(rng):
    hdr = (rng.random((16, 16, 3), dtype=np.float32) * 50.0).astype(np.float32)  # up to 50x diffuse white
    out = color.convert(
        color.convert(hdr, "ACEScg", "Linear Rec.709 (sRGB)"), "Linear Rec.709 (sRGB)", "ACEScg"
    )
    assert hdr.max() > 40
    np.testing.assert_allclose(out, hdr, rtol=1e-5, atol=1e-5)


def test_extra_channels_are_untouched_and_input_is_not_modified(rng):
    for c in (4, 5):
        px = rng.random((8, 8, c), dtype=np.float32) * 2
        before = px.copy()
        out = color.convert(px, "scene_linear", SRGB)
        np.testing.assert_array_equal(px, before)
        np.testing.assert_array_equal(out[..., 3:], px[..., 3:])
        assert not np.allclose(out[..., :3], px[..., :3])
        np.testing.assert_allclose(out[..., :3], color.convert(px[..., :3], "scene_linear", SRGB), atol=1e-6)


def test_to_and_from_working_are_inverse(rng):
    px = rng.random((4, 4, 4), dtype=np.float32)
    np.testing.assert_allclose(color.from_working(color.to_working(px, "ACEScg"), "ACEScg"), px, atol=1e-5)


def test_same_space_is_a_copy():
    px = np.ones((2, 2, 3), np.float32)
    out = color.convert(px, "scene_linear", "ACEScg")  # a role and its target
    np.testing.assert_array_equal(out, px)
    assert out is not px


def test_processors_are_cached():
    color.convert(np.zeros((1, 3), np.float32), "ACEScg", SRGB)
    hits = color._processor.cache_info().hits
    color.convert(np.zeros((1, 3), np.float32), "ACEScg", SRGB)
    assert color._processor.cache_info().hits == hits + 1


def test_unknown_colourspace_lists_some_names():
    with pytest.raises(
        InputError, match=r"unknown colourspace 'Bogus'.*'ACES2065-1'|unknown colourspace 'Bogus'.*e\.g\."
    ):
        color.convert(np.zeros((1, 3), np.float32), "Bogus", SRGB)


def test_too_few_channels_is_an_input_error():
    with pytest.raises(InputError, match="3 channels"):
        color.convert(np.zeros((4, 4, 2), np.float32), "ACEScg", SRGB)


def test_default_colorspace_per_format():
    assert color.default_colorspace("plate.####.exr") == "ACEScg"  # role scene_linear of the pinned config
    for name in ("a.png", "a.jpg", "a.dpx", "a.mp4", "a.mov"):
        assert color.default_colorspace(name) == SRGB
    assert color.default_colorspace("float.tif", is_float=True) == "ACEScg"


MINIMAL_CONFIG = """ocio_profile_version: 2
roles:
  default: {linear}
  scene_linear: {linear}
  {extra_role}
file_rules:
  - !<Rule> {{name: Default, colorspace: default}}
displays:
  sRGB:
    - !<View> {{name: Raw, colorspace: {linear}}}
colorspaces:
  - !<ColorSpace>
    name: {linear}
    isdata: false
  - !<ColorSpace>
    name: {encoded}
    aliases: [{alias}]
    from_scene_reference: !<ExponentWithLinearTransform> {{gamma: 2.4, offset: 0.055, direction: inverse}}
"""


def _write_config(tmp_path, **kw):
    path = tmp_path / "config.ocio"
    path.write_text(MINIMAL_CONFIG.format(**kw))
    return str(path)


def _matrix_from_reference(space: str) -> str:
    """A MatrixTransform, as config YAML, from linear Rec.709 to the built-in config's `space`."""
    basis = color.convert(np.eye(3, dtype=np.float32), "Linear Rec.709 (sRGB)", space)  # row i: primary i
    m = basis.T.astype(np.float64)
    flat = [*m[0], 0, *m[1], 0, *m[2], 0, 0, 0, 0, 1]
    return f"!<MatrixTransform> {{matrix: [{', '.join(f'{v:.9g}' for v in flat)}]}}"


def _studio_config(tmp_path):
    """A config that spells nothing as the built-in config does, but declares its ACES interchange space."""
    text = MINIMAL_CONFIG.format(linear="lin_rec709", encoded="display_enc", alias="tx", extra_role="")
    text = text.replace("roles:\n", "roles:\n  aces_interchange: aces\n")
    for name, space in (("aces", "ACES2065-1"), ("lin_ap1", "ACEScg")):
        transform = _matrix_from_reference(space)
        text += f"  - !<ColorSpace>\n    name: {name}\n    from_scene_reference: {transform}\n"
    path = tmp_path / "studio.ocio"
    path.write_text(text)
    return str(path)


def test_user_config_via_env_and_ocio_identifies_the_working_space(tmp_path, monkeypatch):
    cfg = _studio_config(tmp_path)
    monkeypatch.setenv("OCIO", cfg)
    assert color.working_space() == "display_enc"  # by what it does: neither its name nor its alias says sRGB
    assert color.working_space(None) == color.working_space(cfg)
    lin = np.array([[0.0, 0.18, 1.0]], np.float32)
    np.testing.assert_allclose(color.to_working(lin, "scene_linear"), [[0.0, 0.4613561, 1.0]], atol=1e-5)


def test_user_config_role_fallback_and_clear_error(tmp_path):
    cfg = _write_config(tmp_path, linear="lin", encoded="tex", alias="tx", extra_role="color_picking: tex")
    assert color.working_space(cfg) == "tex"
    (tmp_path / "b").mkdir()
    bad = _write_config(tmp_path / "b", linear="lin", encoded="tex", alias="tx", extra_role="")
    with pytest.raises(InputError, match="no sRGB-encoded colourspace"):
        color.working_space(bad)


def test_missing_or_broken_config_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        color.load_config(tmp_path / "nope.ocio")
    broken = tmp_path / "broken.ocio"
    broken.write_text("ocio_profile_version: 2\ncolorspaces: [")
    with pytest.raises(InputError, match="cannot load OCIO config"):
        color.load_config(broken)


def test_inexact_conversion_stays_within_a_half_float_step():
    rng = np.random.default_rng(8)
    lin = (rng.random((64, 64, 3)) * 8.0).astype(np.float32)  # scene-linear, highlights to 8.0
    exact = color.convert(lin, "ACEScg", color.WORKING_SPACE)
    fast = color.convert(lin, "ACEScg", color.WORKING_SPACE, exact=False)
    assert not np.array_equal(exact, fast)  # it really is the approximating processor
    np.testing.assert_allclose(fast, exact, rtol=1e-4, atol=1e-5)


def test_exr_chromaticities_find_a_user_configs_own_spelling(tmp_path):
    ap1 = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)
    assert color.default_colorspace("p.exr", _studio_config(tmp_path), chromaticities=ap1) == "lin_ap1"


def test_the_closed_form_colour_maths_agrees_with_ocio():
    import torch

    x = np.linspace(-0.1, 1.1, 241, dtype=np.float32)
    rgb = np.repeat(x[:, None], 3, 1)
    lin = color.convert(rgb.clip(0, 1), SRGB, "Linear Rec.709 (sRGB)")[:, 0]
    # OCIO makes the curve's pieces meet exactly (slope 12.923 below the break, not IEC's 12.92): 1e-6 apart
    np.testing.assert_allclose(color.srgb_to_linear(x), lin, atol=1e-6)
    np.testing.assert_allclose(color.linear_to_srgb(torch.from_numpy(lin)).numpy(), x.clip(0, 1), atol=1e-5)
    xyz = color.convert(np.eye(3, dtype=np.float32), "Linear Rec.709 (sRGB)", "CIE XYZ-D65 - Scene-referred")
    np.testing.assert_allclose(color.rgb_to_xyz(), xyz.T, atol=2e-5)  # OCIO's columns are its primaries' XYZ
    np.testing.assert_allclose(color.rgb_to_xyz()[1], color.REC709_LUMA, atol=1e-4)  # BT.709 rounds Y


def test_exr_chromaticities_name_the_linear_space():
    assert (
        color.default_colorspace("p.exr", chromaticities=color.REC709_CHROMATICITIES)
        == "Linear Rec.709 (sRGB)"
    )
    ap1 = (0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767)
    assert color.default_colorspace("p.exr", chromaticities=ap1) == "ACEScg"
    odd = (0.7, 0.3, 0.2, 0.7, 0.1, 0.1, 0.3, 0.3)  # primaries no config space has: the scene_linear role
    assert color.default_colorspace("p.exr", chromaticities=odd) == "ACEScg"
