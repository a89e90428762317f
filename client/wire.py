"""The one place where protobuf messages and numpy arrays meet (used by both the server and the thin client).

Frames travel as raw little-endian float16/float32 bytes, H x W x C, top-left origin, split into `Chunk`s (see
the contract at the top of v1/harmonize.proto). Only numpy and the generated stubs are imported here, so the
client stays loadable inside a DCC's Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from vh.client.v1 import harmonize_pb2 as pb
from vh.core.errors import InputError, ResourceError

#: Chunk payload that fits gRPC's default 4 MiB message limit with room for framing, so that a client built
#: with default channel options (C++ OFX bridge, Nuke's Python) never needs to raise its limits.
DEFAULT_CHUNK_BYTES = 3 * 1024 * 1024
#: The server accepts request messages up to this size (clients may send bigger chunks than the default).
MAX_MESSAGE_BYTES = 64 * 1024 * 1024

DTYPES: dict[int, np.dtype] = {pb.DTYPE_FLOAT16: np.dtype("<f2"), pb.DTYPE_FLOAT32: np.dtype("<f4")}
DTYPE_NAMES: dict[int, str] = {pb.DTYPE_FLOAT16: "float16", pb.DTYPE_FLOAT32: "float32"}


def dtype_to_proto(dtype: np.dtype | str) -> int:
    kind = np.dtype(dtype)
    for code, known in DTYPES.items():
        if (
            kind.kind == "f" and kind.itemsize == known.itemsize
        ):  # any byte order: encoding makes it little-endian
            return code
    raise InputError(f"frames must be float16 or float32, got {kind}")


@dataclass(frozen=True)
class Limits:
    """What one server accepts per frame and stream; mirrored into GetInfo's `Limits`."""

    max_width: int = 8192
    max_height: int = 8192
    max_channels: int = 16
    max_frames: int = 0  # 0 = unlimited: frames stream, nothing holds a whole clip
    max_message_bytes: int = MAX_MESSAGE_BYTES
    max_chunk_bytes: int = DEFAULT_CHUNK_BYTES


@dataclass(frozen=True)
class Geometry:
    """A validated FrameFormat: the size of every plane of every frame in one stream."""

    width: int
    height: int
    channels: int
    dtype: np.dtype
    colorspace: str

    @property
    def image_bytes(self) -> int:
        return self.width * self.height * self.channels * self.dtype.itemsize

    @property
    def matte_bytes(self) -> int:
        return self.width * self.height * self.dtype.itemsize

    def shape(self, plane: int) -> tuple[int, ...]:
        """A plane's array shape: [H, W, C] for the image, [H, W] for the matte."""
        return (
            (self.height, self.width, self.channels) if plane == pb.PLANE_IMAGE else (self.height, self.width)
        )

    def describe(self) -> str:
        return f"{self.width}x{self.height}x{self.channels} {self.dtype.name}"


def geometry_from_proto(fmt: pb.FrameFormat, limits: Limits) -> Geometry:
    """Check a header's FrameFormat against the contract and the server's limits."""
    if fmt.dtype not in DTYPES:
        raise InputError(f"frame dtype must be float16 or float32 (DType {fmt.dtype} is not supported)")
    if fmt.width == 0 or fmt.height == 0:
        raise InputError(f"frame size {fmt.width}x{fmt.height} is empty; set format.width and format.height")
    if fmt.channels < 3:
        raise InputError(f"frames need at least 3 channels (R, G, B), got {fmt.channels}")
    if fmt.width > limits.max_width or fmt.height > limits.max_height:
        raise ResourceError(
            f"frame size {fmt.width}x{fmt.height} is over this server's limit of "
            f"{limits.max_width}x{limits.max_height}"
        )
    if fmt.channels > limits.max_channels:
        raise ResourceError(f"{fmt.channels} channels is over this server's limit of {limits.max_channels}")
    if fmt.channel_names and len(fmt.channel_names) != fmt.channels:
        raise InputError(f"format names {len(fmt.channel_names)} channels but declares {fmt.channels}")
    if not fmt.colorspace:
        raise InputError(
            "format.colorspace is empty; name the OCIO colourspace of the frames (e.g. 'ACEScg')"
        )
    return Geometry(fmt.width, fmt.height, fmt.channels, DTYPES[fmt.dtype], fmt.colorspace)


def format_to_proto(
    width: int,
    height: int,
    channels: int,
    dtype: np.dtype | str,
    colorspace: str,
    channel_names: tuple[str, ...] = (),
) -> pb.FrameFormat:
    return pb.FrameFormat(
        width=width,
        height=height,
        channels=channels,
        dtype=dtype_to_proto(dtype),
        colorspace=colorspace,
        channel_names=list(channel_names),
    )


# ---------------------------------------------------------------------------------------------------------- #
# Options


def option_from_proto(value: pb.OptionValue) -> float | int | bool | str:
    which = value.WhichOneof("value")
    if which is None:
        raise InputError("an option value is empty; set number, integer, flag or choice")
    return getattr(value, which)


def option_to_proto(value: float | bool | str) -> pb.OptionValue:
    if isinstance(value, bool):  # before int: bool is an int subclass
        return pb.OptionValue(flag=value)
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise InputError(f"option value {value} does not fit a 64-bit integer")
        return pb.OptionValue(integer=value)
    if isinstance(value, float):
        return pb.OptionValue(number=value)
    if isinstance(value, str):
        return pb.OptionValue(choice=value)
    raise TypeError(f"option values are float, int, bool or str, got {type(value).__name__}")


# ---------------------------------------------------------------------------------------------------------- #
# Chunks
#
# Harmonize's messages go through the generated classes. Python protobuf copies a bytes field on every read,
# so a received chunk is read out of its message once, into a ChunkView; a chunk to send is a ChunkView whose
# data is a view of the frame it was cut from, copied once into its message when that is serialized.

HARMONIZE_METHOD = f"/{pb.DESCRIPTOR.services_by_name['Harmonizer'].full_name}/Harmonize"


@dataclass(frozen=True, slots=True)
class ChunkView:
    """One Chunk message's fields; `data` is the bytes read out of a received message, or a view of the frame
    a chunk to send was cut from."""

    frame_index: int
    plane: int
    offset: int
    data: memoryview | bytes

    def to_proto(self) -> pb.Chunk:
        return pb.Chunk(
            frame_index=self.frame_index, plane=self.plane, offset=self.offset, data=bytes(self.data)
        )


def _serializer(message_type: type) -> Callable[[object], bytes]:
    def serialize(message: ChunkView | message_type) -> bytes:
        if isinstance(message, ChunkView):
            message = message_type(chunk=message.to_proto())
        return message.SerializeToString()

    serialize.__doc__ = (
        f"Harmonize's serializer: a {message_type.__name__}, or a ChunkView sent as its chunk."
    )
    return serialize


def _decoder(message_type: type) -> Callable[[bytes], object]:
    def decode(raw: bytes) -> ChunkView | message_type:
        message = message_type.FromString(raw)
        if message.WhichOneof("kind") == "chunk":
            c = message.chunk
            return ChunkView(c.frame_index, c.plane, c.offset, c.data)
        return message

    decode.__doc__ = f"Harmonize's deserializer: a {message_type.__name__}, or a ChunkView for every chunk."
    return decode


serialize_request = _serializer(pb.HarmonizeRequest)
serialize_response = _serializer(pb.HarmonizeResponse)
decode_request = _decoder(pb.HarmonizeRequest)
decode_response = _decoder(pb.HarmonizeResponse)


def encode_plane(
    frame_index: int, pixels: np.ndarray, plane: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES
) -> Iterator[ChunkView]:
    """Split one plane ([H, W, C] or [H, W], already in the wire dtype) into chunks of <= chunk_bytes: views
    of `pixels`, which must stay unchanged until they are serialized."""
    if chunk_bytes <= 0:
        raise ValueError("chunk_bytes must be positive")
    # Little-endian, C-contiguous: the exact byte layout of the contract (a no-op copy on x86 for our dtypes).
    raw = memoryview(np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<"))).cast("B")
    for offset in range(0, max(len(raw), 1), chunk_bytes):
        yield ChunkView(frame_index, plane, offset, raw[offset : offset + chunk_bytes])


def encode_frame(
    frame_index: int,
    frame: np.ndarray,
    matte: np.ndarray | None,
    dtype: np.dtype,
    chunk_bytes: int = DEFAULT_CHUNK_BYTES,
) -> Iterator[ChunkView]:
    """Chunks of one frame: the image plane, then (if given) the separate matte plane, cast to `dtype`."""
    yield from encode_plane(frame_index, frame.astype(dtype, copy=False), pb.PLANE_IMAGE, chunk_bytes)
    if matte is not None:
        yield from encode_plane(frame_index, matte.astype(dtype, copy=False), pb.PLANE_MATTE, chunk_bytes)


def resend(chunks: list[ChunkView], chunk_bytes: int = DEFAULT_CHUNK_BYTES) -> Iterator[ChunkView]:
    """Received chunks to send back unchanged: as they came when within `chunk_bytes`, else split, so that a
    client with default message limits can take them."""
    for c in chunks:
        if len(c.data) <= chunk_bytes:
            yield c
            continue
        data = memoryview(c.data)
        for start in range(0, len(data), chunk_bytes):
            yield ChunkView(c.frame_index, c.plane, c.offset + start, data[start : start + chunk_bytes])


def chunk_values(chunk: ChunkView, dtype: np.dtype) -> tuple[int, np.ndarray] | None:
    """(index of its first value in the plane, its values as a view) for a chunk of whole values; None for one
    that splits a value with its neighbour (legal on the wire: such a plane must be joined before it is
    read)."""
    size = dtype.itemsize
    if chunk.offset % size or len(chunk.data) % size:
        return None
    return chunk.offset // size, np.frombuffer(chunk.data, dtype)


def _copy(dst: np.ndarray, src: np.ndarray) -> None:
    np.copyto(dst, src, casting="unsafe")


@dataclass
class Frame:
    """A complete frame as it arrived: each plane is the list of its chunks, views of the messages they came
    in.

    Nothing more is copied until `read` puts a plane into an array, in the wire dtype or converted on the way,
    and a frame passed through unchanged goes back as the chunks that brought it."""

    index: int
    geometry: Geometry
    planes: dict[int, list[ChunkView]]

    def read(
        self,
        plane: int = pb.PLANE_IMAGE,
        out: np.ndarray | None = None,
        copy: Callable[[np.ndarray, np.ndarray], object] = _copy,
    ) -> np.ndarray:
        """The plane as [H, W, C] (image) or [H, W] (matte), written into `out` (C-contiguous, any dtype;
        default: a new array in the wire dtype) by `copy(dst, src)` one chunk at a time (dst and src are
        flat)."""
        g = self.geometry
        shape = g.shape(plane)
        if out is None:
            out = np.empty(shape, g.dtype)
        if out.shape != shape or not out.flags.c_contiguous:
            raise ValueError(
                f"plane {pb.Plane.Name(plane)} needs a C-contiguous {shape} array, got {out.shape}"
            )
        flat = out.reshape(-1)  # a view: out is contiguous
        chunks = self.planes[plane]
        parts = [chunk_values(c, g.dtype) for c in chunks]
        if all(p is not None for p in parts):
            for start, values in parts:
                copy(flat[start : start + len(values)], values)
        else:  # the sender split values across chunks: join them first
            copy(flat, np.frombuffer(b"".join(c.data for c in chunks), g.dtype))
        return out


class FrameAssembler:
    """Collects a stream's Chunks into frames, checking every byte range against the contract.

    Feed chunks in order with `add`; it returns the frame whose last plane that chunk completed, else None.
    `finish` checks that no frame was left half-sent. Chunks are kept as they came (see ChunkView), so
    the assembler copies nothing: `Frame.read` does, once, straight into the array the frame is wanted in.
    """

    def __init__(self, geometry: Geometry, with_matte: bool, first_index: int = 0):
        self.geometry = geometry
        self.with_matte = with_matte
        self.next_index = first_index
        self._sizes = {pb.PLANE_IMAGE: geometry.image_bytes}
        if with_matte:
            self._sizes[pb.PLANE_MATTE] = geometry.matte_bytes
        self._planes: dict[int, list[ChunkView]] = {p: [] for p in self._sizes}
        self._filled = dict.fromkeys(self._sizes, 0)

    def add(self, chunk: ChunkView | pb.Chunk) -> Frame | None:
        where = f"frame {chunk.frame_index}"
        # the plane first: a matte plane after a complete RGBA frame of an alpha-matte stream is a wrong
        # plane, not a frame out of order
        if chunk.plane not in self._sizes:
            plane = pb.Plane.Name(chunk.plane) if chunk.plane in pb.Plane.values() else str(chunk.plane)
            hint = " (matte_source is not MATTE_SEPARATE)" if chunk.plane == pb.PLANE_MATTE else ""
            raise InputError(f"{where}: unexpected plane {plane}{hint}")
        if chunk.frame_index != self.next_index:
            raise InputError(
                f"chunk for frame {chunk.frame_index} arrived while frame {self.next_index} "
                "is expected; send frames in order, each complete before the next"
            )
        filled = self._filled[chunk.plane]
        size = self._sizes[chunk.plane]
        if chunk.offset != filled:
            raise InputError(
                f"{where}: chunk at byte {chunk.offset} but {filled} bytes of the "
                f"{pb.Plane.Name(chunk.plane)} plane were received; chunks must be sent in order"
            )
        if isinstance(chunk, pb.Chunk):  # a pb.Chunk copies its bytes on each read: read them once
            chunk = ChunkView(chunk.frame_index, chunk.plane, chunk.offset, chunk.data)
        if not chunk.data:
            raise InputError(f"{where}: empty chunk")
        end = filled + len(chunk.data)
        if end > size:
            raise InputError(
                f"{where}: {pb.Plane.Name(chunk.plane)} plane is {end} bytes so far but "
                f"{self.geometry.describe()} needs {size}; the data does not match the header"
            )
        self._planes[chunk.plane].append(chunk)
        self._filled[chunk.plane] = end
        if self._filled != self._sizes:
            return None
        frame = Frame(self.next_index, self.geometry, self._planes)
        self.next_index += 1
        self._planes = {p: [] for p in self._sizes}
        self._filled = dict.fromkeys(self._sizes, 0)
        return frame

    @property
    def pending(self) -> bool:
        """True while a frame has been started but not completed."""
        return any(self._filled.values())

    def finish(self) -> None:
        if self.pending:
            got = ", ".join(f"{pb.Plane.Name(p)} {n} bytes" for p, n in self._filled.items() if n)
            raise InputError(
                f"stream ended in the middle of frame {self.next_index} ({got} received); "
                "the last frame was truncated"
            )
