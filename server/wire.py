"""The one place where protobuf messages and numpy arrays meet (used by both the server and the thin client).

Frames travel as raw little-endian float16/float32 bytes, H x W x C, top-left origin, split into `Chunk`s (see
the contract at the top of v1/harmonize.proto). Only numpy and the generated stubs are imported here, so the
client stays loadable inside a DCC's Python.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from vh.core.errors import InputError, ResourceError
from vh.server.v1 import harmonize_pb2 as pb

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
        if kind.kind == "f" and kind.itemsize == known.itemsize:  # any byte order: encoding makes it little-endian
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
        raise InputError("format.colorspace is empty; name the OCIO colourspace of the frames (e.g. 'ACEScg')")
    return Geometry(fmt.width, fmt.height, fmt.channels, DTYPES[fmt.dtype], fmt.colorspace)


def format_to_proto(width: int, height: int, channels: int, dtype: np.dtype | str, colorspace: str,
                    channel_names: tuple[str, ...] = ()) -> pb.FrameFormat:
    return pb.FrameFormat(width=width, height=height, channels=channels, dtype=dtype_to_proto(dtype),
                          colorspace=colorspace, channel_names=list(channel_names))


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
# Chunking


def encode_plane(frame_index: int, pixels: np.ndarray, plane: int, chunk_bytes: int = DEFAULT_CHUNK_BYTES,
                 message: type | None = None) -> Iterator:
    """Split one plane ([H, W, C] or [H, W], already in the wire dtype) into Chunks of <= chunk_bytes.

    With `message` (HarmonizeRequest or HarmonizeResponse) it yields those, their chunk filled in place: wrapping
    a finished Chunk would make protobuf copy every byte once more (0.4 ms a 3 MiB chunk instead of 0.08).
    """
    if chunk_bytes <= 0:
        raise ValueError("chunk_bytes must be positive")
    # Little-endian, C-contiguous: the exact byte layout of the contract (a no-op copy on x86 for our dtypes).
    raw = memoryview(np.ascontiguousarray(pixels, dtype=pixels.dtype.newbyteorder("<"))).cast("B")
    for offset in range(0, max(len(raw), 1), chunk_bytes):
        fields = {"frame_index": frame_index, "plane": plane, "offset": offset,
                  "data": raw[offset:offset + chunk_bytes].tobytes()}
        yield pb.Chunk(**fields) if message is None else message(chunk=fields)


def encode_frame(frame_index: int, frame: np.ndarray, matte: np.ndarray | None, dtype: np.dtype,
                 chunk_bytes: int = DEFAULT_CHUNK_BYTES, message: type | None = None) -> Iterator:
    """Chunks of one frame (or `message`s carrying them, see encode_plane): the image plane, then (if given) the
    separate matte plane, cast to `dtype`."""
    yield from encode_plane(frame_index, frame.astype(dtype, copy=False), pb.PLANE_IMAGE, chunk_bytes, message)
    if matte is not None:
        yield from encode_plane(frame_index, matte.astype(dtype, copy=False), pb.PLANE_MATTE, chunk_bytes, message)


@dataclass
class Frame:
    """A reassembled frame: `image` [H, W, C] and `matte` [H, W] (None when not sent), in the wire dtype."""

    index: int
    image: np.ndarray
    matte: np.ndarray | None
    storage: tuple[np.ndarray, ...] = ()  # the uint8 buffers image and matte are views of


def _new_plane(nbytes: int) -> np.ndarray:
    # np.empty, not bytearray: no zero-fill pass over a buffer the chunks overwrite anyway
    return np.empty(nbytes, np.uint8)


class FrameAssembler:
    """Rebuilds frames from a stream of Chunks, checking every byte range against the contract.

    Feed chunks in order with `add`; it returns the frame whose last plane that chunk completed, else None.
    `finish` checks that no frame was left half-sent. The frame's planes are preallocated once and filled in
    place, so a 4K float32 frame costs one 141 MB buffer, not a list of chunks plus a join.
    """

    def __init__(self, geometry: Geometry, with_matte: bool, first_index: int = 0,
                 allocate: Callable[[int], np.ndarray] = _new_plane):
        self.geometry = geometry
        self.with_matte = with_matte
        self.next_index = first_index
        #: where each plane's buffer comes from (a pool hands back those of frames already done with)
        self.allocate = allocate
        self._image: np.ndarray | None = None  # uint8 planes, filled chunk by chunk
        self._matte: np.ndarray | None = None
        self._filled = {pb.PLANE_IMAGE: 0, pb.PLANE_MATTE: 0}

    def _sizes(self) -> dict[int, int]:
        sizes = {pb.PLANE_IMAGE: self.geometry.image_bytes}
        if self.with_matte:
            sizes[pb.PLANE_MATTE] = self.geometry.matte_bytes
        return sizes

    def add(self, chunk: pb.Chunk) -> Frame | None:
        sizes = self._sizes()
        where = f"frame {chunk.frame_index}"
        if chunk.frame_index != self.next_index:
            raise InputError(f"chunk for frame {chunk.frame_index} arrived while frame {self.next_index} "
                             "is expected; send frames in order, each complete before the next")
        if chunk.plane not in sizes:
            plane = pb.Plane.Name(chunk.plane) if chunk.plane in pb.Plane.values() else str(chunk.plane)
            hint = " (matte_source is not MATTE_SEPARATE)" if chunk.plane == pb.PLANE_MATTE else ""
            raise InputError(f"{where}: unexpected plane {plane}{hint}")
        filled = self._filled[chunk.plane]
        size = sizes[chunk.plane]
        if chunk.offset != filled:
            raise InputError(f"{where}: chunk at byte {chunk.offset} but {filled} bytes of the "
                             f"{pb.Plane.Name(chunk.plane)} plane were received; chunks must be sent in order")
        data = chunk.data  # each read of a bytes field copies it out of the message: read it once
        if not data:
            raise InputError(f"{where}: empty chunk")
        end = filled + len(data)
        if end > size:
            raise InputError(f"{where}: {pb.Plane.Name(chunk.plane)} plane is {end} bytes so far but "
                             f"{self.geometry.describe()} needs {size}; the data does not match the header")
        if self._image is None:
            self._image = self.allocate(sizes[pb.PLANE_IMAGE])
            self._matte = self.allocate(sizes[pb.PLANE_MATTE]) if self.with_matte else None
        target = self._image if chunk.plane == pb.PLANE_IMAGE else self._matte
        target[filled:end] = np.frombuffer(data, np.uint8)
        self._filled[chunk.plane] = end
        if any(self._filled[p] != sizes[p] for p in sizes):
            return None
        return self._complete()

    def _complete(self) -> Frame:
        g = self.geometry
        image = self._image.view(g.dtype).reshape(g.height, g.width, g.channels)  # [H, W, C]
        matte = self._matte.view(g.dtype).reshape(g.height, g.width) if self._matte is not None else None  # [H, W]
        storage = (self._image,) if self._matte is None else (self._image, self._matte)
        frame = Frame(self.next_index, image, matte, storage)
        self.next_index += 1
        self._image = self._matte = None
        self._filled = {pb.PLANE_IMAGE: 0, pb.PLANE_MATTE: 0}
        return frame

    @property
    def pending(self) -> bool:
        """True while a frame has been started but not completed."""
        return self._image is not None

    def finish(self) -> None:
        if self.pending:
            got = ", ".join(f"{pb.Plane.Name(p)} {n} bytes" for p, n in self._filled.items() if n)
            raise InputError(f"stream ended in the middle of frame {self.next_index} ({got} received); "
                             "the last frame was truncated")
