"""vh-server against misuse and attack, as an adversarial user on loopback would try it with raw gRPC calls.

Each test runs a real server on 127.0.0.1 (in this process, or as `vh-server` in a subprocess where RSS,
launch or signals are what is checked) and asserts the status code, that the message is one readable line, and
that the server keeps serving the users it should."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import grpc
import numpy as np
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.server.conftest import clip, start_subprocess_server
from vh.client import wire
from vh.client.remote import Client, RetryPolicy
from vh.client.v1 import harmonize_pb2 as pb
from vh.client.v1 import harmonize_pb2_grpc as pb_grpc
from vh.server.serve import ServerOptions, create_server, main
from vh.server.service import HealthService

TOKEN = "s3cret-token"
INVALID = grpc.StatusCode.INVALID_ARGUMENT


# ------------------------------------------------------------------------------------------------------------
# helpers


def header(width=8, height=6, channels=3, dtype=pb.DTYPE_FLOAT32, matte=pb.MATTE_SEPARATE, **fields):
    fmt = pb.FrameFormat(
        width=width,
        height=height,
        channels=channels,
        dtype=dtype,
        colorspace=fields.pop("colorspace", "ACEScg"),
    )
    return pb.HarmonizeRequest(
        header=pb.StreamHeader(model=fields.pop("model", "cut"), format=fmt, matte_source=matte, **fields)
    )


def frame_requests(
    index: int, width=8, height=6, channels=3, matte=True, fill=0.5
) -> list[pb.HarmonizeRequest]:
    image = np.full((height, width, channels), fill, np.float32)
    m = np.zeros((height, width), np.float32)
    m[1:3, 2:5] = 1.0
    return [
        pb.HarmonizeRequest(chunk=c.to_proto())
        for c in wire.encode_frame(index, image, m if matte else None, np.dtype("<f4"))
    ]


def call(stub, requests, metadata=(), timeout=30) -> tuple[grpc.StatusCode, str]:
    try:
        for _ in stub.Harmonize(iter(requests), timeout=timeout, metadata=metadata):
            pass
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def raw_call(channel, method: str, messages: list[bytes], metadata=()) -> tuple[grpc.StatusCode, str]:
    """Bytes on the wire, exactly as given, to a stream-stream or unary-unary method."""
    ident = lambda b: b  # noqa: E731
    try:
        if method.endswith("/Harmonize"):
            for _ in channel.stream_stream(method, request_serializer=ident, response_deserializer=ident)(
                iter(messages), timeout=30, metadata=metadata
            ):
                pass
        else:
            channel.unary_unary(method, request_serializer=ident, response_deserializer=ident)(
                messages[0], timeout=30, metadata=metadata
            )
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def launch(args: list[str]) -> subprocess.CompletedProcess:
    """`vh-server --model cut` launched with `args` in a child process (launch failures are what it tests)."""
    command = [
        sys.executable,
        "-m",
        "vh.server.serve",
        "--device",
        "cpu",
        "--model",
        "cut",
        "--log-level",
        "WARNING",
    ]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120)


def one_line(message: str) -> bool:
    return bool(message) and "\n" not in message and "Traceback" not in message and len(message) < 400


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise AssertionError(field)


@pytest.fixture(scope="module")
def running():
    r = create_server("127.0.0.1:0", ServerOptions(models=["cut", "stats"], max_clients=4))
    yield r
    r.stop(grace=0.5)


@pytest.fixture(scope="module")
def channel(running):
    with grpc.insecure_channel(f"127.0.0.1:{running.port}") as ch:
        yield ch


@pytest.fixture(scope="module")
def stub(channel):
    return pb_grpc.HarmonizerStub(channel)


# ------------------------------------------------------------------------------------------------------------
# Errors


def test_malformed_protobuf_is_invalid_argument_with_a_readable_message(channel, stub):
    good = header().SerializeToString()
    bad_utf8 = pb.StreamHeader(model="cut").SerializeToString().replace(b"cut", b"c\xc3\x28")
    cases = {
        "garbage": ("/vh.server.v1.Harmonizer/Harmonize", [b"\xff\xff\xff\xff"]),
        "invalid UTF-8 in the model name": (
            "/vh.server.v1.Harmonizer/Harmonize",
            [b"\x0a" + bytes([len(bad_utf8)]) + bad_utf8],
        ),
        "garbage after a valid header": ("/vh.server.v1.Harmonizer/Harmonize", [good, b"\x12\xff"]),
        "garbage to GetInfo": ("/vh.server.v1.Harmonizer/GetInfo", [b"\x08\xff\xff\xff"]),
        "garbage to Health.Check": ("/grpc.health.v1.Health/Check", [b"\x0a\x05\xff\xfe\xfd\xfc\xfb"]),
    }
    for name, (method, messages) in cases.items():
        code, message = raw_call(channel, method, messages)
        assert code == INVALID, (name, code, message)
        assert one_line(message) and "not valid protobuf" in message, (name, message)
    assert call(stub, [header(), *frame_requests(0)])[0] == grpc.StatusCode.OK  # still serving


def test_error_texts_name_the_real_cause(stub):
    code, message = call(
        stub, [header(), frame_requests(0)[0], pb.HarmonizeRequest(), *frame_requests(0)[1:]]
    )
    assert code == INVALID and "request is empty" in message, message
    rgba = header(channels=4, matte=pb.MATTE_ALPHA)
    image, matte = frame_requests(0, channels=4)  # one chunk each: the whole image, then a matte plane
    code, message = call(stub, [rgba, image, matte])
    assert code == INVALID and "unexpected plane PLANE_MATTE" in message, message


def test_frame_count_is_enforced(stub):
    frames = [*frame_requests(0), *frame_requests(1)]
    code, message = call(stub, [header(frame_count=1), *frames])
    assert code == INVALID and "frame 1 is one more than the 1 frames the header declared" in message, message
    code, message = call(stub, [header(frame_count=3), *frames])
    assert code == INVALID and "ended after 2 frames but the header declared 3" in message, message
    assert call(stub, [header(frame_count=2), *frames]) == (grpc.StatusCode.OK, "")


def test_bearer_scheme_is_case_insensitive_and_the_token_is_not():
    r = create_server("127.0.0.1:0", ServerOptions(models=["cut"], token=TOKEN))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{r.port}") as ch:
            stub = pb_grpc.HarmonizerStub(ch)
            for scheme in ("Bearer", "bearer", "BEARER"):
                stub.GetInfo(
                    pb.GetInfoRequest(), timeout=10, metadata=(("authorization", f"{scheme} {TOKEN}"),)
                )
            for wrong in (f"Bearer {TOKEN.upper()}", f"Basic {TOKEN}", TOKEN, "bearer"):
                with pytest.raises(grpc.RpcError) as err:
                    stub.GetInfo(pb.GetInfoRequest(), timeout=10, metadata=(("authorization", wrong),))
                assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED, wrong
    finally:
        r.stop(grace=0.5)


# ------------------------------------------------------------------------------------------------------------
# Launch


@pytest.mark.parametrize(
    "args, words",
    [
        (["--max-size", "0"], "--max-size must be within 1..65536"),
        (["--max-size", "-5"], "--max-size must be within 1..65536"),
        (["--max-clients", "0"], "at least 1"),
        (["--idle-timeout", "0"], "--idle-timeout must be a positive number"),
        (["--header-timeout", "nan"], "--header-timeout must be a positive number"),
        (["--keepalive", "0.1"], "--keepalive must be at least 1 second"),
        (["--grace", "-1"], "--grace must be a number of seconds >= 0"),
        (["--ocio-dir", "/no/such/folder"], "--ocio-dir /no/such/folder is not a folder"),
        (["--port", "70000"], "cannot listen on 127.0.0.1:70000: the port must be within 0..65535"),
        (["--port", "-1"], "cannot listen on 127.0.0.1:-1: the port must be within 0..65535"),
    ],
)
def test_limits_are_validated(capsys, args, words):
    assert main(["--device", "cpu", "--model", "cut", "--port", "0", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("vh-server: error: ") and words in err[-1], err


def test_launch_failures_print_one_line_and_exit_2(tmp_path):

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    (tmp_path / "garbage.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n"
    )
    cases = {
        "port in use": (["--port", str(busy.getsockname()[1])], "cannot listen on 127.0.0.1:"),
        "unbindable host": (["--host", "192.0.2.1", "--port", "0"], "cannot listen on 192.0.2.1:0"),
        "garbage PEM": (
            [
                "--port",
                "0",
                "--tls-cert",
                str(tmp_path / "garbage.pem"),
                "--tls-key",
                str(tmp_path / "garbage.pem"),
            ],
            "are not a PEM certificate chain",
        ),
    }
    try:
        for name, (args, words) in cases.items():
            done = launch(args)
            assert done.returncode == 2, (name, done.returncode, done.stderr[-2000:])
            assert "Traceback" not in done.stderr, (name, done.stderr)
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("vh-server: error: ") and words in lines[0], (
                name,
                lines,
            )
    finally:
        busy.close()


# ------------------------------------------------------------------------------------------------------------
# Client colour configs

_LUT = "LUT_3D_SIZE 2\n" + "".join(f"{r} {g} {b}\n" for b in (0, 1) for g in (0, 1) for r in (0, 1))


def _config(lut_src: str, environment: str = "") -> str:
    return f"""ocio_profile_version: 2
search_path: "."
{environment}
roles:
  default: raw
  scene_linear: lin
displays:
  sRGB:
    - !<View> {{name: Raw, colorspace: raw}}
colorspaces:
  - !<ColorSpace>
    name: raw
    isdata: true
  - !<ColorSpace>
    name: lin
  - !<ColorSpace>
    name: sRGB Encoded Rec.709 (sRGB)
    from_scene_reference: !<FileTransform> {{src: {lut_src}}}
"""


@pytest.fixture()
def ocio_dirs(tmp_path, monkeypatch):
    """An allowed folder with a good config, a planted one spelling $VH_SECRET into a LUT path (a LUT of that
    name exists, so expanding the variable would make it load), one with a missing LUT, and a good config
    outside the folder."""
    allowed, outside = tmp_path / "allowed", tmp_path / "outside"
    allowed.mkdir()
    outside.mkdir()
    for folder in (allowed, outside):
        (folder / "good.cube").write_text(_LUT)
        (folder / "topsecret-value.cube").write_text(_LUT)
        (folder / "good.ocio").write_text(_config("good.cube"))
        (folder / "planted.ocio").write_text(_config("$VH_SECRET.cube"))
        (folder / "declared.ocio").write_text(_config("$VH_SECRET.cube", "environment:\n  VH_SECRET: good"))
    (allowed / "missing-lut.ocio").write_text(_config("no-such.cube"))
    (allowed / "link.ocio").symlink_to(outside / "good.ocio")
    monkeypatch.setenv("VH_SECRET", "topsecret-value")
    return allowed, outside


def test_clients_cannot_make_the_server_open_a_path(ocio_dirs):
    allowed, outside = ocio_dirs
    r = create_server("127.0.0.1:0", ServerOptions(models=["stats"], ocio_dirs=[str(allowed)]))
    try:
        with grpc.insecure_channel(f"127.0.0.1:{r.port}") as ch:
            stub = pb_grpc.HarmonizerStub(ch)

            def with_config(config: str, colorspace: str = "lin"):
                return call(
                    stub,
                    [header(model="stats", ocio_config=config, colorspace=colorspace), *frame_requests(0)],
                )

            refused = {}
            for config in (
                "/etc/shadow",
                "/proc/self/environ",
                "/root/.bashrc",
                "/no/such/file.ocio",
                "../outside/good.ocio",
                "../../../../etc/passwd",
                str(outside / "planted.ocio"),
                "link.ocio",
                str(allowed),
                "allowed/../../outside/good.ocio",
            ):
                code, message = with_config(config)
                assert code == INVALID and one_line(message), (config, code, message)
                refused[config] = message.replace(repr(config), "<config>")
            # one message, whatever the file: nothing tells which paths exist or are readable
            assert len(set(refused.values())) == 1, refused
            assert "not one this server offers" in next(iter(refused.values()))
            for message in refused.values():
                assert "root:" not in message and "PATH=" not in message

            # the planted config's $VH_SECRET is not expanded (it would name an existing LUT and load), its
            # declared default is, and nothing of the secret comes back
            code, message = with_config("planted.ocio")
            assert code == INVALID and "topsecret" not in message and str(allowed) not in message, message
            assert with_config("declared.ocio") == (grpc.StatusCode.OK, "")
            # a LUT that is missing: INVALID_ARGUMENT (was INTERNAL), without the path it looked for
            code, message = with_config("missing-lut.ocio")
            assert code == INVALID and "no-such" not in message and str(allowed) not in message, message
            # what a client may name: configs in the allowed folder, by name or absolute path, and built-ins
            assert with_config("good.ocio") == (grpc.StatusCode.OK, "")
            assert with_config(str(allowed / "good.ocio")) == (grpc.StatusCode.OK, "")
            assert with_config("ocio://cg-config-v2.2.0_aces-v1.3_ocio-v2.4", "ACEScg") == (
                grpc.StatusCode.OK,
                "",
            )
            assert with_config("", "ACEScg") == (grpc.StatusCode.OK, "")
    finally:
        r.stop(grace=0.5)


def test_a_server_without_ocio_dirs_refuses_every_config_path(running, stub, tmp_path):
    (tmp_path / "good.cube").write_text(_LUT)
    (tmp_path / "good.ocio").write_text(_config("good.cube"))
    code, message = call(
        stub,
        [
            header(model="stats", ocio_config=str(tmp_path / "good.ocio"), colorspace="lin"),
            *frame_requests(0),
        ],
    )
    assert code == INVALID and "not one this server offers" in message, message


# ------------------------------------------------------------------------------------------------------------
# Authentication against the lock-out


def test_unauthenticated_watch_streams_cannot_lock_out_token_holders():
    """max_clients + 8 (and more) health Watch streams without a token used to take every RPC gRPC allows;
    token holders then got RESOURCE_EXHAUSTED "Concurrent RPC limit exceeded!" for everything."""
    max_clients = 2
    r = create_server("127.0.0.1:0", ServerOptions(models=["cut"], token=TOKEN, max_clients=max_clients))
    address = f"127.0.0.1:{r.port}"
    auth = (("authorization", f"Bearer {TOKEN}"),)
    attackers = []
    try:
        with grpc.insecure_channel(address) as ch:
            health = health_pb2_grpc.HealthStub(ch)
            opened = []
            for _ in range(max_clients + 8 + HealthService.MAX_WATCHERS + 4):
                watch = health.Watch(health_pb2.HealthCheckRequest(), timeout=60)
                attackers.append(watch)
                try:
                    opened.append(next(watch).status)
                except grpc.RpcError as exc:
                    assert exc.code() == grpc.StatusCode.UNAUTHENTICATED, exc
            assert not opened  # no Watch without the token
            # authenticated watchers are capped, so even token holders cannot take the streams' threads with
            # them
            watchers = [
                health.Watch(health_pb2.HealthCheckRequest(), timeout=60, metadata=auth)
                for _ in range(HealthService.MAX_WATCHERS)
            ]
            attackers += watchers
            assert all(next(w).status == health_pb2.HealthCheckResponse.SERVING for w in watchers)
            extra = health.Watch(health_pb2.HealthCheckRequest(), timeout=60, metadata=auth)
            with pytest.raises(grpc.RpcError) as err:
                next(extra)
            assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and "Watch" in err.value.details()

            # what a token holder needs still works: Harmonize at full concurrency, GetInfo and Check
            assert (
                health.Check(health_pb2.HealthCheckRequest(), timeout=10).status
                == health_pb2.HealthCheckResponse.SERVING
            )
            frames, mattes = clip(2, 32, 48, channels=3, dtype=np.float32)
            with Client(address, token=TOKEN, timeout=60, retry=RetryPolicy(attempts=1)) as good:
                assert good.info().default_model == "cut"
                with ThreadPoolExecutor(max_clients) as pool:
                    jobs = [
                        pool.submit(lambda: len(list(good.harmonize(frames, mattes, colorspace="ACEScg"))))
                        for _ in range(max_clients)
                    ]
                    assert [j.result(timeout=60) for j in jobs] == [2] * max_clients
    finally:
        for a in attackers:
            a.cancel()
        r.stop(grace=0.5)


# ------------------------------------------------------------------------------------------------------------
# Deadlines


def _hold(stub, first: list[pb.HarmonizeRequest], release: threading.Event, results: list, read: bool = True):
    """A stream that sends `first` and then nothing until `release` (an idle client); its status goes to
    results."""

    def requests():
        yield from first
        release.wait(60)

    def run():
        call_ = stub.Harmonize(requests(), timeout=60)
        try:
            if not read:  # a client that takes no results until released
                release.wait(60)
            for _ in call_:
                pass
            results.append((call_.code(), call_.details()))
        except grpc.RpcError as exc:
            results.append((exc.code(), exc.details()))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_idle_streams_free_their_slots_and_a_real_client_gets_in():
    r = create_server(
        "127.0.0.1:0", ServerOptions(models=["cut"], max_clients=3, header_timeout=1.0, idle_timeout=2.0)
    )
    release = threading.Event()
    results: list = []
    try:
        with grpc.insecure_channel(f"127.0.0.1:{r.port}") as ch:
            stub = pb_grpc.HarmonizerStub(ch)
            big = 256  # frames large enough that unread results fill the flow-control window
            holders = [
                _hold(stub, [], release, results),  # sends nothing at all
                _hold(stub, [header()], release, results),  # only a header
                _hold(
                    stub,
                    [header(width=big, height=big, channels=4)]
                    + [m for i in range(12) for m in frame_requests(i, big, big, 4, fill=0.25 + i)],
                    release,
                    results,
                    read=False,
                ),  # sends frames but never takes the results
            ]
            deadline = time.monotonic() + 2
            while r.service.slots.active < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert r.service.slots.active == 3
            frames, mattes = clip(1, 32, 48, channels=3, dtype=np.float32)
            with Client(f"127.0.0.1:{r.port}", retry=RetryPolicy(attempts=1), timeout=30) as good:
                from vh.client.remote import ServerBusy

                with pytest.raises(ServerBusy):  # every slot is held by an idle stream
                    list(good.harmonize(frames, mattes, colorspace="ACEScg"))
                started = time.monotonic()
                while r.service.slots.active and time.monotonic() - started < 10:
                    time.sleep(0.05)
                assert r.service.slots.active == 0, "the idle streams still hold their slots"
                assert time.monotonic() - started < 4  # header 1 s, idle 2 s, and the watch's 0.5 s tick
                assert len(list(good.harmonize(frames, mattes, colorspace="ACEScg"))) == 1
            release.set()
            for holder in holders:
                holder.join(15)
        codes = sorted((c.name, d) for c, d in results)
        assert [c for c, _ in codes].count("DEADLINE_EXCEEDED") == 2, codes
        messages = " | ".join(d for _, d in codes)
        assert "no StreamHeader within 1 s" in messages and "no data from the client for 2 s" in messages, (
            codes
        )
        assert "CANCELLED" in [c for c, _ in codes], codes  # the one that took no results
    finally:
        release.set()
        r.stop(grace=0.5)


# ------------------------------------------------------------------------------------------------------------
# Memory


def big_frame_attack(port: int, megabytes: int = 600, metadata=()) -> tuple[grpc.StatusCode, str]:
    """A header declaring a 2 GiB frame (8192 x 8192 x 8 float32), then up to `megabytes` of its chunks."""
    chunk = bytes(3 << 20)

    def requests():
        yield header(width=8192, height=8192, channels=8)
        for i in range(megabytes // 3):
            yield pb.HarmonizeRequest(
                chunk=pb.Chunk(frame_index=0, plane=pb.PLANE_IMAGE, offset=i * len(chunk), data=chunk)
            )

    with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
        return call(pb_grpc.HarmonizerStub(ch), requests(), metadata=metadata, timeout=120)


def test_a_2gib_frame_is_refused_before_anything_is_allocated_and_rss_stays_flat():
    proc, port = start_subprocess_server(["--device", "cpu", "--model", "cut", "--log-level", "WARNING"])
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:  # a first stream: the server's steady state
            assert call(pb_grpc.HarmonizerStub(ch), [header(), *frame_requests(0)])[0] == grpc.StatusCode.OK
        before, peak_before = rss_mb(proc.pid), rss_mb(proc.pid, "VmHWM")
        code, message = big_frame_attack(port)
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and one_line(message), (code, message)
        assert "GiB of server memory" in message and "per stream" in message, message
        assert rss_mb(proc.pid, "VmHWM") - max(before, peak_before) < 100  # peak growth, not just after
        for _ in range(10):
            assert big_frame_attack(port, megabytes=60)[0] == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert rss_mb(proc.pid) - before < 30, (before, rss_mb(proc.pid))
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_a_refused_stream_gives_its_memory_back_at_once():
    """A stream refused after it sent a 320 MB frame (a NaN in its last chunk): its buffers and messages are
    freed as the call ends, not when the garbage collector next finds a reference cycle."""
    proc, port = start_subprocess_server(["--device", "cpu", "--model", "cut", "--log-level", "WARNING"])
    try:
        frames, mattes = clip(1, 4096, 4096, channels=4, dtype=np.float32)
        frames[0][-1, -1, 0] = np.nan
        with Client(f"127.0.0.1:{port}", retry=RetryPolicy(attempts=1), timeout=120) as client:
            from vh.client.remote import InvalidRequest

            with pytest.raises(InvalidRequest):  # warm-up: the interpreter's and allocator's own growth
                list(client.harmonize(frames, mattes, colorspace="ACEScg"))
            before = rss_mb(proc.pid)
            for _ in range(3):
                with pytest.raises(InvalidRequest, match="NaN"):
                    list(client.harmonize(frames, mattes, colorspace="ACEScg"))
                time.sleep(0.5)
                assert rss_mb(proc.pid) - before < 100, (before, rss_mb(proc.pid))
    finally:
        proc.kill()
        proc.communicate(timeout=30)


def test_the_server_wide_budget_refuses_with_the_numbers_and_frees_on_exit():
    from vh.server.service import stream_bytes

    r = create_server(
        "127.0.0.1:0",
        ServerOptions(
            models=["cut"], max_clients=4, memory_budget=3 << 29, stream_memory=1 << 30, idle_timeout=30
        ),
    )
    release = threading.Event()
    results: list = []
    try:
        engine = r.service.pool.models["cut"].engine
        size = 2048
        need = stream_bytes(
            wire.Geometry(size, size, 4, np.dtype("<f4"), "ACEScg"), True, engine, r.service.config.limits
        )
        assert (1 << 30) * 0.75 < need < 1 << 30  # one fits the 1.5 GiB budget, two do not
        with grpc.insecure_channel(f"127.0.0.1:{r.port}") as ch:
            stub = pb_grpc.HarmonizerStub(ch)
            holder = _hold(stub, [header(width=size, height=size, channels=4)], release, results)
            deadline = time.monotonic() + 5
            while not r.service.memory.streams and time.monotonic() < deadline:
                time.sleep(0.05)
            code, message = call(
                stub, [header(width=size, height=size, channels=4), *frame_requests(0, size, size, 4)]
            )
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and one_line(message), (code, message)
            assert (
                "server memory is busy" in message
                and "1 streams hold" in message
                and "of 1.50 GiB" in message
            )
            release.set()
            holder.join(30)
            code, message = call(
                stub, [header(width=size, height=size, channels=4), *frame_requests(0, size, size, 4)]
            )
            assert code == grpc.StatusCode.OK, message
            assert r.service.memory.reserved == 0 and r.service.memory.streams == 0
    finally:
        release.set()
        r.stop(grace=0.5)


# ------------------------------------------------------------------------------------------------------------
# Shutdown


def test_sigterm_exits_0_within_grace_plus_2_s_in_every_scenario():
    """In a loop, since the hang it guards against came about 1 run in 4: undecodable requests before the
    signal, and at the signal a stream that sends nothing, one that takes no results, one mid-frame and a
    health Watch."""
    grace = 1.0
    for run in range(6):
        proc, port = start_subprocess_server(
            ["--device", "cpu", "--model", "cut", "--grace", str(grace), "--log-level", "WARNING"]
        )
        release = threading.Event()
        results: list = []
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as ch:
                for garbage in (
                    [b"\xff\xff\xff"],
                    [b"\x0a\x03\xff\xfe\xfd"],
                    [header().SerializeToString(), b"\x12"],
                ):
                    assert raw_call(ch, "/vh.server.v1.Harmonizer/Harmonize", garbage)[0] == INVALID
                stub = pb_grpc.HarmonizerStub(ch)
                big = 256
                scenarios = [
                    [],
                    [header(), *frame_requests(0)[:1]],
                    [
                        header(width=big, height=big, channels=4),
                        *[m for i in range(12) for m in frame_requests(i, big, big, 4, fill=0.25 + i)],
                    ],
                ]
                holders = [
                    _hold(stub, s, release, results, read=i != 2)
                    for i, s in enumerate(scenarios[: run % 3 + 1])
                ]
                watch = health_pb2_grpc.HealthStub(ch).Watch(health_pb2.HealthCheckRequest(), timeout=60)
                assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
                time.sleep(0.5)
                started = time.monotonic()
                proc.send_signal(signal.SIGTERM)
                try:
                    code = proc.wait(timeout=grace + 2)
                except Exception:  # noqa: BLE001 - reported below with the run number
                    code = None
                took = time.monotonic() - started
                assert code == 0 and took < grace + 2, (run, code, took)
                release.set()
                watch.cancel()
                for holder in holders:
                    holder.join(10)
        finally:
            release.set()
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate(timeout=30)
            assert "Traceback" not in err, err[-3000:]


_FROZEN_CLIENT = """
import sys, time, grpc
from vh.client.v1 import harmonize_pb2 as pb, harmonize_pb2_grpc as pb_grpc
from tests.server.test_misuse import header, frame_requests

def requests():
    yield header()
    yield frame_requests(0)[0]
    print("streaming", flush=True)
    time.sleep(600)

with grpc.insecure_channel(sys.argv[1]) as ch:
    for _ in pb_grpc.HarmonizerStub(ch).Harmonize(requests(), timeout=600):
        pass
"""


def test_keepalive_frees_the_slot_of_a_client_that_froze():
    """A client host that hangs (here: SIGSTOP) keeps its TCP connection up, so only keepalive pings tell; the
    idle timeout is set far away to show that keepalive alone frees the slot."""
    import subprocess
    import sys

    proc, port = start_subprocess_server(
        [
            "--device",
            "cpu",
            "--model",
            "cut",
            "--max-clients",
            "1",
            "--keepalive",
            "1",
            "--idle-timeout",
            "600",
            "--log-level",
            "WARNING",
        ]
    )
    frozen = subprocess.Popen(
        [sys.executable, "-c", _FROZEN_CLIENT, f"127.0.0.1:{port}"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert frozen.stdout.readline().strip() == "streaming"
        frozen.send_signal(signal.SIGSTOP)
        frames, mattes = clip(1, 32, 48, channels=3, dtype=np.float32)
        outcomes = []
        with Client(f"127.0.0.1:{port}", retry=RetryPolicy(attempts=1), timeout=30) as good:
            started = time.monotonic()
            while time.monotonic() - started < 15:  # bounded: keepalive 1 s + its 1 s timeout, with slack
                try:
                    outcomes.append(len(list(good.harmonize(frames, mattes, colorspace="ACEScg"))))
                    break
                except Exception as exc:  # noqa: BLE001 - ServerBusy while the frozen client holds the slot
                    outcomes.append(type(exc).__name__)
                    time.sleep(0.5)
        assert outcomes[0] == "ServerBusy" and outcomes[-1] == 1, outcomes
    finally:
        frozen.send_signal(signal.SIGCONT)
        frozen.kill()
        frozen.communicate(timeout=30)
        proc.kill()
        proc.communicate(timeout=30)
