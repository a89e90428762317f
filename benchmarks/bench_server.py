"""vh-server throughput against a bare gRPC echo of the same bytes, on loopback, in one run.

    python benchmarks/bench_server.py [--frames2k 24] [--frames4k 12] [--repeats 5] [--chunk-mb 3]
    [--same-process]

For 2K (2048x1080) and 4K (4096x2160) half-float RGBA frames with a separate half matte, one client streams a
clip through `vh-server --model cut`, and the same clip through a bare bidi-streaming echo of bytes that
returns the messages carrying image chunks as they came (no protobuf, no numpy, no engine), so the traffic is
identical in both directions. Each round runs both, in alternating order, so that the machine's drift hits
both alike; the table gives medians over the rounds:
  echo MB/s, server MB/s  steady throughput: the payload (frame + matte bytes in) of frames 2..n over the time
                          from the first frame's return to the last's
  server/echo             the ratio of the two, per round (target >= 0.70)
  whole clip              the same ratio over the whole clip, first frame's latency included
  1st frame ms            echo / server: how long the first frame takes to come back. The server must
                          receive a frame whole before the engine sees it, where the echo returns each chunk
                          at once.
  engine MB/s             the same clip through the engine alone, no transport, for scale

The clients run in a child process, as a plugin host would; `--same-process` runs them beside the servers,
sharing the benchmark's GIL with them. The server's client writes results into one array (`out=`), as a
consumer that writes each frame out would; the echo's client does not rebuild frames at all.

Two matte cases are measured, because they answer different questions:
  empty matte  the engine passes frames through (its documented fast path), so the ratio is the cost of the
               server itself: chunking, reassembly, conversion to float and its NaN check, scheduling. The 70%
               target applies here.
  disc matte   a foreground disc of 1/5 the frame height: adds the engine's work up to the model (resizing to
               the model's size, the model call, the check that `cut` changed nothing), so the frame still
               goes back unchanged, but after the engine's cost, not the transport's. On a CPU-only machine
               the engine's rate is about the echo's, so this case measures compute as much as transport.
The server sends an unchanged frame back as the chunks that brought it, serialized again by protobuf (see
vh.client.wire); the echo returns the very bytes.
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

from vh.client import wire
from vh.client.remote import Client
from vh.client.v1 import harmonize_pb2 as pb
from vh.server.serve import ServerOptions, create_server

ECHO_METHOD = "/bench.Echo/Stream"


def start_echo() -> tuple[grpc.Server, int]:
    """A bare bidi stream of bytes: every message holding an image chunk goes back as it came (no protobuf).

    It looks only at the chunk's plane, so the traffic equals the server's: frame and matte in, image out.
    """

    def echo(requests, context):
        for raw in requests:
            chunk = wire.decode_request(raw)
            if isinstance(chunk, wire.ChunkView) and chunk.plane == pb.PLANE_IMAGE:
                yield raw

    # no (de)serializers: bytes in, the same bytes out
    handler = grpc.method_handlers_generic_handler(
        "bench.Echo", {"Stream": grpc.stream_stream_rpc_method_handler(echo)}
    )
    server = grpc.server(
        futures.ThreadPoolExecutor(4),
        options=[
            ("grpc.max_receive_message_length", wire.MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", wire.MAX_MESSAGE_BYTES),
        ],
    )
    server.add_generic_rpc_handlers((handler,))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port


def run_echo(port: int, frames, mattes, chunk_bytes: int) -> list[float]:
    """The clip through the echo, its requests made and its replies read by the client's own codec; returns
    the seconds from the start at which each frame's bytes were all back."""
    channel = grpc.insecure_channel(
        f"127.0.0.1:{port}", options=[("grpc.max_receive_message_length", wire.MAX_MESSAGE_BYTES)]
    )
    call = channel.stream_stream(
        ECHO_METHOD, request_serializer=wire.serialize_request, response_deserializer=wire.decode_response
    )

    def requests():
        for i, (f, m) in enumerate(zip(frames, mattes)):
            yield from wire.encode_frame(i, f, m, np.dtype("<f2"), chunk_bytes)

    frame_bytes = frames[0].nbytes
    received, times = 0, []
    started = time.perf_counter()
    for reply in call(requests()):
        received += len(reply.data)
        if received % frame_bytes == 0:
            times.append(time.perf_counter() - started)
    channel.close()
    assert received == sum(f.nbytes for f in frames) and len(times) == len(frames)
    return times


def run_server(port: int, frames, mattes, chunk_bytes: int) -> list[float]:
    """The clip through vh-server with the client library; returns the seconds at which each frame came back.

    Results go into one array (`out`), as a consumer that writes each frame out would have them: the echo's
    client does not rebuild frames at all."""
    out = np.empty_like(frames[0])
    with Client(f"127.0.0.1:{port}", chunk_bytes=chunk_bytes) as client:
        times = []
        started = time.perf_counter()
        for _ in client.harmonize(
            frames, mattes, colorspace="sRGB Encoded Rec.709 (sRGB)", model="cut", out=out
        ):
            times.append(time.perf_counter() - started)
    assert len(times) == len(frames)
    return times


def run_engine(engine, frames, mattes) -> float:
    """The same clip through the engine directly, no transport (the server converts half to float the same
    way)."""
    started = time.perf_counter()
    n = sum(
        1
        for _ in engine.run(
            (f.astype(np.float32) for f in frames),
            (m.astype(np.float32) for m in mattes),
            colorspace="sRGB Encoded Rec.709 (sRGB)",
        )
    )
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


def client_rounds(
    echo_port: int,
    server_port: int,
    n: int,
    h: int,
    w: int,
    disc: bool,
    chunk: int,
    repeats: int,
    own_process: bool,
) -> list[dict[str, list[float]]]:
    """`repeats` rounds of one client streaming the clip to the echo and to the server, in alternating order
    (so that the machine's drift hits both alike), after one warm-up frame each; per round, each frame's
    arrival times."""
    if own_process:
        cmd = [
            sys.executable,
            __file__,
            "--run-client",
            f"{echo_port},{server_port}",
            "--shape",
            f"{n},{h},{w}",
            "--chunk-mb",
            str(chunk / 2**20),
            "--repeats",
            str(repeats),
        ] + (["--disc"] if disc else [])
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    frames, mattes = make_clip(n, h, w, disc)
    runs = {
        "echo": lambda: run_echo(echo_port, frames, mattes, chunk),
        "server": lambda: run_server(server_port, frames, mattes, chunk),
    }
    run_echo(echo_port, frames[:1], mattes[:1], chunk)
    run_server(server_port, frames[:1], mattes[:1], chunk)
    rounds = []
    for r in range(repeats):
        order = ("echo", "server") if r % 2 == 0 else ("server", "echo")
        rounds.append({kind: runs[kind]() for kind in order})
    return rounds


def summarize(rounds: list[dict[str, list[float]]], frame_mb: float) -> dict[str, float]:
    """Medians over the rounds: steady MB/s (frames 2..n over the time from the first frame's return to the
    last's), whole-clip MB/s (first frame's latency included), first-frame latency, and the server/echo ratios
    of both."""

    def steady(t: list[float]) -> float:
        return frame_mb * (len(t) - 1) / (t[-1] - t[0])

    def clip(t: list[float]) -> float:
        return frame_mb * len(t) / t[-1]

    med = statistics.median
    return {
        "echo": med(steady(r["echo"]) for r in rounds),
        "server": med(steady(r["server"]) for r in rounds),
        "ratio": med(steady(r["server"]) / steady(r["echo"]) for r in rounds),
        "clip_ratio": med(clip(r["server"]) / clip(r["echo"]) for r in rounds),
        "echo_first": med(r["echo"][0] for r in rounds) * 1e3,
        "server_first": med(r["server"][0] for r in rounds) * 1e3,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--frames2k", type=int, default=24)
    p.add_argument("--frames4k", type=int, default=12)
    p.add_argument("--repeats", type=int, default=5, help="rounds per case (default 5); medians are reported")
    p.add_argument("--chunk-mb", type=float, default=wire.DEFAULT_CHUNK_BYTES / 2**20)
    p.add_argument(
        "--same-process",
        action="store_true",
        help="run the clients in the benchmark's process, sharing its GIL with the servers",
    )
    p.add_argument("--run-client", help=argparse.SUPPRESS)  # the child's side: "echo_port,server_port"
    p.add_argument("--shape", help=argparse.SUPPRESS)
    p.add_argument("--disc", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    chunk = int(args.chunk_mb * 2**20)
    if args.run_client:
        n, h, w = map(int, args.shape.split(","))
        echo_port, server_port = map(int, args.run_client.split(","))
        print(
            json.dumps(client_rounds(echo_port, server_port, n, h, w, args.disc, chunk, args.repeats, False))
        )
        return 0
    logging.getLogger("vh.core.engine").setLevel(logging.ERROR)  # "empty matte" notices are the point here

    running = create_server("127.0.0.1:0", ServerOptions(models=["cut"], max_clients=4))
    echo, echo_port = start_echo()
    where = "this process" if args.same_process else "a child process"
    print(f"chunks of {chunk / 2**20:.1f} MiB; medians of {args.repeats} rounds; clients in {where}")
    from vh.core.engine import Engine

    engine = Engine("cut")
    print(
        f"{'case':<22}{'echo MB/s':>11}{'server MB/s':>13}{'server fps':>12}{'server/echo':>13}"
        f"{'whole clip':>12}{'1st frame ms':>14}{'engine MB/s':>13}"
    )
    try:
        for label, (h, w), n in (
            ("2K half RGBA", (1080, 2048), args.frames2k),
            ("4K half RGBA", (2160, 4096), args.frames4k),
        ):
            for disc in (False, True):
                frames, mattes = make_clip(n, h, w, disc)
                frame_mb = (frames[0].nbytes + mattes[0].nbytes) / 1e6
                rounds = client_rounds(
                    echo_port, running.port, n, h, w, disc, chunk, args.repeats, not args.same_process
                )
                m = summarize(rounds, frame_mb)
                eng_t = statistics.median(run_engine(engine, frames, mattes) for _ in range(args.repeats))
                case = f"{label}, {'disc' if disc else 'empty'}"
                print(
                    f"{case:<22}{m['echo']:>11.0f}{m['server']:>13.0f}{m['server'] / frame_mb:>12.2f}"
                    f"{m['ratio']:>13.2f}{m['clip_ratio']:>12.2f}"
                    f"{m['echo_first']:>7.0f}/{m['server_first']:<6.0f}{frame_mb * n / eng_t:>13.0f}",
                    flush=True,
                )
                del frames, mattes
    finally:
        running.stop(grace=1)
        echo.stop(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
