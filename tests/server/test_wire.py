"""vh.server.wire: the frame contract, chunking and reassembly, without a server."""

from __future__ import annotations

import numpy as np
import pytest
from vh.core.errors import InputError, ResourceError
from vh.server import wire
from vh.server.v1 import harmonize_pb2 as pb


def _geometry(w=5, h=3, c=4, dtype=pb.DTYPE_FLOAT16, limits: wire.Limits | None = None):
    limits = limits or wire.Limits()
    return wire.geometry_from_proto(pb.FrameFormat(width=w, height=h, channels=c, dtype=dtype, colorspace="ACEScg"),
                                    limits)


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
    assert frame.image.tobytes() == image.tobytes() and frame.matte.tobytes() == matte.tobytes()
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
        a.add(pb.Chunk(frame_index=0, plane=pb.PLANE_IMAGE, offset=0, data=b"\0" * (geometry.image_bytes + 2)))
    a = wire.FrameAssembler(geometry, with_matte=False)
    a.add(pb.Chunk(frame_index=0, plane=pb.PLANE_IMAGE, offset=0, data=b"\0" * 10))
    with pytest.raises(InputError, match="truncated"):
        a.finish()
    with pytest.raises(InputError, match="MATTE_SEPARATE"):
        wire.FrameAssembler(geometry, with_matte=False).add(
            pb.Chunk(frame_index=0, plane=pb.PLANE_MATTE, offset=0, data=b"\0\0"))
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
        wire.geometry_from_proto(pb.FrameFormat(width=1, height=1, channels=3, dtype=pb.DTYPE_FLOAT32), wire.Limits())
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


def test_assembler_takes_its_buffers_from_the_allocator_and_names_them():
    rng = np.random.default_rng(5)
    geometry = _geometry()
    frames = [rng.random((3, 5, 4)).astype(np.float16) for _ in range(3)]
    spare: list[np.ndarray] = []
    handed: list[np.ndarray] = []

    def allocate(nbytes: int) -> np.ndarray:  # a pool of one: what the server does with finished frames
        buf = spare.pop() if spare else np.empty(nbytes, np.uint8)
        handed.append(buf)
        return buf

    assembler = wire.FrameAssembler(geometry, with_matte=False, allocate=allocate)
    for i, image in enumerate(frames):
        *_, frame = (assembler.add(c) for c in wire.encode_plane(i, image, pb.PLANE_IMAGE, 16))
        assert frame.image.tobytes() == image.tobytes()
        assert frame.storage[0] is handed[-1] and np.shares_memory(frame.image, handed[-1])
        spare.extend(frame.storage)  # the frame is done with: its buffer serves the next one
    assert handed[0] is handed[1] is handed[2]
