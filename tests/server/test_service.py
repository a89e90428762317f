"""A real server on 127.0.0.1 (port 0) in this process: results, limits, cancellation and faults."""

from __future__ import annotations

import gc
import itertools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.server.conftest import SlowIdentity, clip
from vh.client.remote import Client, InvalidRequest, JobCancelled, ServerBusy, Unsupported
from vh.client.v1 import harmonize_pb2 as pb
from vh.client.v1 import harmonize_pb2_grpc as pb_grpc
from vh.core.engine import Engine
from vh.core.errors import InputError
from vh.server.serve import ServerOptions, create_server


def direct(model: str, frames, mattes, colorspace: str, **overrides):
    """What `vh harmonize` computes for the same pixels: the engine on float32, cast back to the wire
    dtype."""
    engine = Engine(model, **overrides)
    outs = engine.run(
        [f.astype(np.float32) for f in frames], [m.astype(np.float32) for m in mattes], colorspace
    )
    return [o.astype(frames[0].dtype) for o in outs]


def assert_bit_equal(got, want):
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        assert g.dtype == w.dtype and g.shape == w.shape, i
        assert g.tobytes() == w.tobytes(), f"frame {i} differs in {np.count_nonzero(g != w)} samples"


def test_get_info_lists_models_options_and_limits(client):
    info = client.info()
    assert info.api_version == "v1" and info.default_model == "cut"
    models = {m.name: m for m in info.models}
    assert set(models) == {"cut", "stats"}
    assert models["stats"].window == 1 and (models["stats"].input_width, models["stats"].input_height) == (
        256,
        256,
    )
    options = {o.name: o for o in models["stats"].options}
    assert options["space"].kind == "choice" and "lab" in options["space"].choices
    assert options["time_constant"].default_value.WhichOneof("value") == "number"
    assert set(info.dtypes) == {pb.DTYPE_FLOAT16, pb.DTYPE_FLOAT32}
    assert info.limits.max_clients == 8 and info.limits.max_chunk_bytes <= 4 * 1024 * 1024
    assert info.device.name == "cpu" and info.default_ocio_config.startswith("ocio://")


def test_2k_float16_equals_direct_engine_bit_for_bit(client):
    frames, mattes = clip(2, 1080, 2048, channels=4, dtype=np.float16)
    got = list(client.harmonize(frames, mattes, colorspace="ACEScg", model="stats"))
    assert_bit_equal(got, direct("stats", frames, mattes, "ACEScg"))
    assert not np.array_equal(got[0], frames[0])  # the foreground was really repainted
    assert np.array_equal(
        got[0][mattes[0] == 0], frames[0][mattes[0] == 0]
    )  # and the background kept its bits


@pytest.mark.slow
def test_4k_float32_equals_direct_engine_bit_for_bit(client):
    frames, mattes = clip(2, 2160, 4096, channels=4, dtype=np.float32, seed=1)
    assert frames[0].nbytes > 100e6  # 141 MB a frame: 40+ chunks, far beyond one gRPC message
    got = list(client.harmonize(frames, mattes, colorspace="scene_linear", model="stats"))
    assert_bit_equal(got, direct("stats", frames, mattes, "scene_linear"))


def test_alpha_matte_and_strength(client):
    frames, mattes = clip(2, 96, 128, channels=4, dtype=np.float32)
    for f, m in zip(frames, mattes):
        f[..., 3] = m
    separate = list(client.harmonize(frames, mattes, colorspace="ACEScg", model="stats"))
    alpha = list(client.harmonize(frames, colorspace="ACEScg", model="stats", matte_source="alpha"))
    assert_bit_equal(alpha, separate)
    unchanged = list(client.harmonize(frames, mattes, colorspace="ACEScg", model="stats", strength=0.0))
    assert_bit_equal(unchanged, frames)
    half = list(client.harmonize(frames, mattes, colorspace="ACEScg", model="stats", strength=0.5))
    np.testing.assert_allclose(half[0], (frames[0] + separate[0]) / 2, atol=1e-5)


def test_nan_gets_the_engines_own_message(client):
    """The server checks NaN/Inf while converting from the wire (the engine is told so); the words are the
    engine's."""
    frames, mattes = clip(3, 32, 48, channels=4, dtype=np.float32)
    frames[1][5, 7, 2] = np.nan
    frames[1][0, 0, 0] = -np.inf
    mattes[2][3, 3] = np.inf
    cases = (
        (frames, None, "frame 1001: 2 NaN/Inf pixel value(s) in the plate"),
        (frames[2:], mattes[2:], "frame 1000: 1 NaN/Inf pixel value(s) in the matte"),
    )
    for bad_frames, bad_mattes, message in cases:
        bad_mattes = bad_mattes or [np.zeros_like(m) for m in mattes]  # empty: the frame would pass through
        with pytest.raises(InvalidRequest) as server_error:
            list(client.harmonize(bad_frames, bad_mattes, colorspace="ACEScg", model="cut", first_frame=1000))
        assert message in str(server_error.value)
        stream = Engine("cut").stream("ACEScg")
        with pytest.raises(InputError) as engine_error:
            for i, (f, m) in enumerate(zip(bad_frames, bad_mattes)):
                stream.push(f, m, label=1000 + i)
        assert message in str(engine_error.value)


def _chunked(values: np.ndarray, index: int, plane: int, cuts: list[int]) -> list:
    from vh.client import wire

    data = memoryview(values.tobytes())
    edges = [0, *sorted(c for c in cuts if 0 < c < len(data)), len(data)]
    return [wire.ChunkView(index, plane, a, data[a:b]) for a, b in itertools.pairwise(edges) if b > a]


@settings(max_examples=60, deadline=None)
@given(
    cuts=st.lists(st.integers(1, 16 * 24 * 4 * 2 - 1), max_size=12),
    dtype=st.sampled_from(["<f2", "<f4"]),
    nan_at=st.none() | st.integers(0, 16 * 24 * 4 - 1),
)
def test_incoming_converts_any_chunking_exactly_and_counts_nan(cuts, dtype, nan_at):
    """Chunks are converted as they arrive; one that splits a value (legal on the wire) has its plane
    converted whole once complete. Either way the frame is the plate in float32, bit for bit, and NaN/Inf get
    the engine's words."""
    from vh.client import wire
    from vh.server.service import _Buffers, _Incoming

    rng = np.random.default_rng(len(cuts))
    image = (rng.standard_normal((16, 24, 4)) * 100).astype(dtype)
    if nan_at is not None:
        image.reshape(-1)[nan_at] = np.nan
    matte = rng.random((16, 24)).astype(dtype)
    geometry = wire.Geometry(24, 16, 4, np.dtype(dtype), "ACEScg")
    incoming = _Incoming(geometry, pb.MATTE_SEPARATE, _Buffers(1 << 20), first_frame=1001)
    chunks = _chunked(image, 0, pb.PLANE_IMAGE, [c % image.nbytes for c in cuts]) + _chunked(
        matte, 0, pb.PLANE_MATTE, [c % matte.nbytes for c in cuts]
    )
    for chunk in chunks[:-1]:
        assert incoming.add(chunk) is None
    if nan_at is not None:
        with pytest.raises(InputError, match="frame 1001: 1 NaN/Inf pixel value"):
            incoming.add(chunks[-1])
        return
    frame, got_image, got_matte = incoming.add(chunks[-1])
    incoming.finish()
    assert frame.index == 0 and got_image.dtype == got_matte.dtype == np.float32
    assert got_image.tobytes() == image.astype(np.float32).tobytes()
    assert got_matte.tobytes() == matte.astype(np.float32).tobytes()


def test_incoming_refuses_a_frame_over_the_limit_at_its_first_chunk():
    from vh.client import wire
    from vh.core.errors import ResourceError
    from vh.server.service import _Buffers, _Incoming

    image = np.zeros((4, 4, 3), np.float16)
    incoming = _Incoming(
        wire.Geometry(4, 4, 3, np.dtype("<f2"), "ACEScg"),
        pb.MATTE_AUTO,
        _Buffers(1 << 20),
        first_frame=0,
        max_frames=2,
    )
    for index in range(2):
        assert incoming.add(_chunked(image, index, pb.PLANE_IMAGE, [])[0]) is not None
    with pytest.raises(ResourceError, match="limit of 2 frames"):
        incoming.add(_chunked(image, 2, pb.PLANE_IMAGE, [40])[0])


def test_frame_buffers_serve_the_next_stream(server, client):
    frames, mattes = clip(3, 64, 96, channels=4, dtype=np.float16)
    list(client.harmonize(frames, mattes, colorspace="ACEScg", model="stats"))
    pool = server.service.buffers
    assert 0 < pool.spare_bytes <= pool.max_bytes
    taken = []
    take = pool.take_array
    pool.take_array = lambda shape, dtype: taken.append(take(shape, dtype)) or taken[-1]
    spares = {id(b) for bufs in pool._free.values() for b in bufs}
    try:
        list(client.harmonize(frames, mattes, colorspace="ACEScg", model="stats"))
    finally:
        del pool.take_array
    assert taken and id(taken[0]) in spares  # the second stream's first frame got a spare of the first's


def test_buffer_pool_keeps_a_budget_and_drops_the_least_recently_used_size_first():
    from vh.server.service import _Buffers

    pool = _Buffers(max_bytes=3000)
    small = [pool.take_array((100,), np.float32) for _ in range(3)]  # 400 bytes each
    big = [pool.take_array((500,), np.float32) for _ in range(2)]  # 2000 bytes each
    pool.give(
        *small, small[0], small[0][:10], None
    )  # one buffer named twice is kept once; views and None never
    assert pool.spare_bytes == 1200
    pool.give(*big)  # 1200 + 4000 is over: the small ones (used longest ago) go first, then the first big one
    assert pool.spare_bytes == 2000 and pool.take_array((500,), np.float32) is big[1]
    assert pool.take_array((100,), np.float32) is not small[2]  # nothing spare of that size: a new array
    pool.give(np.empty(1000, np.float32))  # bigger than the whole budget: not kept
    assert pool.spare_bytes == 0


def test_options_reach_the_model(client):
    frames, mattes = clip(2, 64, 96, channels=3, dtype=np.float32, seed=3)
    got = list(client.harmonize(frames, mattes, colorspace="ACEScg", model="stats", options={"space": "rgb"}))
    assert_bit_equal(got, direct("stats", frames, mattes, "ACEScg", space="rgb"))


@pytest.mark.parametrize(
    "name, value",
    [
        ("time_constnt", 4),
        ("time_constant", 1e300),
        ("time_constant", -1),
        ("time_constant", "fast"),
        ("space", 2),
    ],
)
def test_a_bad_option_reads_the_same_locally_and_remotely(client, tmp_path, capsys, name, value):
    """Unknown, out of range or wrongly typed: `vh harmonize` and the server say it in the same words."""
    from vh.core.cli.main import main

    argv = ["harmonize", str(tmp_path / "plate.exr"), "-o", str(tmp_path / "out.exr"), "-m", "stats"]
    assert main([*argv, "--option", f"{name}={value}"]) == 2  # options are checked before the plate is read
    err = capsys.readouterr().err.strip()
    assert err.startswith("vh: error: ") and "\n" not in err
    frames, mattes = clip(1, 16, 16, channels=3, dtype=np.float32)
    with pytest.raises(InvalidRequest) as remote:
        list(client.harmonize(frames, mattes, colorspace="ACEScg", model="stats", options={name: value}))
    assert str(remote.value) == f"vh-server: {err.removeprefix('vh: error: ')} (INVALID_ARGUMENT)"


def test_concurrent_stateful_streams_do_not_mix(client):
    """`stats` smooths its statistics over time inside the model: each stream must get its own state."""
    clips = [clip(4, 64, 96, channels=3, dtype=np.float32, seed=s) for s in range(3)]
    with ThreadPoolExecutor(3) as pool:
        results = list(
            pool.map(lambda c: list(client.harmonize(c[0], c[1], colorspace="ACEScg", model="stats")), clips)
        )
    for (frames, mattes), got in zip(clips, results):
        assert_bit_equal(got, direct("stats", frames, mattes, "ACEScg"))


def test_auto_matte_unsupported_is_failed_precondition(client):
    frames, _ = clip(1, 32, 32, channels=3, dtype=np.float32)
    with pytest.raises(Unsupported, match="needs a matte"):
        list(client.harmonize(frames, colorspace="ACEScg", model="cut", matte_source="auto"))


# ------------------------------------------------------------------------------------------------------------
# Concurrency, cancellation, faults


@pytest.fixture()
def slow_server(slow_model):
    running = create_server("127.0.0.1:0", ServerOptions(models=[slow_model], max_clients=3, max_batch=8))
    yield running
    running.stop(grace=0.5)


def test_windows_of_concurrent_streams_are_batched(slow_server):
    frames, mattes = clip(4, 64, 64, channels=3, dtype=np.float32)
    with Client(f"127.0.0.1:{slow_server.port}") as c, ThreadPoolExecutor(3) as pool:
        jobs = [pool.submit(lambda: list(c.harmonize(frames, mattes, colorspace="ACEScg"))) for _ in range(3)]
        results = [j.result(timeout=60) for j in jobs]
    assert all(len(r) == 4 for r in results)
    queue = slow_server.queue
    assert (
        queue.windows == 3 * 4 and queue.calls < queue.windows
    )  # some calls carried windows of several streams


def _held_open(frames, gate: threading.Event):
    """The frames, then a wait: keeps a stream open (a compositor still rendering) until `gate` is set."""
    yield from frames
    gate.wait(30)


def test_over_max_clients_gets_resource_exhausted_quickly(slow_server):
    frames, mattes = clip(2, 64, 64, channels=3, dtype=np.float32)
    gate = threading.Event()
    with Client(f"127.0.0.1:{slow_server.port}") as c:
        busy = [c.harmonize(_held_open(frames, gate), mattes, colorspace="ACEScg") for _ in range(3)]
        iters = [iter(j) for j in busy]
        for it in iters:
            next(it)  # all three slots are now held by open streams
        started = time.perf_counter()
        with pytest.raises(ServerBusy, match="stream slots") as info:
            list(c.harmonize(frames[:1], mattes[:1], colorspace="ACEScg"))
        assert time.perf_counter() - started < 2.0
        assert info.value.retryable
        gate.set()
        assert all(len(list(it)) == 1 for it in iters)  # the admitted streams were not disturbed


def test_cancelled_stream_stops_within_one_window(slow_server):
    frames, mattes = clip(30, 64, 64, channels=3, dtype=np.float32)
    with Client(f"127.0.0.1:{slow_server.port}") as c:
        job = c.harmonize(frames, mattes, colorspace="ACEScg")
        it = iter(job)
        next(it)
        job.cancel()
        at_cancel = SlowIdentity.windows
        with pytest.raises(JobCancelled):
            list(it)
    time.sleep(1.0)  # several model calls' worth (0.15 s each): work would show up here if it continued
    assert SlowIdentity.windows - at_cancel <= 8  # at most the batch already on the device
    assert slow_server.service.slots.active == 0 and slow_server.queue.pending() == 0


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 1e6


def _abandon(port: int, frames, mattes, mode: str) -> None:
    """Open a stream, send part of the clip, then vanish without a goodbye."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}")
    stub = pb_grpc.HarmonizerStub(channel)
    gate = threading.Event()
    h, w, c = frames[0].shape

    def requests():
        yield pb.HarmonizeRequest(
            header=pb.StreamHeader(
                model="cut",
                format=pb.FrameFormat(
                    width=w, height=h, channels=c, dtype=pb.DTYPE_FLOAT32, colorspace="ACEScg"
                ),
                matte_source=pb.MATTE_SEPARATE,
            )
        )
        from vh.client import wire

        for i, (f, m) in enumerate(zip(frames, mattes)):
            chunks = list(wire.encode_frame(i, f, m, np.dtype("<f4"), 64 * 1024))
            if i == 1 and mode == "mid-frame":
                yield from (pb.HarmonizeRequest(chunk=ch.to_proto()) for ch in chunks[: len(chunks) // 2])
                gate.wait(5)
                return
            yield from (pb.HarmonizeRequest(chunk=ch.to_proto()) for ch in chunks)
        gate.wait(5)

    call = stub.Harmonize(requests(), timeout=30)
    next(call)  # accepted: the server is inside the stream, frames are on their way
    if mode == "after-output":
        next(call)
    if mode != "close":
        call.cancel()
    channel.close()  # "close": the connection just goes away, as when a host process dies
    gate.set()


@pytest.fixture()
def roomy_server():
    running = create_server("127.0.0.1:0", ServerOptions(models=["cut"], max_clients=32))
    yield running
    running.stop(grace=0.5)


def test_clients_that_vanish_mid_stream_leave_the_server_healthy(roomy_server):
    server = roomy_server
    port = server.port
    frames, mattes = clip(3, 192, 256, channels=3, dtype=np.float32)  # 2.4 MB a stream: a leak would show

    def healthy() -> None:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
            status = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10).status
        assert status == health_pb2.HealthCheckResponse.SERVING
        with Client(f"127.0.0.1:{port}") as c:
            assert len(list(c.harmonize(frames, mattes, colorspace="ACEScg"))) == 3

    # 1 in 10 waits for a harmonized frame first; that costs real engine time, the other modes do not.
    modes = ["mid-frame", "cancel", "close"] * 3 + ["after-output"]

    def round_of_100() -> tuple[int, float]:
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: _abandon(port, frames, mattes, modes[i % 10]), range(100)))
        deadline = time.monotonic() + 10
        while server.service.slots.active and time.monotonic() < deadline:
            time.sleep(0.05)
        healthy()
        time.sleep(0.3)
        gc.collect()
        return threading.active_count(), _rss_mb()

    # The first round brings thread pools and the allocator to their steady state; a leak would then grow
    # with every further round.
    warm = round_of_100()
    rounds = [round_of_100() for _ in range(3)]
    print(f"\nthreads, RSS MB after each 100 vanishing clients: warm-up {warm}, then {rounds}")
    assert server.service.slots.active == 0 and server.queue.pending() == 0
    # A leak grows on every round; the rest of a long test session (allocator arenas, other tests' threads
    # winding down) can add a one-off step. So the quietest of the two intervals must show no growth.
    thread_growth = min(b[0] - a[0] for a, b in zip(rounds, rounds[1:]))
    rss_growth = min(b[1] - a[1] for a, b in zip(rounds, rounds[1:]))
    assert thread_growth <= 2  # no thread per abandoned stream
    # A stream's frames are 2.4 MB, so keeping those of 100 abandoned streams would add ~240 MB a round;
    # the allocator's own noise on this test is about 30 MB.
    assert rss_growth < 100
