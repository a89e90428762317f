"""End-to-end frames/s through a real vh-server: Harmonize's chunks as plain protobuf, or by a hand codec.

    python benchmarks/bench_wire.py [--frames 12] [--rounds 5] [--size 1920x1080] [--dtype float32]

vh.client.wire sends and reads chunks through the generated protobuf classes. The codec measured against it
here writes and parses the chunk messages' bytes itself, as vh once did: a chunk goes out as one copy of its
frame's bytes (`b"".join`) and comes in as a view of the message it arrived in, where protobuf copies the data
into the message and again on every read of the field. It is kept here, not in the package, so that the
decision can be measured again.

Two servers run as child processes (so that neither shares the client's GIL), one per codec, with the same
model; the client in this process uses the same codec as the server it talks to. Each round sends the same
clip of RGBA frames with a separate soft matte through both, in alternating order, so that the machine's
drift hits both alike. A model that repaints (`stats` by default) makes the server encode a new result for
every frame, so every pixel crosses the codec four times (client out, server in, server out, client in).
Reported: medians over the rounds of each codec's frames/s over the whole clip (first frame's latency
included) and the ratio.

Measured (2 shared CPU cores, 12 frames of 1920x1080 float32 RGBA + matte, `stats`, 5 rounds): protobuf 2.59
frames/s, hand codec 2.79, 1.08x; under the 1.3x that would have paid for keeping 120 lines of wire format by
hand, so vh uses plain protobuf.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the test fixtures' clip and server launcher

from tests.server.conftest import clip, start_subprocess_server  # noqa: E402
from vh.client import wire  # noqa: E402
from vh.client.v1 import harmonize_pb2 as pb  # noqa: E402

# ---------------------------------------------------------------------------------------------------------- #
# The hand-written codec: chunk messages written and parsed byte by byte (protobuf's wire format, fixed keys)

_KIND_CHUNK = 0x12  # field 2 (chunk), length-delimited; the same field in requests and responses
_VARINT_FIELDS = {0x08: 1, 0x10: 2, 0x18: 3}  # frame_index, plane, offset
_DATA_KEY = 0x22  # field 4 (data), length-delimited


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(view: memoryview, pos: int) -> tuple[int | None, int]:
    value = shift = 0
    for i in range(pos, min(pos + 10, len(view))):
        byte = view[i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return (value if value < 1 << 64 else None), i + 1
    return None, pos


def hand_serialize(message) -> bytes:
    if not isinstance(message, wire.ChunkView):
        return message.SerializeToString()
    body = bytearray()
    for key, value in ((0x08, message.frame_index), (0x10, message.plane), (0x18, message.offset)):
        if value:
            body += bytes([key]) + _varint(value)
    size = len(message.data)
    if size:
        body += bytes([_DATA_KEY]) + _varint(size)
    return b"".join((bytes([_KIND_CHUNK]), _varint(len(body) + size), body, message.data))


def _parse_chunk(raw: bytes) -> wire.ChunkView | None:
    view = memoryview(raw)
    if len(view) < 2 or view[0] != _KIND_CHUNK:
        return None
    size, pos = _read_varint(view, 1)
    if size is None or pos + size != len(view):
        return None
    fields: dict[int, int | memoryview] = {}
    while pos < len(view):
        key, pos = _read_varint(view, pos)
        if key in _VARINT_FIELDS and _VARINT_FIELDS[key] not in fields:
            value, pos = _read_varint(view, pos)
            if value is None:
                return None
            fields[_VARINT_FIELDS[key]] = value
        elif key == _DATA_KEY and 4 not in fields:
            length, pos = _read_varint(view, pos)
            if length is None or pos + length > len(view):
                return None
            fields[4], pos = view[pos : pos + length], pos + length
        else:
            return None
    return wire.ChunkView(fields.get(1, 0), fields.get(2, 0), fields.get(3, 0), fields.get(4, b""))


def _hand_decoder(protobuf_decode):
    def decode(raw: bytes):
        chunk = _parse_chunk(raw)
        return chunk if chunk is not None else protobuf_decode(raw)

    return decode


def use_hand_codec() -> None:
    """Replace vh.client.wire's (de)serializers, before a server or client is built, with the hand codec."""
    wire.decode_request = _hand_decoder(wire.decode_request)
    wire.decode_response = _hand_decoder(wire.decode_response)
    wire.serialize_request = wire.serialize_response = hand_serialize


def check_hand_codec() -> None:
    """The hand codec writes the bytes protobuf writes, and reads them back to the same chunk."""
    data = np.arange(1000, dtype="<f4")
    chunk = wire.ChunkView(3, pb.PLANE_MATTE, 4000, memoryview(data).cast("B"))
    raw = hand_serialize(chunk)
    assert raw == pb.HarmonizeRequest(chunk=chunk.to_proto()).SerializeToString()
    back = _parse_chunk(raw)
    assert (back.frame_index, back.plane, back.offset, bytes(back.data)) == (
        3,
        pb.PLANE_MATTE,
        4000,
        data.tobytes(),
    )


# ---------------------------------------------------------------------------------------------------------- #


def serve(codec: str, argv: list[str]) -> int:
    """The child's side: vh-server with the given codec."""
    if codec == "hand":
        use_hand_codec()
    from vh.server.serve import main

    return main(argv)


def run_clip(port: int, frames, mattes, model: str) -> float:
    """Seconds for the whole clip, from the first request to the last result."""
    from vh.client.remote import Client

    out = np.empty_like(frames[0])
    with Client(f"127.0.0.1:{port}", timeout=600) as client:
        started = time.perf_counter()
        count = sum(
            1
            for _ in client.harmonize(
                frames, mattes, colorspace="sRGB Encoded Rec.709 (sRGB)", model=model, out=out
            )
        )
        seconds = time.perf_counter() - started
    assert count == len(frames)
    return seconds


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:  # the child's side: --serve CODEC, then vh-server's own arguments
        return serve(sys.argv[2], sys.argv[3:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames", type=int, default=12, help="frames per clip (default 12)")
    p.add_argument("--rounds", type=int, default=5, help="rounds; medians are reported (default 5)")
    p.add_argument("--size", default="1920x1080", help="WIDTHxHEIGHT (default 1920x1080)")
    p.add_argument("--dtype", choices=("float16", "float32"), default="float32")
    p.add_argument("--model", default="stats", help="a model that repaints (default stats)")
    args = p.parse_args()

    check_hand_codec()
    width, height = map(int, args.size.lower().split("x"))
    frames, mattes = clip(args.frames, height, width, dtype=np.dtype(args.dtype))
    served = ["--device", "cpu", "--model", args.model]
    servers = {
        codec: start_subprocess_server(served, launcher=[str(Path(__file__).resolve()), "--serve", codec])
        for codec in ("protobuf", "hand")
    }
    frame_mb = (frames[0].nbytes + mattes[0].nbytes) / 2**20
    print(
        f"{args.frames} frames of {width}x{height} RGBA {args.dtype} + matte ({frame_mb:.1f} MiB a frame in, "
        f"{frames[0].nbytes / 2**20:.1f} out), model {args.model}, {args.rounds} rounds, alternating order"
    )
    fps: dict[str, list[float]] = {"protobuf": [], "hand": []}
    try:
        run_clip(servers["protobuf"][1], frames[:2], mattes[:2], args.model)  # warm-up: first model call
        for r in range(args.rounds):
            order = ("protobuf", "hand") if r % 2 == 0 else ("hand", "protobuf")
            for codec in order:
                if codec == "hand":
                    saved = (wire.serialize_request, wire.serialize_response)
                    saved += (wire.decode_request, wire.decode_response)
                    use_hand_codec()
                try:
                    seconds = run_clip(servers[codec][1], frames, mattes, args.model)
                finally:
                    if codec == "hand":
                        wire.serialize_request, wire.serialize_response = saved[:2]
                        wire.decode_request, wire.decode_response = saved[2:]
                fps[codec].append(args.frames / seconds)
            print(f"  round {r + 1}: protobuf {fps['protobuf'][-1]:.2f} fps, hand {fps['hand'][-1]:.2f} fps")
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=30)
    proto, hand = statistics.median(fps["protobuf"]), statistics.median(fps["hand"])
    ratios = [h / q for h, q in zip(fps["hand"], fps["protobuf"], strict=True)]
    print(f"{'codec':<10}{'frames/s':>10}{'MiB/s in':>10}")
    for name, value in (("protobuf", proto), ("hand", hand)):
        print(f"{name:<10}{value:>10.2f}{value * frame_mb:>10.1f}")
    print(
        f"hand / protobuf: {hand / proto:.3f}x (median of per-round ratios {statistics.median(ratios):.3f}x)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
