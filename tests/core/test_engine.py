"""The inference engine with tiny deterministic models: windows, streaming, validation, colour, memory."""

from __future__ import annotations

import logging
import tracemalloc

import cv2
import numpy as np
import pytest
import torch

from vh.core import color
from vh.core.engine import Engine, mirror_index, parse_device, window_weights
from vh.core.errors import InputError
from vh.core.models.base import Harmonizer, blend
from vh.core.transfer import TransferConfig

WS = color.working_space()


class Offset(Harmonizer):
    """Window model: adds a fixed offset to the foreground; counts its calls and records batch shapes."""

    input_size = (24, 32)

    def __init__(self, window: int = 8, offset: float = 0.1) -> None:
        super().__init__()
        self.window, self.offset = window, offset
        self.calls: list[tuple[int, ...]] = []

    def forward(self, comp, matte):
        self.calls.append(tuple(comp.shape))
        return blend(comp, comp + self.offset, matte)


class Ramp(Harmonizer):
    """Window model whose offset depends on the position in the window: naive tiling would jump at borders."""

    window = 8
    input_size = (16, 16)

    def forward(self, comp, matte):
        k = torch.arange(comp.shape[1], dtype=comp.dtype).view(1, -1, 1, 1, 1)
        return blend(comp, comp + 0.2 * k / (comp.shape[1] - 1), matte)


class Gain(Harmonizer):
    """Per-frame stateful model: multiplies the foreground by a gain; records resets."""

    stateful = True
    input_size = None

    def __init__(self) -> None:
        super().__init__()
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def forward(self, comp, matte):
        assert comp.shape[0] == 1, "stateful models get one stream per call"
        return blend(comp, comp * 0.8, matte)


class AutoMatte(Harmonizer):
    """Predicts its matte: the right half of the frame."""

    supports_auto_matte = True
    input_size = (16, 16)

    def detect(self, comp):
        m = torch.zeros_like(comp[:, :, :1])
        m[..., comp.shape[-1] // 2 :] = 1.0
        return m

    def forward(self, comp, matte=None):
        matte = self.detect(comp) if matte is None else matte
        return blend(comp, comp + 0.1, matte)


def smooth_frame(h: int = 48, w: int = 64, seed: int = 0, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = rng.random((3, 3, channels)).astype(np.float32)
    return (0.15 + 0.6 * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC).clip(0, 1)).astype(
        np.float32
    )


def box_matte(h: int = 48, w: int = 64) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    m[12:36, 16:48] = 1.0
    return m


def fg_mean(frame: np.ndarray, matte: np.ndarray) -> np.ndarray:
    return frame[..., :3][matte > 0.99].mean(axis=0)


# -- windows -------------------------------------------------------------------------------------------------


def test_window_weights_are_a_partition_of_unity_at_half_stride():
    w = window_weights(8)
    assert (w > 0).all()
    np.testing.assert_allclose(w[:4] + w[4:], 1.0, atol=1e-6)


def test_mirror_index_covers_short_clips():
    assert [mirror_index(t, 3) for t in range(8)] == [0, 1, 2, 2, 1, 0, 0, 1]
    assert [mirror_index(t, 1) for t in range(4)] == [0, 0, 0, 0]


@pytest.mark.parametrize("n", [1, 5, 8, 9, 13, 16])
def test_every_frame_comes_back_once_in_order_with_the_model_offset(n):
    frames = [smooth_frame(seed=i) for i in range(n)]
    matte = box_matte()
    outs = list(Engine(Offset()).run(frames, [matte] * n, WS))
    assert len(outs) == n
    for f, o in zip(frames, outs):
        assert o.shape == f.shape and o.dtype == np.float32
        np.testing.assert_allclose(fg_mean(o, matte) - fg_mean(f, matte), 0.1, atol=0.01)


def test_no_seam_at_window_borders():
    """Flicker (frame-to-frame jump of the foreground mean) across window borders is no worse than inside."""
    n = 24
    frames = [smooth_frame()] * n  # a still shot: any frame-to-frame change comes from the windows
    matte = box_matte()

    def jumps(stride: int) -> tuple[float, float]:
        outs = list(Engine(Ramp(), window_stride=stride).run(frames, [matte] * n, WS))
        mu = np.array([fg_mean(o, matte) for o in outs])
        d = np.abs(np.diff(mu, axis=0)).max(axis=1)  # d[t]: jump from t to t+1
        border = [t for t in range(n - 1) if (t + 1) % stride == 0]
        inside = [t for t in range(n - 1) if (t + 1) % stride != 0]
        return d[border].max(), d[inside].max()

    border, inside = jumps(4)
    assert border <= inside + 1e-3, (border, inside)
    # the measurement can fail: tiling without overlap shows the seam
    border_tiled, inside_tiled = jumps(8)
    assert border_tiled > inside_tiled + 0.05


def test_frames_stream_out_as_soon_as_their_windows_are_done():
    pulled = []

    def frames():
        for i in range(20):
            pulled.append(i)
            yield smooth_frame(seed=i)

    gen = Engine(Offset(), batch=1).run(frames(), (box_matte() for _ in range(20)), WS)
    next(gen)
    assert len(pulled) == 8  # the first window (8 frames) finishes frames 0..3


def test_batches_windows_up_to_batch():
    model = Offset()
    list(Engine(model, batch=2).run([smooth_frame()] * 16, [box_matte()] * 16, WS))
    assert model.calls[0][:2] == (2, 8)
    assert sum(c[0] for c in model.calls) == 4  # windows start at 0, 4, 8, 12


def test_custom_infer_replaces_the_model_call():
    engine = Engine(Offset())
    seen = []

    def infer(comp, matte):
        seen.append(comp.shape)
        return engine.infer(comp, matte)

    stream = engine.stream(WS, infer=infer)
    outs = []
    for i in range(9):
        outs += stream.push(smooth_frame(seed=i), box_matte())
    outs += stream.finish()
    assert len(outs) == 9 and seen


def test_stateful_per_frame_model_is_reset_per_clip_and_called_one_stream_at_a_time():
    model = Gain()
    engine = Engine(model, batch=4)
    for _ in range(2):
        outs = list(engine.run([smooth_frame(seed=i) for i in range(3)], [box_matte()] * 3, WS))
        np.testing.assert_allclose(
            fg_mean(outs[0], box_matte()) / fg_mean(smooth_frame(seed=0), box_matte()), 0.8, atol=0.02
        )
    assert model.resets >= 2


def test_cpu_runs_are_deterministic():
    frames = [smooth_frame(seed=i) for i in range(3)]
    a = list(Engine("stats").run(frames, [box_matte()] * 3, WS))
    b = list(Engine("stats").run(frames, [box_matte()] * 3, WS))
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


# -- pixels --------------------------------------------------------------------------------------------------


def test_background_is_bit_identical_on_scene_linear_float():
    rng = np.random.default_rng(7)
    frames = [
        (rng.standard_normal((48, 64, 4)) * 3).astype(np.float32) for _ in range(3)
    ]  # HDR, negatives, alpha
    matte = box_matte()
    matte[11, 16:48] = 0.5  # a soft edge row
    outs = list(Engine(Offset(window=1)).run(frames, [matte] * 3, "ACEScg"))
    for f, o in zip(frames, outs):
        bg = matte == 0
        assert np.array_equal(o[bg].view(np.uint32), f[bg].view(np.uint32))
        assert np.array_equal(o[..., 3].view(np.uint32), f[..., 3].view(np.uint32))  # alpha untouched


def test_soft_matte_edges_follow_the_documented_blend():
    """out = plate * (1 - m) + transformed * m, where `transformed` is what a fully matted pixel becomes."""
    plate = np.full((48, 64, 3), 0.4, np.float32)
    matte = np.zeros((48, 64), np.float32)
    matte[8:40, 8:56] = 1.0
    matte[8:40, 30:34] = 0.3  # a soft strip through the middle of the foreground
    (out,) = Engine(Offset(window=1)).run([plate], [matte], WS)
    transformed = out[20, 20]  # a fully matted pixel of the same plate colour
    np.testing.assert_allclose(out[20, 31], plate[20, 31] * 0.7 + transformed * 0.3, atol=2e-3)


def test_hdr_highlights_survive_through_the_linear_path():
    frame = smooth_frame() ** 2.2  # scene-linear
    frame[20:24, 20:26] = 4.0
    frame[26:30, 20:26] = 16.0
    (out,) = Engine(Offset(window=1)).run([frame], [box_matte()], "ACEScg")
    assert np.isfinite(out).all()
    a, b = out[22, 23], out[28, 23]
    assert (a > 1.0).all() and (b > 4.0).all() and (b > a).all(), (a, b)


def test_empty_matte_returns_the_input_and_skips_the_model(caplog):
    model = Offset()
    frames = [smooth_frame(seed=i, channels=4) for i in range(10)]
    with caplog.at_level(logging.WARNING, logger="vh.core.engine"):
        outs = list(Engine(model).run(frames, [np.zeros((48, 64), np.float32)] * 10, WS))
    assert all(np.array_equal(o, f) for o, f in zip(outs, frames))
    assert model.calls == []
    assert "empty" in caplog.text


def test_full_frame_matte_uses_the_model_output():
    frame = smooth_frame()
    (out,) = Engine(Offset(window=1)).run([frame], [np.ones((48, 64), np.float32)], WS)
    np.testing.assert_allclose(out.mean() - frame.mean(), 0.1, atol=0.01)


def test_one_frame_clip_through_a_window_model():
    (out,) = Engine(Offset()).run([smooth_frame()], [box_matte()], WS)
    np.testing.assert_allclose(
        fg_mean(out, box_matte()) - fg_mean(smooth_frame(), box_matte()), 0.1, atol=0.01
    )


def test_auto_matte_uses_the_model_detector():
    frame = smooth_frame()
    (out,) = Engine(AutoMatte()).run([frame], None, WS)
    assert np.array_equal(out[:, :20], frame[:, :20])  # left half: predicted background, untouched
    assert np.abs(out[:, 40:] - frame[:, 40:] - 0.1).mean() < 0.02


def test_strength_scales_the_matte_where_the_engine_composites():
    rng = np.random.default_rng(8)
    frames = [(rng.standard_normal((48, 64, 4)) * 3).astype(np.float32) for _ in range(3)]
    matte = box_matte()
    engine = Engine(Offset(window=1))
    full = list(engine.run(frames, [matte] * 3, "ACEScg"))
    one = list(engine.run(frames, [matte] * 3, "ACEScg", strength=1.0))
    assert all(np.array_equal(a, b) for a, b in zip(one, full, strict=True))
    # strength 0: the pushed arrays themselves, nothing was repainted
    zero = list(engine.run(frames, [matte] * 3, "ACEScg", strength=0.0))
    assert all(o is f for o, f in zip(zero, frames, strict=True))
    half = list(engine.run(frames, [matte] * 3, "ACEScg", strength=0.5))
    bg = matte == 0
    for f, h, o in zip(frames, half, full, strict=True):
        assert np.array_equal(h[bg].view(np.uint32), f[bg].view(np.uint32))
        assert np.array_equal(h[..., 3].view(np.uint32), f[..., 3].view(np.uint32))
        np.testing.assert_allclose(h[..., :3], (f[..., :3] + o[..., :3]) / 2, atol=1e-5)
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InputError, match="strength must be within 0..1"):
            engine.stream(WS, strength=bad)


def test_matte_only_returns_the_auto_matte_the_stream_repaints_by():
    frame = smooth_frame()
    (matte,) = Engine(AutoMatte()).run([frame], None, WS, matte_only=True)
    assert matte.shape == (48, 64)
    assert (matte[:, :28] == 0).all() and (matte[:, 36:] == 1).all()  # bilinear only across the border
    with pytest.raises(InputError, match="cannot predict a matte"):
        Engine(Offset()).stream(WS, matte_only=True)


# -- validation ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_pixels_name_the_frame_and_count(bad):
    frames = [smooth_frame(), smooth_frame()]
    frames[1][3, 4:7, 0] = bad
    with pytest.raises(InputError, match=r"frame 1: 3 NaN/Inf"):
        list(Engine(Offset(window=1)).run(frames, [box_matte()] * 2, WS))


def test_mattes_are_clipped_only_when_out_of_range():
    stream = Engine(Offset(window=1)).stream(WS)
    inside, over = box_matte(), box_matte() * 1.5 - 0.25
    _, kept, empty = stream._validate(smooth_frame(), inside, "0", finite=False)
    assert kept is inside and not empty  # within 0..1: used as it is, no copy
    _, clipped, _ = stream._validate(smooth_frame(), over, "1", finite=False)
    assert clipped is not over and clipped.min() == 0.0 and clipped.max() == 1.0
    assert stream._validate(smooth_frame(), over * 0 - 1, "2", finite=False)[2]  # all below zero: empty


def test_finite_skips_only_the_nan_check():
    """`finite=True` is the caller's word that it checked (the server does, while converting from the
    wire)."""
    frame = smooth_frame()
    frame[0, 0, 0] = np.nan
    stream = Engine(Offset(window=1)).stream(WS)
    with pytest.raises(InputError, match="1 NaN/Inf"):
        stream._validate(frame, box_matte(), "0", finite=False)
    assert stream._validate(frame, box_matte(), "0", finite=True)[0] is frame
    with pytest.raises(InputError, match="matte is 32x24"):  # the other checks still run
        stream._validate(smooth_frame(), np.ones((24, 32), np.float32), "0", finite=True)


def test_matte_size_mismatch_names_both_sizes():
    with pytest.raises(InputError, match=r"matte is 32x24 but the plate is 64x48"):
        list(Engine(Offset()).run([smooth_frame()], [np.ones((24, 32), np.float32)], WS))


def test_plate_size_change_mid_clip():
    with pytest.raises(InputError, match="clip started at 64x48"):
        list(
            Engine(Offset(window=1)).run(
                [smooth_frame(), smooth_frame(32, 32)], [box_matte(), box_matte(32, 32)], WS
            )
        )


def test_matte_with_fewer_frames_than_the_plate():
    with pytest.raises(InputError, match="matte has only 1 frame"):
        list(Engine(Offset(window=1)).run([smooth_frame()] * 2, [box_matte()], WS))


def test_auto_matte_needs_a_model_that_supports_it():
    with pytest.raises(InputError, match="cannot predict one"):
        list(Engine(Offset()).run([smooth_frame()], None, WS))


def test_devices_are_validated():
    assert parse_device("cpu").type == "cpu"
    with pytest.raises(InputError, match="unsupported device|unknown device"):
        parse_device("tpu:0")
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="CUDA is not available"):
            parse_device("cuda:0")


@pytest.mark.gpu
def test_cuda_matches_cpu_within_autocast_tolerance():
    frames = [smooth_frame(seed=i) for i in range(9)]
    cpu = list(Engine(Offset()).run(frames, [box_matte()] * 9, WS))
    gpu = list(Engine(Offset(), device="cuda:0").run(frames, [box_matte()] * 9, WS))
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a, b, atol=1e-2)


# -- memory --------------------------------------------------------------------------------------------------


def _peak_traced(n: int, h: int, w: int, batch: int = 4, method: str = "lut+affine") -> tuple[int, int]:
    """(peak traced bytes, most full-res frames held) while streaming n generated frames."""
    engine = Engine(Offset(), batch=batch, transfer=TransferConfig(method=method))
    base = smooth_frame(h, w)
    matte = np.zeros((h, w), np.float32)
    matte[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 1.0
    stream = engine.stream(WS)
    held = 0
    tracemalloc.start()
    try:
        for _ in range(n):
            for out in stream.push(base.copy(), matte):
                del out
            held = max(held, sum(f.plate is not None for f in stream._frames.values()))
        stream.finish()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, held


def test_memory_is_bounded_as_the_clip_grows():
    # the cheap transfer keeps this fast; the transfer's own state (an EMA of fixed size) cannot grow with
    # length
    short, held_short = _peak_traced(32, 72, 96, method="upsample")
    long, held_long = _peak_traced(128, 72, 96, method="upsample")
    assert held_long <= 8 + 4 * 3 and held_short <= 8 + 4 * 3  # window + stride * (batch - 1)
    assert long < 1.25 * short, (short, long)


@pytest.mark.slow
def test_memory_is_bounded_at_1080p_100_vs_1000_frames():
    short, _ = _peak_traced(100, 1080, 1920, batch=2)
    long, _ = _peak_traced(1000, 1080, 1920, batch=2)
    assert long < 1.1 * short, (short, long)


def test_a_model_that_changes_nothing_returns_the_plate_bit_for_bit():
    """Cut-and-paste through the engine: no fit, no transfer, the very frame that came in (even -0.0 and
    HDR)."""
    frame = smooth_frame(channels=4) ** 2.2 * 3.0  # scene-linear, above 1.0
    frame[5, 5, 0] = -0.0
    (out,) = Engine("cut").run([frame], [box_matte()], "ACEScg")
    assert out is frame


def test_bands_in_parallel_match_one_band():
    """The full-resolution transfer gives the same bits however the frame is cut into bands."""
    from vh.core.transfer import TransferConfig

    frames = [smooth_frame(96, 128, seed=i) for i in range(3)]
    mattes = [box_matte(96, 128)] * 3
    whole = list(
        Engine(Offset(window=1), transfer=TransferConfig(band_pixels=1 << 20)).run(frames, mattes, WS)
    )
    bands = list(Engine(Offset(window=1), transfer=TransferConfig(band_pixels=500)).run(frames, mattes, WS))
    assert all(np.array_equal(a, b) for a, b in zip(whole, bands))
