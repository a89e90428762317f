"""The VHMAE Harmonize OFX plugin, built with CMake, driven through the headless host against a real
vh-server.

The plugin sends fixed windows of frames (1-8, 9-12 with the default window of 8) as separate streams. Both
the models' statistics and the engine's full-resolution transfer smooth over time within a stream, so the
honest reference is the engine that `vh harmonize` runs, applied to the same windows: frames 1-8 then equal a
whole-clip run (the smoothing is causal), and frames 9-12 restart their smoothing where the plugin's second
window starts."""

from __future__ import annotations

import numpy as np
import pytest

from tests.plugins.ofx.harness import ExrSequence, ofx_host, reference

PER_FRAME = "time_constant=0"
FIRST, LAST = 1, 12


@pytest.fixture
def host(ofx_bundle):
    h = ofx_host.OfxHost(ofx_bundle)
    yield h
    h.unload()
    assert h.errors == []  # no protocol violation or failing suite call from the plugin


def instance(host, plate, matte=None, *, depth="float", row_padding=0, origin=(0, 0), last=LAST, **params):
    """An instance on frames FIRST..last of the EXR plate (and matte). The server's cost is per frame sent, so
    tests that do not need the default window of 8 use short windows to stay fast."""
    source = ofx_host.InputClip(ExrSequence(plate, FIRST, last), (FIRST, last), depth, origin, row_padding)
    matte_clip = None
    if matte is not None:
        matte_clip = ofx_host.InputClip(
            ExrSequence(matte, FIRST, last), (FIRST, last), depth, origin, row_padding
        )
    return host.create_instance(source, matte_clip, params=params)


def frames_of(plate: str) -> list[np.ndarray]:
    seq = ExrSequence(plate, FIRST, LAST)
    return [seq(t) for t in range(FIRST, LAST + 1)]


# ------------------------------------------------------------------------------------------------------------
# Describe and time


def test_describe_declares_a_temporal_filter_with_source_matte_output(host):
    props = host.descriptor.props
    assert host.identifier == "org.vh.VHMAEHarmonize"
    assert props.get("OfxPropLabel") == "VHMAE Harmonize"
    assert set(props.get_all("OfxImageEffectPropSupportedContexts")) == {
        ofx_host.CONTEXT_FILTER,
        ofx_host.CONTEXT_GENERAL,
    }
    # Byte and short too, for hosts (editors such as MLT) that offer nothing else.
    assert set(props.get_all("OfxImageEffectPropSupportedPixelDepths")) == {
        "OfxBitDepthFloat",
        "OfxBitDepthHalf",
        "OfxBitDepthShort",
        "OfxBitDepthByte",
    }
    assert props.get("OfxImageEffectPropTemporalClipAccess") == 1
    for context in (ofx_host.CONTEXT_FILTER, ofx_host.CONTEXT_GENERAL):
        effect = host.describe_in_context(context)
        assert set(effect.clips) == {"Source", "Matte", "Output"}
        assert effect.clips["Matte"].props.get("OfxImageClipPropOptional") == 1
        assert {
            "serverAddress",
            "model",
            "modelOptions",
            "strength",
            "windowSize",
            "colorspace",
            "status",
        } <= set(effect.params)


def test_frames_needed_is_the_fixed_window_holding_t_clamped_to_the_clip(host, small_plate):
    inst = instance(host, small_plate[0], small_plate[1], windowSize=8)
    assert inst.frames_needed(5) == {"Source": [(1, 8)], "Matte": [(1, 8)]}
    assert inst.frames_needed(8)["Source"] == [(1, 8)]
    assert inst.frames_needed(9)["Source"] == [(9, 12)]  # the last window is short; the server pads it
    assert inst.frames_needed(40)["Source"] == [(9, 12)]  # past the end: the last frame's window
    assert inst.frames_needed(-3)["Source"] == [(1, 8)]
    inst.set_param("windowSize", 5)
    assert inst.frames_needed(7)["Source"] == [(6, 10)]
    inst.destroy()


# ------------------------------------------------------------------------------------------------------------
# Rendering


def test_render_matches_the_engine_on_the_same_windows(host, small_plate, vh_server):
    plate, matte = small_plate
    inst = instance(host, plate, matte, serverAddress=vh_server, model="stats")
    outputs = [inst.render(t) for t in range(FIRST, LAST + 1)]
    inst.destroy()
    inputs = frames_of(plate)
    mattes = [ExrSequence(matte, FIRST, LAST)(t) for t in range(FIRST, LAST + 1)]
    expected = reference(inputs[:8], mattes[:8]) + reference(inputs[8:], mattes[8:])
    for t, (got, want, original) in enumerate(zip(outputs, expected, inputs), FIRST):
        assert got.shape == want.shape == (96, 160, 4)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=f"frame {t}")
        fg = original[..., 3] > 0.5
        assert np.abs(got[fg, :3] - original[fg, :3]).mean() > 0.01, "the foreground was not repainted"
        np.testing.assert_array_equal(got[..., 3], original[..., 3])  # alpha passes through untouched


def test_out_of_order_rendering_gives_the_same_frames(host, small_plate, vh_server):
    # Default stats smoothing is temporal: results depend on the frames sent together, so this only holds
    # because windows are fixed, not centred on the rendered frame.
    plate, matte = small_plate
    params = {"serverAddress": vh_server, "model": "stats", "windowSize": 3, "last": 6}
    in_order = instance(host, plate, matte, **params)
    expected = {t: in_order.render(t) for t in range(FIRST, 7)}
    in_order.destroy()
    shuffled = instance(host, plate, matte, **params)
    for t in (5, 2, 6, 4, 1, 3):
        np.testing.assert_array_equal(shuffled.render(t), expected[t], err_msg=f"frame {t}")
    shuffled.destroy()


def test_window_is_sent_once_and_reused_until_the_input_changes(host, small_plate, vh_server):
    plate, matte = small_plate
    source = ExrSequence(plate, FIRST, LAST)
    edits: dict[int, np.ndarray] = {}
    clip = ofx_host.InputClip(lambda t: edits.get(t, source(t)), (FIRST, LAST))
    inst = host.create_instance(
        clip,
        ofx_host.InputClip(ExrSequence(matte, FIRST, LAST), (FIRST, LAST)),
        params={"serverAddress": vh_server, "model": "stats", "modelOptions": PER_FRAME, "windowSize": 4},
    )

    def fetched():
        return host.stats["images"]

    before = fetched()
    first = inst.render(1)
    assert fetched() - before == 2 + 4 * 2 + 1  # frame 1 (+matte) to check the cache, the window, the output
    for t in range(2, 5):
        before = fetched()
        inst.render(t)
        assert fetched() - before == 3, f"frame {t} was not served from the cached window"
    # An upstream edit of frame 1 must not be answered from the cache.
    edited = source(1).copy()
    edited[..., :3] *= 1.5
    edits[1] = edited
    before = fetched()
    again = inst.render(1)
    assert fetched() - before == 2 + 4 * 2 + 1
    assert not np.allclose(again, first)
    inst.destroy()


def test_half_float_with_padded_rows_and_offset_bounds(host, small_plate, vh_server):
    plate, matte = small_plate
    params = {"serverAddress": vh_server, "model": "stats", "modelOptions": PER_FRAME, "windowSize": 2}
    full = instance(host, plate, matte, **params)
    want = [full.render(t) for t in (3, 10)]
    full.destroy()
    half = instance(host, plate, matte, depth="half", row_padding=40, origin=(7, -11), **params)
    got = [half.render(t) for t in (3, 10)]
    half.destroy()
    for g, w in zip(got, want):
        # Inputs and outputs travel as float16: agreement to half precision (11-bit significand).
        np.testing.assert_allclose(g, w, rtol=2e-3, atol=2e-3)


def test_alpha_is_the_matte_when_no_matte_clip_is_connected(host, small_plate, vh_server):
    plate, matte = small_plate  # the plate's alpha equals its matte sequence
    params = {"serverAddress": vh_server, "model": "stats", "windowSize": 2}
    with_matte = instance(host, plate, matte, **params)
    want = with_matte.render(4)
    with_matte.destroy()
    alpha_only = instance(host, plate, None, **params)
    np.testing.assert_allclose(alpha_only.render(4), want, rtol=1e-6, atol=1e-6)
    alpha_only.destroy()


def test_zero_strength_returns_the_plate(host, small_plate, vh_server):
    plate, matte = small_plate
    inst = instance(host, plate, matte, serverAddress=vh_server, model="stats", strength=0.0, windowSize=1)
    np.testing.assert_allclose(inst.render(6), frames_of(plate)[6 - FIRST], atol=1e-6)
    inst.destroy()


# ------------------------------------------------------------------------------------------------------------
# Failures: one readable message, kOfxStatFailed, and the host carries on


def test_a_stopped_server_fails_the_render_with_a_message_and_the_host_carries_on(host, small_plate):
    from vh.server.serve import ServerOptions, create_server

    plate, matte = small_plate
    running = create_server("127.0.0.1:0", ServerOptions(models=["stats"]))
    address = f"127.0.0.1:{running.port}"
    inst = instance(host, plate, matte, serverAddress=address, model="stats", windowSize=4)
    inst.render(1)
    assert inst.message is None
    running.stop(grace=0.5)
    with pytest.raises(ofx_host.OfxRenderError) as failure:
        inst.render(6)  # another window: needs the server
    assert failure.value.status == ofx_host.FAILED
    assert address in failure.value.message and "not reachable" in failure.value.message
    assert inst.message == ("OfxMessageError", failure.value.message)
    assert inst.render(2).shape == (96, 160, 4)  # the cached window still renders
    assert inst.message is None  # and a good render clears the message
    inst.set_param("connect", None)
    assert inst.param("status").startswith("not connected: vh-server at " + address)
    inst.destroy()


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"model": "no_such_model"}, "has no model 'no_such_model'; available: stats, cut"),
        ({"model": "stats", "modelOptions": "bogus=1"}, "model stats has no option 'bogus'; options: "),
        (
            {"model": "stats", "modelOptions": "time_constant=soon"},
            "option time_constant=soon is not a valid float",
        ),
        ({"model": "stats", "colorspace": "NotAColourspace"}, "NotAColourspace"),
        ({"serverAddress": ""}, "no vh-server address set"),
    ],
)
def test_bad_settings_are_reported_in_one_line(host, small_plate, vh_server, params, expected):
    plate, matte = small_plate
    inst = instance(host, plate, matte, **{"serverAddress": vh_server, **params})
    with pytest.raises(ofx_host.OfxRenderError) as failure:
        inst.render(3)
    assert expected in failure.value.message
    assert "\n" not in failure.value.message
    inst.destroy()


def test_a_source_without_alpha_is_refused(host, small_plate, vh_server):
    plate, _ = small_plate
    rgb = ExrSequence(plate, FIRST, LAST, channels=(0, 1, 2))
    inst = host.create_instance(ofx_host.InputClip(rgb, (FIRST, LAST)), params={"serverAddress": vh_server})
    with pytest.raises(ofx_host.OfxRenderError) as failure:
        inst.render(1)
    assert "RGBA" in failure.value.message
    inst.destroy()


def test_connect_reports_the_server_and_model(host, small_plate, vh_server):
    inst = instance(host, *small_plate, serverAddress=vh_server, model="cut")
    inst.set_param("connect", None)
    status = inst.param("status")
    assert status.startswith("model cut (window 1) on vh-server ") and vh_server in status
    inst.destroy()


def test_a_host_abort_cancels_the_stream_and_fails_the_render(host, small_plate, vh_server):
    inst = instance(host, *small_plate, serverAddress=vh_server, model="stats", windowSize=4)
    host.aborted = True  # the user pressed Esc: abort() answers true from now on
    with pytest.raises(ofx_host.OfxRenderError) as failure:
        inst.render(1)
    assert failure.value.message == "render cancelled"
    host.aborted = False
    assert inst.render(1).shape == (96, 160, 4)  # nothing half-cached: the window is sent again and completes
    inst.destroy()


def test_a_partial_render_window_asks_for_whole_frames_and_fills_only_the_window(
    host, small_plate, vh_server
):
    plate, matte = small_plate
    inst = instance(host, plate, matte, serverAddress=vh_server, model="stats", windowSize=1, origin=(4, 2))
    full_rod = [4.0, 2.0, 164.0, 98.0]  # the source's bounds: x1, y1, x2, y2
    assert inst.regions_of_interest(3, (50, 40, 60, 50)) == {"Source": full_rod, "Matte": full_rod}
    whole = inst.render(3)
    part = inst.render(3, window=(24, 12, 104, 62))  # canonical coordinates, y up from the bottom
    rows, cols = slice(98 - 62, 98 - 12), slice(24 - 4, 104 - 4)  # the same window in top-down array indices
    np.testing.assert_array_equal(part[rows, cols], whole[rows, cols])
    outside = np.ones(part.shape[:2], bool)
    outside[rows, cols] = False
    assert not part[outside].any()  # nothing written outside the render window
    inst.destroy()


def test_the_cache_keeps_the_two_most_recent_windows(host, small_plate, vh_server):
    inst = instance(host, *small_plate, serverAddress=vh_server, model="stats", windowSize=1)

    def images_fetched(t: int) -> int:
        before = host.stats["images"]
        inst.render(t)
        return host.stats["images"] - before

    miss, hit = 2 + 2 + 1, 2 + 1  # (frame t + matte) check, [window of one frame + matte], output
    assert [images_fetched(t) for t in (1, 2, 3)] == [miss, miss, miss]
    assert [images_fetched(t) for t in (3, 2)] == [hit, hit]
    assert images_fetched(1) == miss  # evicted: least recently used of three
    inst.purge_caches()
    assert images_fetched(1) == miss
    inst.destroy()


# ------------------------------------------------------------------------------------------------------------
# What other hosts offer: integer depths, RGB, no temporal access


def _quantised(plate: str, scale: float, last: int = 4) -> dict[int, np.ndarray]:
    seq = ExrSequence(plate, FIRST, last)
    return {
        t: np.rint(np.clip(seq(t), 0, 1) * scale).astype(np.float32) / np.float32(scale)
        for t in range(FIRST, last + 1)
    }


@pytest.mark.parametrize("depth, scale", [("short", 65535.0), ("byte", 255.0)])
def test_integer_depths_match_the_float_path_on_the_same_values(host, small_plate, vh_server, depth, scale):
    # The same 0..1 values given as float and as 16/8-bit integers: the server sees identical float32 frames,
    # so the results agree to the integer output's rounding (half a step).
    plate, matte = small_plate
    frames = _quantised(plate, scale)
    params = {"serverAddress": vh_server, "model": "stats", "windowSize": 4}
    mattes = ofx_host.InputClip(ExrSequence(matte, FIRST, 4), (FIRST, 4))
    as_float = host.create_instance(
        ofx_host.InputClip(frames.get, (FIRST, 4), "float"), mattes, params=params
    )
    want = [np.clip(as_float.render(t), 0, 1) for t in range(FIRST, 5)]
    as_float.destroy()
    as_int = host.create_instance(ofx_host.InputClip(frames.get, (FIRST, 4), depth), mattes, params=params)
    got = [as_int.render(t) for t in range(FIRST, 5)]
    as_int.destroy()
    for t, (g, w) in enumerate(zip(got, want), FIRST):
        np.testing.assert_allclose(g, w, rtol=0, atol=0.5 / scale + 1e-6, err_msg=f"frame {t}")
        assert np.abs(g - frames[t]).max() > 10 / scale, "the foreground was repainted"


def test_an_rgb_source_with_a_matte_gives_rgb_like_the_rgba_path(host, small_plate, vh_server):
    plate, matte = small_plate
    params = {"serverAddress": vh_server, "model": "stats", "windowSize": 2}
    rgba = instance(host, plate, matte, last=4, **params)
    want = rgba.render(3)
    rgba.destroy()
    rgb_frames = ExrSequence(plate, FIRST, 4, channels=(0, 1, 2))
    mattes = ofx_host.InputClip(ExrSequence(matte, FIRST, 4), (FIRST, 4))
    rgb = host.create_instance(ofx_host.InputClip(rgb_frames, (FIRST, 4)), mattes, params=params)
    got = rgb.render(3)
    rgb.destroy()
    assert got.shape == (96, 160, 3)
    np.testing.assert_allclose(got, want[..., :3], rtol=1e-6, atol=1e-6)


def test_without_temporal_access_each_frame_is_its_own_window(ofx_bundle, small_plate, vh_server):
    plate, matte = small_plate
    host = ofx_host.OfxHost(ofx_bundle, temporal=False)
    try:
        inst = instance(host, plate, matte, serverAddress=vh_server, model="stats", windowSize=8)
        assert inst.frames_needed(5) == {"Source": [(5, 5)], "Matte": [(5, 5)]}
        got = [inst.render(t) for t in (5, 6)]
        inst.destroy()
        assert host.errors == []
    finally:
        host.unload()
    seq, mattes = ExrSequence(plate, FIRST, LAST), ExrSequence(matte, FIRST, LAST)
    for t, g in zip((5, 6), got):
        (want,) = reference([seq(t)], [mattes(t)])  # `vh harmonize` on that frame alone
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6, err_msg=f"frame {t}")
