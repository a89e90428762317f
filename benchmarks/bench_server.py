"""vh-server throughput against a bare gRPC echo of the same bytes, on loopback, in one run.

    python benchmarks/bench_server.py [--frames2k 24] [--frames4k 8] [--repeats 3] [--chunk-mb 3] [--client-process]

For 2K (2048x1080) and 4K (4096x2160) half-float RGBA frames with a separate half matte, it times one client
streaming a clip through `vh-server --model cut`; the same clip through a bare bidi-streaming echo of bytes that
returns the messages carrying image chunks as they came (no protobuf, no numpy, no engine), so the traffic is
identical in both directions; and the same clip through the engine alone (no transport). Reported: payload
MB/s (frame + matte bytes in), server frames/s, server / echo (target >= 0.70), and server / (echo + engine),
which is 1.0 when the server adds nothing to transport plus compute done one after the other. Medians of
--repeats runs.

By default the clients run in the benchmark's own process, beside the servers, sharing its GIL with them.
`--client-process` runs every client (echo and server alike) in a child process instead, as a plugin host would.

Two matte cases are measured, because they answer different questions:
  empty matte  the engine passes frames through (its documented fast path), so the ratio is the cost of the
               server itself: chunking, reassembly, conversion to float and its NaN check, scheduling. The 70%
               target applies here.
  disc matte   a foreground disc of 1/5 the frame height: adds the engine's work up to the model (resizing to
               the model's size, the model call, the check that `cut` changed nothing), so the frame still goes
               back unchanged, but after the engine's cost, not the transport's.
Both send every frame back as the messages that brought it (see vh.server.wire): a model that repaints adds one
copy of the frame's bytes to serialize its result.

Clips are long enough by default for the server's one frame of latency (a frame must arrive whole before the
engine sees it) to weigh little against throughput.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import subprocess
import sys
import time
from concurrent import futures
from pathlib import Path

import grpc
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vh.server import wire
from vh.server.client import Client
from vh.server.main import ServerOptions, create_server
from vh.server.v1 import harmonize_pb2 as pb

ECHO_METHOD = "/bench.Echo/Stream"


def start_echo() -> tuple[grpc.Server, int]:
    """A bare bidi stream of bytes: every message holding an image chunk goes back as it came (no protobuf).

    It looks only at the chunk's plane (without copying the message), so the traffic equals the server's: frame and
    matte in, image out.
    """

    def echo(requests, context):
        for raw in requests:
            chunk = wire.decode_request(raw)
            if isinstance(chunk, wire.ChunkView) and chunk.plane == pb.PLANE_IMAGE:
                yield raw

    # no (de)serializers: bytes in, the same bytes out
    handler = grpc.method_handlers_generic_handler("bench.Echo", {
        "Stream": grpc.stream_stream_rpc_method_handler(echo)})
    server = grpc.server(futures.ThreadPoolExecutor(4), options=[
        ("grpc.max_receive_message_length", wire.MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", wire.MAX_MESSAGE_BYTES)])
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def run_echo(port: int, frames, mattes, chunk_bytes: int) -> float:
    """The clip through the echo, its requests made and its replies read by the client's own codec."""
    channel = grpc.insecure_channel(f"127.0.0.1:{port}", options=[
        ("grpc.max_receive_message_length", wire.MAX_MESSAGE_BYTES)])
    call = channel.stream_stream(ECHO_METHOD, request_serializer=wire.serialize,
                                 response_deserializer=wire.decode_response)

    def requests():
        for i, (f, m) in enumerate(zip(frames, mattes)):
            yield from wire.encode_frame(i, f, m, np.dtype("<f2"), chunk_bytes)

    started = time.perf_counter()
    received = sum(len(r.data) for r in call(requests()))
    took = time.perf_counter() - started
    channel.close()
    assert received == sum(f.nbytes for f in frames)
    return took


def run_server(port: int, frames, mattes, chunk_bytes: int) -> float:
    with Client(f"127.0.0.1:{port}", chunk_bytes=chunk_bytes) as client:
        started = time.perf_counter()
        n = sum(1 for _ in client.harmonize(frames, mattes, colorspace="sRGB Encoded Rec.709 (sRGB)", model="cut"))
        took = time.perf_counter() - started
    assert n == len(frames)
    return took


def run_engine(engine, frames, mattes) -> float:
    """The same clip through the engine directly, no transport (the server converts half to float the same way)."""
    started = time.perf_counter()
    n = sum(1 for _ in engine.run((f.astype(np.float32) for f in frames), (m.astype(np.float32) for m in mattes),
                                  colorspace="sRGB Encoded Rec.709 (sRGB)"))
    took = time.perf_counter() - started
    assert n == len(frames)
    return took


def make_clip(n: int, height: int, width: int, disc: bool):
    rng = np.random.default_rng(0)
    frames, mattes = [], []
    yy, xx = np.mgrid[0:height, 0:width]
    for t in range(n):
        f = rng.random((height, width, 4), dtype=np.float32).astype(np.float16)
        f[..., 3] = 1
        m = np.zeros((height, width), np.float16)
        if disc:
            m[np.hypot(yy - height / 2, xx - width / 2 - 4 * t) < height / 10] = 1
        frames.append(f)
        mattes.append(m)
    return frames, mattes


def client_times(kind: str, port: int, n: int, h: int, w: int, disc: bool, chunk: int, repeats: int,
                 own_process: bool) -> list[float]:
    """Seconds per run of one client streaming the clip to the echo or the server (after one warm-up frame)."""
    if own_process:
        cmd = [sys.executable, __file__, "--run-client", kind, "--port", str(port), "--shape", f"{n},{h},{w}",
               "--chunk-mb", str(chunk / 2**20), "--repeats", str(repeats)] + (["--disc"] if disc else [])
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    frames, mattes = make_clip(n, h, w, disc)
    run = run_echo if kind == "echo" else run_server
    run(port, frames[:1], mattes[:1], chunk)
    return [run(port, frames, mattes, chunk) for _ in range(repeats)]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames2k", type=int, default=24)
    p.add_argument("--frames4k", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--chunk-mb", type=float, default=wire.DEFAULT_CHUNK_BYTES / 2**20)
    p.add_argument("--client-process", action="store_true", help="run the clients in a child process")
    p.add_argument("--run-client", choices=("echo", "server"), help=argparse.SUPPRESS)  # the child's side
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--shape", help=argparse.SUPPRESS)
    p.add_argument("--disc", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    chunk = int(args.chunk_mb * 2**20)
    if args.run_client:
        n, h, w = map(int, args.shape.split(","))
        print(json.dumps(client_times(args.run_client, args.port, n, h, w, args.disc, chunk, args.repeats, False)))
        return 0
    logging.getLogger("vh.core.engine").setLevel(logging.ERROR)  # "empty matte" notices are the point here

    running = create_server("127.0.0.1:0", ServerOptions(models=["cut"], max_clients=4))
    echo, echo_port = start_echo()
    where = "a child process" if args.client_process else "this process"
    print(f"chunks of {chunk / 2**20:.1f} MiB; medians of {args.repeats} runs; clients in {where}")
    from vh.core.engine import Engine

    engine = Engine("cut")
    print(f"{'case':<22}{'echo MB/s':>11}{'engine MB/s':>13}{'server MB/s':>13}{'server fps':>12}"
          f"{'server/echo':>13}{'server/(echo+engine)':>22}")
    try:
        for label, (h, w), n in (("2K half RGBA", (1080, 2048), args.frames2k),
                                 ("4K half RGBA", (2160, 4096), args.frames4k)):
            for disc in (False, True):
                frames, mattes = make_clip(n, h, w, disc)
                payload = sum(f.nbytes + m.nbytes for f, m in zip(frames, mattes)) / 1e6
                timing = (n, h, w, disc, chunk, args.repeats, args.client_process)
                echo_t = statistics.median(client_times("echo", echo_port, *timing))
                srv_t = statistics.median(client_times("server", running.port, *timing))
                eng_t = statistics.median(run_engine(engine, frames, mattes) for _ in range(args.repeats))
                case = f"{label}, {'disc' if disc else 'empty'}"
                print(f"{case:<22}{payload / echo_t:>11.0f}{payload / eng_t:>13.0f}{payload / srv_t:>13.0f}"
                      f"{n / srv_t:>12.2f}{echo_t / srv_t:>13.2f}{(echo_t + eng_t) / srv_t:>22.2f}", flush=True)
    finally:
        running.stop(grace=1)
        echo.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
