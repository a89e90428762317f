"""A small OpenEXR reader/writer in pure numpy, for host Pythons (Nuke, Resolve) that cannot load OpenImageIO.

The plugins exchange frames with their host through EXR files the host itself renders. Those hosts' Pythons
have numpy (the client needs it) but no OpenImageIO, and a compiled dependency there is a support burden. So
this module covers exactly the subset the plugins meet: single-part scanline files with HALF/FLOAT/UINT
channels and NONE, ZIPS or ZIP compression (what Nuke's Write and Fusion's Saver produce when asked). Anything
else (tiles, deep, multi-part, PIZ/DWA) raises `ExrError` naming the feature, so a user can switch the render
setting. Everything server-side uses OpenImageIO; the tests check this module against it in both directions.

Layout reminders (OpenEXR file format, "Technical Introduction"):
  magic 20000630, version 2 | header attributes (name\\0 type\\0 int32 size, value) ... \\0 |
  one uint64 offset per chunk | chunks: int32 y, int32 size, data.
  A chunk holds `lines` scanlines; within a scanline the channels come in alphabetical order.
  ZIP data = zlib(predictor(interleave(bytes))), stored raw when compression would not shrink it.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from dataclasses import dataclass

import numpy as np

MAGIC = 20000630
_PIXEL_TYPES = {0: np.dtype("<u4"), 1: np.dtype("<f2"), 2: np.dtype("<f4")}
_TYPE_IDS = {np.dtype("<u4"): 0, np.dtype("<f2"): 1, np.dtype("<f4"): 2}
_COMPRESSIONS = {0: ("none", 1), 2: ("zips", 1), 3: ("zip", 16)}
_COMPRESSION_IDS = {"none": 0, "zips": 2, "zip": 3}
_UNSUPPORTED = {1: "RLE", 4: "PIZ", 5: "PXR24", 6: "B44", 7: "B44A", 8: "DWAA", 9: "DWAB"}


class ExrError(ValueError):
    """The file is not an EXR this reader supports; the message says why."""


@dataclass
class ExrImage:
    pixels: np.ndarray  # [H, W, C] in the file's channel order (R, G, B, A first, then the rest)
    channels: list[str]
    pixel_type: str  # "half" | "float" | "uint"


def _order(names: list[str]) -> list[str]:
    """Display order: R, G, B, A first (how hosts and OIIO present them), then the rest alphabetically."""
    first = [c for c in ("R", "G", "B", "A") if c in names]
    return first + sorted(c for c in names if c not in first)


def _read_attributes(buf: memoryview, pos: int) -> tuple[dict[str, tuple[str, bytes]], int]:
    attrs: dict[str, tuple[str, bytes]] = {}
    while True:
        end = bytes(buf[pos : pos + 256]).find(b"\0")
        if end < 0:
            raise ExrError("header is truncated")
        name = bytes(buf[pos : pos + end]).decode("latin-1")
        pos += end + 1
        if not name:
            return attrs, pos
        tend = bytes(buf[pos : pos + 256]).find(b"\0")
        kind = bytes(buf[pos : pos + tend]).decode("latin-1")
        pos += tend + 1
        (size,) = struct.unpack_from("<i", buf, pos)
        pos += 4
        attrs[name] = (kind, bytes(buf[pos : pos + size]))
        pos += size


def _parse_chlist(raw: bytes) -> list[tuple[str, int]]:
    out, pos = [], 0
    while raw[pos] != 0:
        end = raw.index(b"\0", pos)
        name = raw[pos:end].decode("latin-1")
        ptype, _linear, xs, ys = struct.unpack_from("<iB3xii", raw, end + 1)
        if (xs, ys) != (1, 1):
            raise ExrError(f"channel {name!r} is subsampled ({xs}x{ys}); render full-resolution channels")
        out.append((name, ptype))
        pos = end + 1 + 16
    return out


def _unzip(data: bytes, expected: int) -> bytes:
    if len(data) == expected:  # stored raw: compression would not have shrunk it
        return data
    d = np.frombuffer(zlib.decompress(data), dtype=np.uint8)
    # undo the predictor: t[i] = t[i-1] + d[i] - 128 (mod 256), with t[0] = d[0]
    t = ((np.cumsum(d.astype(np.int64) - 128) + 128) & 0xFF).astype(np.uint8)
    half = (t.size + 1) // 2
    out = np.empty_like(t)
    out[0::2], out[1::2] = t[:half], t[half:]
    return out.tobytes()


def _zip(data: bytes) -> bytes:
    b = np.frombuffer(data, dtype=np.uint8)
    t = np.concatenate([b[0::2], b[1::2]])
    d = t.copy()
    d[1:] = (t[1:].astype(np.int16) - t[:-1].astype(np.int16) + 128).astype(np.uint8)
    packed = zlib.compress(d.tobytes(), 6)
    return packed if len(packed) < len(data) else data


def read_exr(path: str | os.PathLike) -> ExrImage:
    """Read a scanline EXR into float32 [H, W, C] (uint channels stay uint32)."""
    with open(path, "rb") as f:
        data = f.read()
    buf = memoryview(data)
    if len(data) < 8 or struct.unpack_from("<i", buf, 0)[0] != MAGIC:
        raise ExrError(f"{path}: not an OpenEXR file")
    (version,) = struct.unpack_from("<i", buf, 4)
    if version & 0x200:
        raise ExrError(f"{path}: tiled EXR; render scanline EXR")
    if version & 0x1800:
        raise ExrError(f"{path}: deep or multi-part EXR is not supported")
    attrs, pos = _read_attributes(buf, 8)
    try:
        channels = _parse_chlist(attrs["channels"][1])
        compression = attrs["compression"][1][0]
        xmin, ymin, xmax, ymax = struct.unpack("<4i", attrs["dataWindow"][1])
    except KeyError as exc:
        raise ExrError(f"{path}: header lacks required attribute {exc}") from None
    if compression in _UNSUPPORTED:
        raise ExrError(f"{path}: {_UNSUPPORTED[compression]} compression is not supported; use none or ZIP")
    if compression not in _COMPRESSIONS:
        raise ExrError(f"{path}: unknown compression {compression}")
    lines = _COMPRESSIONS[compression][1]
    width, height = xmax - xmin + 1, ymax - ymin + 1
    chunks = (height + lines - 1) // lines
    offsets = np.frombuffer(data, dtype="<u8", count=chunks, offset=pos)
    dtypes = [_PIXEL_TYPES[p] for _, p in channels]
    planes = [np.empty((height, width), dtype=dt) for dt in dtypes]
    row_bytes = sum(dt.itemsize for dt in dtypes) * width
    for off in offsets:
        if off + 8 > len(data):
            raise ExrError(f"{path}: file is truncated (chunk offset past the end)")
        y, size = struct.unpack_from("<ii", buf, int(off))
        row0 = y - ymin
        n = min(lines, height - row0)
        raw = bytes(buf[int(off) + 8 : int(off) + 8 + size])
        if len(raw) != size:
            raise ExrError(f"{path}: file is truncated in scanline {y}")
        if compression != 0:
            try:
                raw = _unzip(raw, row_bytes * n)
            except zlib.error as exc:
                raise ExrError(f"{path}: corrupt ZIP data in scanline {y}: {exc}") from None
        if len(raw) != row_bytes * n:
            raise ExrError(f"{path}: scanline block {y} has {len(raw)} bytes, expected {row_bytes * n}")
        pos_b = 0
        for r in range(n):
            for plane, dt in zip(planes, dtypes):
                nbytes = dt.itemsize * width
                plane[row0 + r] = np.frombuffer(raw, dtype=dt, count=width, offset=pos_b)
                pos_b += nbytes
    names = [n for n, _ in channels]
    order = _order(names)
    stacked = [planes[names.index(c)] for c in order]
    is_uint = all(dt == _PIXEL_TYPES[0] for dt in dtypes)
    pixels = (
        np.stack(stacked, axis=-1) if is_uint else np.stack([p.astype(np.float32) for p in stacked], axis=-1)
    )
    kinds = {p for _, p in channels}
    pixel_type = "half" if kinds == {1} else "uint" if kinds == {0} else "float"
    return ExrImage(pixels=pixels, channels=order, pixel_type=pixel_type)


def _attr(name: str, kind: str, value: bytes) -> bytes:
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def write_exr(
    path: str | os.PathLike,
    pixels: np.ndarray,
    channels: list[str] | None = None,
    pixel_type: str = "half",
    compression: str = "zip",
) -> None:
    """Write float [H, W, C] pixels as a scanline EXR, atomically (temporary name, then rename)."""
    if pixels.ndim == 2:
        pixels = pixels[..., None]
    height, width, nch = pixels.shape
    if channels is None:
        defaults = {1: ["Y"], 3: ["R", "G", "B"], 4: ["R", "G", "B", "A"]}
        if nch not in defaults:
            raise ExrError(f"{nch} channels need explicit names")
        channels = defaults[nch]
    if len(channels) != nch:
        raise ExrError(f"{nch} channels given but {len(channels)} names")
    dt = {"half": np.dtype("<f2"), "float": np.dtype("<f4")}[pixel_type]
    comp_id = _COMPRESSION_IDS[compression]
    lines = _COMPRESSIONS[comp_id][1]
    sorted_names = sorted(channels)
    planes = [np.ascontiguousarray(pixels[..., channels.index(c)], dtype=dt) for c in sorted_names]
    chlist = b"".join(
        c.encode() + b"\0" + struct.pack("<iB3xii", _TYPE_IDS[dt], 0, 1, 1) for c in sorted_names
    )
    box = struct.pack("<4i", 0, 0, width - 1, height - 1)
    header = (
        struct.pack("<ii", MAGIC, 2)
        + _attr("channels", "chlist", chlist + b"\0")
        + _attr("compression", "compression", bytes([comp_id]))
        + _attr("dataWindow", "box2i", box)
        + _attr("displayWindow", "box2i", box)
        + _attr("lineOrder", "lineOrder", b"\0")
        + _attr("pixelAspectRatio", "float", struct.pack("<f", 1.0))
        + _attr("screenWindowCenter", "v2f", struct.pack("<2f", 0.0, 0.0))
        + _attr("screenWindowWidth", "float", struct.pack("<f", 1.0))
        + b"\0"
    )
    # one row = every channel's scanline, alphabetical: [H, C * W] bytes, then blocks of `lines` rows
    rows = np.concatenate([p.view(np.uint8).reshape(height, -1) for p in planes], axis=1)
    chunks = []
    for y in range(0, height, lines):
        block = rows[y : y + lines].tobytes()
        if comp_id != 0:
            block = _zip(block)
        chunks.append(struct.pack("<ii", y, len(block)) + block)
    table_start = len(header)
    offsets, pos = [], table_start + 8 * len(chunks)
    for c in chunks:
        offsets.append(pos)
        pos += len(c)
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".exr", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(header)
            f.write(np.asarray(offsets, dtype="<u8").tobytes())
            for c in chunks:
                f.write(c)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
