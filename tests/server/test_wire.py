"""vh.client.wire: the frame contract, chunking and reassembly, without a server."""

from __future__ import annotations

import numpy as np
import pytest

from vh.client import wire
from vh.client.v1 import harmonize_pb2 as pb
from vh.core.errors import InputError, ResourceError


def _geometry(w=5, h=3, c=4, dtype=pb.DTYPE_FLOAT16, limits: wire.Limits | None = None):
    limits = limits or wire.Limits()
    return wire.geometry_from_proto(
        pb.FrameFormat(width=w, height=h, channels=c, dtype=dtype, colorspace="ACEScg"), limits
    )


@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("chunk_bytes", [1, 7, 64, 1 << 20])
def test_chunks_round_trip_bit_exact(dtype, chunk_bytes):
    rng = np.random.default_rng(0)
    image = (rng.standard_normal((3, 5, 4)) * 10).astype(dtype)
    image[0, 0, 0] = -0.0  # the sign of zero survives too
    matte = rng.random((3, 5)).astype(dtype)
    geometry = _geometry(dtype=wire.dtype_to_proto(dtype))
    assembler = wire.FrameAssembler(geometry, with_matte=True)
    chunks = list(wire.encode_frame(0, image, matte, np.dtype(dtype), chunk_bytes))
    assert all(len(c.data) <= chunk_bytes for c in chunks)
    results = [assembler.add(c) for c in chunks]
    assert all(r is None for r in results[:-1])
    frame = results[-1]
    assert frame.index == 0 and assembler.next_index == 1 and not assembler.pending
    assert frame.read(pb.PLANE_IMAGE).tobytes() == image.tobytes()
    assert frame.read(pb.PLANE_MATTE).tobytes() == matte.tobytes()
    # converted on the way, chunk by chunk (or joined first where a chunk splits a value: chunk_bytes 1 and 7)
    wide = frame.read(pb.PLANE_IMAGE, np.empty(image.shape, np.float64))
    np.testing.assert_array_equal(wide, image.astype(np.float64))
    assembler.finish()


def test_layout_is_row_major_hwc_top_left():
    image = np.arange(3 * 5 * 4, dtype=np.float32).reshape(3, 5, 4)
    data = b"".join(c.data for c in wire.encode_plane(0, image, pb.PLANE_IMAGE, 1 << 20))
    flat = np.frombuffer(data, "<f4")
    y, x, c = 2, 3, 1  # the sample of row 2 (from the top), column 3, channel G
    assert flat[(y * 5 + x) * 4 + c] == image[y, x, c]


def test_out_of_order_and_overlapping_chunks_are_rejected():
    geometry = _geometry()
    image = np.zeros((3, 5, 4), np.float16)
    chunks = list(wire.encode_plane(0, image, pb.PLANE_IMAGE, 32))
    a = wire.FrameAssembler(geometry, with_matte=False)
    with pytest.raises(InputError, match="in order"):
        a.add(chunks[1])
    a = wire.FrameAssembler(geometry, with_matte=False)
    a.add(chunks[0])
    with pytest.raises(InputError, match="chunk at byte 0"):
        a.add(chunks[0])
    a = wire.FrameAssembler(geometry, with_matte=False)
    with pytest.raises(InputError, match="frame 3 arrived while frame 0"):
        a.add(pb.Chunk(frame_index=3, plane=pb.PLANE_IMAGE, offset=0, data=b"\0\0"))


def test_oversized_truncated_and_unexpected_planes():
    geometry = _geometry()
    a = wire.FrameAssembler(geometry, with_matte=False)
    with pytest.raises(InputError, match="does not match the header"):
        a.add(
            pb.Chunk(frame_index=0, plane=pb.PLANE_IMAGE, offset=0, data=b"\0" * (geometry.image_bytes + 2))
        )
    a = wire.FrameAssembler(geometry, with_matte=False)
    a.add(pb.Chunk(frame_index=0, plane=pb.PLANE_IMAGE, offset=0, data=b"\0" * 10))
    with pytest.raises(InputError, match="truncated"):
        a.finish()
    with pytest.raises(InputError, match="MATTE_SEPARATE"):
        wire.FrameAssembler(geometry, with_matte=False).add(
            pb.Chunk(frame_index=0, plane=pb.PLANE_MATTE, offset=0, data=b"\0\0")
        )
    with pytest.raises(InputError, match="empty chunk"):
        wire.FrameAssembler(geometry, with_matte=False).add(pb.Chunk(frame_index=0, plane=pb.PLANE_IMAGE))


def test_format_validation_messages():
    with pytest.raises(InputError, match="float16 or float32"):
        _geometry(dtype=pb.DTYPE_UNSPECIFIED)
    with pytest.raises(InputError, match="empty"):
        _geometry(w=0)
    with pytest.raises(InputError, match="at least 3 channels"):
        _geometry(c=2)
    with pytest.raises(ResourceError, match="over this server's limit of 64x64"):
        _geometry(w=65, limits=wire.Limits(max_width=64, max_height=64))
    with pytest.raises(InputError, match="colourspace"):
        wire.geometry_from_proto(
            pb.FrameFormat(width=1, height=1, channels=3, dtype=pb.DTYPE_FLOAT32), wire.Limits()
        )
    assert _geometry().image_bytes == 3 * 5 * 4 * 2


@pytest.mark.parametrize("value", [1.5, 3, True, "lab"])
def test_option_values_keep_their_type(value):
    back = wire.option_from_proto(wire.option_to_proto(value))
    assert back == value and type(back) is type(value)


def test_dtype_names():
    assert wire.dtype_to_proto(np.float16) == pb.DTYPE_FLOAT16
    assert wire.dtype_to_proto(">f4") == pb.DTYPE_FLOAT32  # big-endian input is sent as little-endian float32
    with pytest.raises(InputError, match="float16 or float32"):
        wire.dtype_to_proto(np.uint8)


def test_read_checks_its_target():
    geometry = _geometry()
    a = wire.FrameAssembler(geometry, with_matte=False)
    *_, frame = (a.add(c) for c in wire.encode_plane(0, np.ones((3, 5, 4), np.float16), pb.PLANE_IMAGE))
    with pytest.raises(ValueError, match="C-contiguous"):
        frame.read(pb.PLANE_IMAGE, np.empty((3, 5, 3), np.float32))
    with pytest.raises(ValueError, match="C-contiguous"):
        frame.read(pb.PLANE_IMAGE, np.empty((3, 5, 8), np.float32)[..., ::2])
    assert pb.PLANE_MATTE not in frame.planes


# ---------------------------------------------------------------------------------------------------------- #
# Chunks through the generated classes, read out of their messages once


@pytest.mark.parametrize(
    "fields",
    [
        (0, pb.PLANE_IMAGE, 0, b"\x01\x02"),
        (7, pb.PLANE_MATTE, 3 << 20, b"\x00" * 300),  # multi-byte varints
        (2**64 - 1, 2**31 - 1, 2**64 - 1, b"x"),  # the largest values
        (0, pb.PLANE_UNSPECIFIED, 0, b""),  # every field at its default: an empty chunk
    ],
)
def test_chunks_round_trip_through_protobuf(fields):
    index, plane, offset, data = fields
    view = wire.ChunkView(index, plane, offset, memoryview(data))
    proto = pb.Chunk(frame_index=index, plane=plane, offset=offset, data=data)
    raw = wire.serialize_request(view)
    assert raw == pb.HarmonizeRequest(chunk=proto).SerializeToString()
    assert wire.serialize_response(view) == pb.HarmonizeResponse(chunk=proto).SerializeToString()
    for decode in (wire.decode_request, wire.decode_response):  # chunk is field 2 in both
        back = decode(raw)
        assert back == wire.ChunkView(index, plane, offset, data) and bytes(back.data) == data


def test_decoder_leaves_other_forms_to_protobuf():
    chunk = pb.Chunk(frame_index=1, plane=pb.PLANE_IMAGE, offset=4, data=b"abcd")
    canonical = pb.HarmonizeRequest(chunk=chunk).SerializeToString()
    body = canonical[2:]
    reordered = b"\x12" + bytes([len(body)]) + body[-6:] + body[:-6]  # data first, then the numbers
    twice = canonical + pb.HarmonizeRequest(chunk=pb.Chunk(offset=8)).SerializeToString()  # protobuf merges
    explicit_zero = b"\x12" + bytes([len(body) + 2]) + b"\x08\x00" + body  # frame_index written as 0...
    for raw in (reordered, twice, explicit_zero):
        back = wire.decode_request(raw)
        parsed = pb.HarmonizeRequest.FromString(raw).chunk
        assert back == wire.ChunkView(parsed.frame_index, parsed.plane, parsed.offset, parsed.data)
    header = pb.HarmonizeRequest(header=pb.StreamHeader(model="cut"))
    assert wire.decode_request(header.SerializeToString()) == header
    assert (
        wire.decode_request(b"") == pb.HarmonizeRequest()
    )  # an empty oneof stays a message for the server to refuse
    accepted = pb.HarmonizeResponse(accepted=pb.StreamAccepted(model="cut"))
    assert wire.decode_response(accepted.SerializeToString()) == accepted


def test_decoder_agrees_with_protobuf_on_arbitrary_bytes():
    from google.protobuf.message import DecodeError
    from hypothesis import given, settings
    from hypothesis import strategies as st

    canonical = pb.HarmonizeRequest(
        chunk=pb.Chunk(frame_index=3, plane=1, offset=9, data=b"pix")
    ).SerializeToString()

    @settings(max_examples=500, deadline=None)
    @given(
        st.one_of(
            st.binary(max_size=40),
            st.tuples(st.integers(0, len(canonical) - 1), st.integers(0, 255)).map(
                lambda t: canonical[: t[0]] + bytes([t[1]]) + canonical[t[0] + 1 :]
            ),
            st.integers(1, len(canonical)).map(lambda n: canonical[:n]),
        )
    )
    def check(raw):
        try:
            parsed = pb.HarmonizeRequest.FromString(raw)
        except DecodeError:
            with pytest.raises(DecodeError):
                wire.decode_request(raw)
            return
        back = wire.decode_request(raw)
        if parsed.WhichOneof("kind") == "chunk":
            c = parsed.chunk
            assert back == wire.ChunkView(c.frame_index, c.plane, c.offset, c.data)
        else:
            assert back == parsed

    check()


def test_resend_keeps_small_chunks_and_splits_big_ones():
    data = bytes(range(10))
    small = wire.decode_request(wire.serialize_request(wire.ChunkView(2, pb.PLANE_IMAGE, 0, data)))
    assert list(wire.resend([small], 10)) == [small]
    parts = list(wire.resend([small], 4))
    assert [(p.offset, bytes(p.data)) for p in parts] == [(0, data[:4]), (4, data[4:8]), (8, data[8:])]
    assert all(p.frame_index == 2 and p.plane == pb.PLANE_IMAGE for p in parts)
