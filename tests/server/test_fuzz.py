"""Malformed Harmonize streams get the right status and a readable one-line message; the server keeps
serving."""

from __future__ import annotations

import math

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vh.client import wire
from vh.client.v1 import harmonize_pb2 as pb
from vh.client.v1 import harmonize_pb2_grpc as pb_grpc
from vh.server.serve import ServerOptions, create_server

W, H, C = 8, 6, 3
LIMIT = 256
INVALID, NOT_FOUND, EXHAUSTED, PRECONDITION = (
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.FAILED_PRECONDITION,
)


@pytest.fixture(scope="module")
def stub():
    running = create_server(
        "127.0.0.1:0",
        ServerOptions(models=["cut"], max_clients=4, limits=wire.Limits(max_width=LIMIT, max_height=LIMIT)),
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield pb_grpc.HarmonizerStub(channel)
    channel.close()
    running.stop(grace=0.5)


def _header(**fmt) -> pb.StreamHeader:
    f = {"width": W, "height": H, "channels": C, "dtype": pb.DTYPE_FLOAT32, "colorspace": "ACEScg"} | fmt
    return pb.StreamHeader(model="cut", format=pb.FrameFormat(**f), matte_source=pb.MATTE_SEPARATE)


def _valid_requests(frames: int = 2, chunk_bytes: int = 64) -> list[pb.HarmonizeRequest]:
    rng = np.random.default_rng(0)
    out = [pb.HarmonizeRequest(header=_header())]
    for i in range(frames):
        image = rng.random((H, W, C), dtype=np.float32)
        matte = np.zeros((H, W), np.float32)
        if i == frames - 1:  # frame 0 has an empty matte, which the engine passes through at no cost
            matte[2:4, 3:6] = 1.0
        out += [
            pb.HarmonizeRequest(chunk=c.to_proto())
            for c in wire.encode_frame(i, image, matte, np.dtype("<f4"), chunk_bytes)
        ]
    return out


VALID = _valid_requests()
CHUNKS = len(VALID) - 1


def _call(stub, requests) -> tuple[grpc.StatusCode, str]:
    try:
        for _ in stub.Harmonize(iter(requests), timeout=30):
            pass
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def _with_chunk(requests, i, **changes):
    out = list(requests)
    chunk = pb.Chunk()
    chunk.CopyFrom(out[i].chunk)
    for k, v in changes.items():
        setattr(chunk, k, v)
    out[i] = pb.HarmonizeRequest(chunk=chunk)
    return out


def _with_header(**changes):
    header = pb.StreamHeader()
    header.CopyFrom(VALID[0].header)
    for k, v in changes.items():
        if k in ("width", "height", "channels", "dtype", "colorspace"):
            setattr(header.format, k, v)
        elif k == "options":
            for key, value in v.items():
                header.options[key].CopyFrom(wire.option_to_proto(value))
        else:
            setattr(header, k, v)
    return [pb.HarmonizeRequest(header=header)] + VALID[1:]


# Each strategy yields (requests, expected status codes): one kind of damage at a time.
chunk_index = st.integers(1, CHUNKS)
cases = st.one_of(
    st.just((VALID[1:], {INVALID})),  # no header
    st.just(([], {INVALID})),  # nothing at all
    st.text(min_size=1, max_size=20).map(lambda s: (_with_header(model="zz" + s), {NOT_FOUND})),
    st.integers(3, 1000).map(lambda d: (_with_header(dtype=d), {INVALID})),
    st.sampled_from(["width", "height"]).map(lambda k: (_with_header(**{k: 0}), {INVALID})),
    st.tuples(st.sampled_from(["width", "height"]), st.integers(LIMIT + 1, 2**31)).map(
        lambda kv: (_with_header(**{kv[0]: kv[1]}), {EXHAUSTED})
    ),
    st.integers(17, 10_000).map(lambda c: (_with_header(channels=c), {EXHAUSTED})),
    st.integers(0, 2).map(lambda c: (_with_header(channels=c), {INVALID})),
    st.integers(4, 16).map(
        lambda c: (_with_header(channels=c), {INVALID})
    ),  # data no longer matches the size
    st.text(max_size=10).map(lambda s: (_with_header(colorspace="zz-" + s), {INVALID})),
    st.integers(4, 1000).map(lambda m: (_with_header(matte_source=m), {INVALID})),
    st.just((_with_header(matte_source=pb.MATTE_SOURCE_UNSPECIFIED), {INVALID})),
    st.just((_with_header(matte_source=pb.MATTE_ALPHA), {INVALID})),  # RGB has no alpha
    st.just((_with_header(matte_source=pb.MATTE_AUTO), {PRECONDITION})),  # cut cannot predict a matte
    st.floats(width=32)
    .filter(lambda x: math.isnan(x) or not 0 <= x <= 1)
    .map(  # strength is a proto float
        lambda x: (_with_header(strength=x), {INVALID})
    ),
    st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.floats(), st.integers(-(2**63), 2**63 - 1), st.booleans(), st.text()),
        min_size=1,
        max_size=3,
    ).map(lambda o: (_with_header(options=o), {INVALID})),
    # truncated: the stream ends inside a frame
    st.integers(1, CHUNKS - 1).map(lambda n: (VALID[: 1 + n] if n % (CHUNKS // 2) else VALID[:n], {INVALID})),
    st.tuples(chunk_index, st.integers(1, 63)).map(
        lambda t: (_with_chunk(VALID, t[0], data=VALID[t[0]].chunk.data[: -t[1]]), {INVALID})
    ),
    st.tuples(chunk_index, st.binary(min_size=1, max_size=200)).map(
        lambda t: (_with_chunk(VALID, t[0], data=VALID[t[0]].chunk.data + t[1]), {INVALID})
    ),
    st.tuples(chunk_index, st.integers(0, 2**40))
    .filter(lambda t: t[1] != VALID[t[0]].chunk.offset)
    .map(lambda t: (_with_chunk(VALID, t[0], offset=t[1]), {INVALID})),
    st.tuples(chunk_index, st.integers(0, 2**40))
    .filter(lambda t: t[1] != VALID[t[0]].chunk.frame_index)
    .map(lambda t: (_with_chunk(VALID, t[0], frame_index=t[1]), {INVALID})),
    st.tuples(chunk_index, st.sampled_from([0, 3, 99])).map(
        lambda t: (_with_chunk(VALID, t[0], plane=t[1]), {INVALID})
    ),
    st.tuples(chunk_index, st.sampled_from([np.nan, np.inf, -np.inf]), st.integers(0, 15)).map(
        lambda t: (_with_chunk(VALID, t[0], data=_poison(VALID[t[0]].chunk.data, t[1], t[2])), {INVALID})
    ),
    st.integers(1, CHUNKS).map(lambda i: (VALID[:i] + [VALID[0]] + VALID[i:], {INVALID})),  # a second header
    st.just(
        ([pb.HarmonizeRequest(header=_header(dtype=pb.DTYPE_FLOAT16))] + VALID[1:], {INVALID})
    ),  # f32 bytes
    st.just(
        ([pb.HarmonizeRequest(header=_header(width=W + 1))] + VALID[1:], {INVALID})
    ),  # matte/frame mismatch
    st.just(([pb.HarmonizeRequest()] + VALID[1:], {INVALID})),  # an empty oneof
)


def _poison(data: bytes, value: float, where: int) -> bytes:
    samples = np.frombuffer(data, "<f4").copy()
    samples[where % len(samples)] = value
    return samples.tobytes()


def _check(stub, requests, expected) -> None:
    code, message = _call(stub, requests)
    assert code in expected, (code, message)
    assert message and "\n" not in message and len(message) < 400, message
    assert "Traceback" not in message and "Exception" not in message


@settings(max_examples=1000, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(case=cases)
def test_malformed_streams_get_the_right_status(stub, case):
    requests, expected = case
    _check(stub, requests, expected)


def test_server_still_serves_after_the_fuzzing(stub):
    assert _call(stub, VALID) == (grpc.StatusCode.OK, "")
    info = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
    assert info.limits.max_width == LIMIT


@pytest.mark.slow
@settings(max_examples=5000, deadline=None, suppress_health_check=list(HealthCheck))
@given(case=cases)
def test_malformed_streams_heavy(stub, case):
    requests, expected = case
    _check(stub, requests, expected)


# Byte-level damage: what protobuf itself must judge. Every message a raw client may put on the wire, garbage
# included, gets a status a compositor can read (INVALID_ARGUMENT for what does not decode), never INTERNAL.
VALID_BYTES = [m.SerializeToString() for m in VALID]


def _raw_call(channel, messages: list[bytes]) -> tuple[grpc.StatusCode, str]:
    ident = lambda b: b  # noqa: E731
    try:
        for _ in channel.stream_stream(
            wire.HARMONIZE_METHOD, request_serializer=ident, response_deserializer=ident
        )(iter(messages), timeout=30):
            pass
    except grpc.RpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


def _bad_utf8(text: bytes) -> bytes:
    """The header with its model name's bytes replaced by `text` (not valid UTF-8), lengths fixed up."""
    header = pb.StreamHeader()
    header.CopyFrom(VALID[0].header)
    header.model = "\x01"  # a marker of one byte, found and replaced below
    raw = header.SerializeToString()
    raw = raw.replace(b"\x0a\x01\x01", b"\x0a" + bytes([len(text)]) + text, 1)
    assert len(raw) < 0x80  # its length fits one varint byte
    return b"\x0a" + bytes([len(raw)]) + raw


invalid_utf8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28", b"ok\xe2\x82"])
raw_cases = st.one_of(
    st.binary(min_size=1, max_size=64).map(lambda b: [b]),  # garbage instead of a header
    st.tuples(chunk_index, st.binary(min_size=1, max_size=64)).map(  # garbage instead of a chunk
        lambda t: VALID_BYTES[: t[0]] + [t[1]] + VALID_BYTES[t[0] + 1 :]
    ),
    st.tuples(st.integers(0, CHUNKS), st.integers(1, 8)).map(  # a message cut short
        lambda t: VALID_BYTES[: t[0]] + [VALID_BYTES[t[0]][: -t[1]]]
    ),
    invalid_utf8.map(lambda b: [_bad_utf8(b)] + VALID_BYTES[1:]),  # invalid UTF-8 in a string field
)


@pytest.fixture(scope="module")
def raw_channel():
    running = create_server(
        "127.0.0.1:0",
        ServerOptions(models=["cut"], max_clients=4, limits=wire.Limits(max_width=LIMIT, max_height=LIMIT)),
    )
    channel = grpc.insecure_channel(f"127.0.0.1:{running.port}")
    yield channel
    channel.close()
    running.stop(grace=0.5)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(messages=raw_cases)
def test_byte_level_garbage_and_invalid_utf8_get_a_readable_status(raw_channel, messages):
    code, message = _raw_call(raw_channel, messages)
    # garbage may decode by chance into some valid message (a header with odd fields, a chunk): then the
    # stream's own checks answer; whatever happens, never INTERNAL and never protobuf's own words
    assert code in {INVALID, NOT_FOUND, EXHAUSTED, PRECONDITION, grpc.StatusCode.OK}, (
        code,
        message,
        messages[:2],
    )
    assert code == grpc.StatusCode.OK or (message and "\n" not in message and len(message) < 400), message
    assert "Exception" not in message and "Traceback" not in message, message


def test_invalid_utf8_in_each_string_field_is_invalid_argument(raw_channel):
    for bad in (b"\xff", b"\xc3\x28", b"ok\xe2\x82"):
        code, message = _raw_call(raw_channel, [_bad_utf8(bad)] + VALID_BYTES[1:])
        assert code == INVALID and "not valid protobuf" in message and "UTF-8" in message, (
            bad,
            code,
            message,
        )
    assert _raw_call(raw_channel, VALID_BYTES) == (grpc.StatusCode.OK, "")
