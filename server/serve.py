"""`vh-server`: serve harmonization models over gRPC, one process per GPU.

    vh-server --gpu 0 --model stats --checkpoint runs/vhmae/ckpt-100000 --port 50051
    vh-server --device cpu --model cut --port 0            # prints the port it bound

Listens on 127.0.0.1 unless --host says otherwise. SIGTERM/SIGINT: stop accepting streams, give in-flight ones
--grace seconds to finish, cancel the rest with UNAVAILABLE, exit 0 (within grace + 2 s, whatever clients do).

Misuse: a stream must send its header within --header-timeout and then make progress within --idle-timeout, or
it is ended and its slot freed; keepalive pings find vanished clients. Each stream reserves the host memory it
may hold (checked against --stream-memory and --memory-budget) before anything is allocated. Clients may name
only built-in ocio:// configs, the server's own, or configs under an --ocio-dir."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from vh.client import wire
from vh.core.errors import InputError, VhError
from vh.core.models.registry import DEFAULT_MODEL

log = logging.getLogger("vh.server")

SERVICE_NAME = "vh.server.v1.Harmonizer"


@dataclass
class ServerOptions:
    models: list[str] = field(default_factory=lambda: [DEFAULT_MODEL])
    checkpoints: list[str] = field(default_factory=list)
    device: str = "cpu"
    max_batch: int = 8
    stream_batch: int = 1
    max_clients: int = 8
    token: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    limits: wire.Limits = field(default_factory=wire.Limits)
    ocio_dirs: list[str] = field(default_factory=list)  # folders whose configs clients may name
    header_timeout: float = 10.0  # seconds from the start of a stream to its header
    idle_timeout: float = (
        120.0  # seconds a stream may wait on its client (no message in, or a result not taken)
    )
    keepalive: float = (
        30.0  # seconds between pings; no answer within 10 s (or this, if shorter) drops the connection
    )
    memory_budget: int = 0  # bytes of host memory for all streams; 0 = half of this machine's memory
    stream_memory: int = 8 << 30  # bytes one stream may reserve


@dataclass
class Running:
    """A started server and the pieces tests and the signal handler need."""

    server: grpc.Server
    port: int
    service: object  # HarmonizerService
    health: object  # grpc_health HealthServicer
    queue: object  # DeviceQueue

    def stop(self, grace: float = 5.0) -> bool:
        """Graceful stop: NOT_SERVING, new streams get UNAVAILABLE, in-flight ones have `grace` seconds to
        finish, then end with UNAVAILABLE at their next frame; a stream idle on its client is cancelled.

        Returns within grace + 1.5 s whatever the clients do; False when gRPC had not finished by then (its
        threads may still be winding down, so the process should exit without joining them)."""
        self.health.enter_graceful_shutdown()
        self.service.drain()
        deadline = time.monotonic() + grace
        while self.service.slots.active and time.monotonic() < deadline:
            time.sleep(0.05)
        self.service.interrupt()
        # bounded: gRPC's stop cancels every call after 1 s, but a handler thread stuck in a call it could not
        # cancel must not keep a SIGTERM from ending the process
        stopped = self.server.stop(1.0).wait(timeout=1.4)
        self.queue.close(timeout=0.1)
        return stopped


def _device_info(device: str) -> tuple[str, int]:
    import torch

    if device.startswith("cuda"):
        props = torch.cuda.get_device_properties(torch.device(device))
        return props.name, int(props.total_memory)
    return f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)", 0


def _limit_blas_threads() -> None:
    """One BLAS thread per call: the server already runs streams in parallel, and the engine's BLAS calls are
    small solves where OpenBLAS's spinning worker threads only oversubscribe the cores (measured on 2 cores,
    16 clients: 88 s with default threads, 2.6 s with one)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it, set OPENBLAS_NUM_THREADS=1 in the environment instead
        log.warning("threadpoolctl is not installed; set OPENBLAS_NUM_THREADS=1 for concurrent clients")
        return
    threadpool_limits(limits=1, user_api="blas")


def _set_torch_threads(n: int) -> None:
    """Torch intra-op threads for the whole process: what the loaded engines run best with (every core only
    for a network on the CPU). Otherwise torch's work here is frame conversion, where an idle worker spins
    after each copy and takes a core from gRPC (2K half RGBA through `cut` on 2 cores: 45 ms a frame with two
    threads, 36 ms with one)."""
    import torch

    torch.set_num_threads(n)


def create_server(address: str = "127.0.0.1:0", options: ServerOptions | None = None) -> Running:
    """Build, bind and start a server; `address` port 0 picks a free port (returned in Running.port)."""
    from grpc_health.v1 import health, health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection

    from vh.client import wire
    from vh.client.v1 import harmonize_pb2
    from vh.core import runtime
    from vh.server.batching import DeviceQueue
    from vh.server.configs import ConfigPolicy
    from vh.server.interceptors import ErrorInterceptor, TokenInterceptor
    from vh.server.pool import ModelPool, ModelSpec
    from vh.server.service import HarmonizerService, HealthService, ServiceConfig

    opts = options or ServerOptions()
    _check_options(opts)
    _limit_blas_threads()
    runtime.tune_allocator()
    specs = [ModelSpec(name=m, model=m) for m in opts.models]
    specs += [ModelSpec.parse_checkpoint(c) for c in opts.checkpoints]
    pool = ModelPool(specs, device=opts.device, batch=opts.stream_batch)
    _set_torch_threads(max(m.engine.torch_threads for m in pool.models.values()))
    queue = DeviceQueue(max_batch=opts.max_batch)
    description, memory = _device_info(opts.device)
    service = HarmonizerService(
        pool,
        queue,
        ServiceConfig(
            max_clients=opts.max_clients,
            limits=opts.limits,
            device_description=description,
            device_memory=memory,
            header_timeout=opts.header_timeout,
            idle_timeout=opts.idle_timeout,
            memory_budget=opts.memory_budget or _physical_memory() // 2,
            stream_memory=opts.stream_memory,
            ocio=ConfigPolicy(opts.ocio_dirs),
        ),
    )

    interceptors = [ErrorInterceptor()]
    if opts.token:
        interceptors.insert(0, TokenInterceptor(opts.token))
    # Threads: one per stream slot and per health Watch (both long calls, each capped by the service), plus
    # headroom so GetInfo, health checks and the fast RESOURCE_EXHAUSTED answers to excess streams never wait
    # behind them. Beyond that gRPC itself answers RESOURCE_EXHAUSTED (maximum_concurrent_rpcs) instead of
    # queueing calls without bound. Every long call is capped or authenticated, so nobody without the token
    # can take the headroom for longer than a refusal takes.
    threads = opts.max_clients + HealthService.MAX_WATCHERS + 8
    keepalive_ms = int(opts.keepalive * 1000)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="vh-rpc"),
        interceptors=interceptors,
        options=[
            ("grpc.max_receive_message_length", opts.limits.max_message_bytes),
            ("grpc.max_send_message_length", opts.limits.max_message_bytes),
            (
                "grpc.so_reuseport",
                0,
            ),  # port 0 must mean a port of our own, not one shared with another server
            # Keepalive: ping a quiet connection, drop it when the ping goes unanswered, so the streams of a
            # client that vanished (crashed host, pulled cable) free their slots without waiting for TCP.
            ("grpc.keepalive_time_ms", keepalive_ms),
            ("grpc.keepalive_timeout_ms", min(10_000, keepalive_ms)),
            # a ping of gRPC's own (bandwidth probing) still unanswered holds back the keepalive ping, which a
            # frozen client then never gets: time out every ping, not only keepalive's
            ("grpc.http2.ping_timeout_ms", min(10_000, keepalive_ms)),
            ("grpc.keepalive_permit_without_calls", 1),
            # let clients ping as often as every 10 s without being told "too many pings"
            ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
            ("grpc.http2.max_ping_strikes", 2),
        ],
        maximum_concurrent_rpcs=threads,
    )
    # Registered by hand for Harmonize's codec (vh.client.wire): each chunk is read out of its message once.
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                harmonize_pb2.DESCRIPTOR.services_by_name["Harmonizer"].full_name,
                {
                    "GetInfo": grpc.unary_unary_rpc_method_handler(
                        service.GetInfo,
                        request_deserializer=harmonize_pb2.GetInfoRequest.FromString,
                        response_serializer=harmonize_pb2.ServerInfo.SerializeToString,
                    ),
                    "Harmonize": grpc.stream_stream_rpc_method_handler(
                        service.Harmonize,
                        request_deserializer=wire.decode_request,
                        response_serializer=wire.serialize_response,
                    ),
                },
            ),
        )
    )
    health_servicer = HealthService()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        (
            harmonize_pb2.DESCRIPTOR.services_by_name["Harmonizer"].full_name,
            health.SERVICE_NAME,
            reflection.SERVICE_NAME,
        ),
        server,
    )

    _check_bindable(address)
    try:
        if opts.tls_cert or opts.tls_key:
            key, cert = _read_tls(opts.tls_cert, opts.tls_key)
            port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
        else:
            port = server.add_insecure_port(address)
    except RuntimeError:  # grpcio >= 1.5x raises "Failed to bind to address" instead of returning 0
        port = 0
    if port == 0:
        queue.close()
        raise InputError(f"cannot listen on {address} (in use or not a local address)")
    server.start()
    for name in ("", SERVICE_NAME):
        health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    return Running(server, port, service, health_servicer, queue)


def _check_options(opts: ServerOptions) -> None:
    """Launch-time checks of numbers a typo could make absurd; each message names its flag."""
    lim = opts.limits
    if min(opts.max_clients, opts.max_batch, opts.stream_batch) < 1:
        raise InputError("--max-clients, --max-batch and --stream-batch must be at least 1")
    if not 1 <= min(lim.max_width, lim.max_height) <= max(lim.max_width, lim.max_height) <= 65536:
        raise InputError(f"--max-size must be within 1..65536, got {lim.max_width}x{lim.max_height}")
    if not 0 < lim.max_chunk_bytes <= lim.max_message_bytes:
        raise InputError("the chunk size must be positive and within the message size limit")
    for flag, value in (
        ("--header-timeout", opts.header_timeout),
        ("--idle-timeout", opts.idle_timeout),
        ("--keepalive", opts.keepalive),
    ):
        if not 0 < value < 1e6:  # also NaN
            raise InputError(f"{flag} must be a positive number of seconds, got {value}")
    if opts.keepalive < 1:
        raise InputError(f"--keepalive must be at least 1 second, got {opts.keepalive}")
    if opts.memory_budget < 0 or opts.stream_memory <= 0:
        raise InputError("--memory-budget and --stream-memory must be positive")
    for folder in opts.ocio_dirs:
        if not Path(folder).is_dir():
            raise InputError(f"--ocio-dir {folder} is not a folder")


def _check_bindable(address: str) -> None:
    """Bind the address once ourselves, to say why it cannot be listened on: gRPC only logs its reason (a
    multi-line log entry on stderr) and answers "Failed to bind"."""
    import socket

    host, _, port = address.rpartition(":")
    host = host.strip("[]")
    if not port.isdigit() or int(port) > 65535:  # gRPC would wrap 70000 to 4464 and listen there
        raise InputError(f"cannot listen on {address}: the port must be within 0..65535 (0 picks a free one)")
    try:
        infos = socket.getaddrinfo(host or None, int(port), type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, ValueError) as exc:
        raise InputError(f"cannot listen on {address}: {exc}") from None
    reasons = []
    for family, kind, proto, _, sockaddr in infos:
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gRPC binds
            try:
                probe.bind(sockaddr)
                return
            except OSError as exc:
                reasons.append(exc.strerror or str(exc))
    raise InputError(f"cannot listen on {address}: {reasons[0] if reasons else 'no address'}")


def _read_tls(cert_path: str | None, key_path: str | None) -> tuple[bytes, bytes]:
    """The PEM key and certificate chain, checked as a pair: gRPC would take garbage here and fail only at
    start, with a traceback, or at the first handshake."""
    import ssl

    if not (cert_path and key_path):
        raise InputError("TLS needs both --tls-cert and --tls-key")
    try:
        key, cert = Path(key_path).read_bytes(), Path(cert_path).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read TLS files: {exc}") from exc
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_path, key_path)
    except (ssl.SSLError, ValueError) as exc:
        raise InputError(
            f"--tls-cert {cert_path} and --tls-key {key_path} are not a PEM certificate chain and "
            f"its private key ({exc.__class__.__name__}: {getattr(exc, 'reason', None) or exc})"
        ) from None
    return key, cert


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        return 16 << 30


def _seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None


def _gib(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of GiB") from None
    if not 0 < value < 1 << 20:
        raise argparse.ArgumentTypeError(f"{text} GiB is not a positive size")
    return int(value * (1 << 30))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vh-server",
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n", 2)[2],
    )
    where = p.add_mutually_exclusive_group()
    where.add_argument("--gpu", type=int, metavar="N", help="serve on CUDA device N (one process per GPU)")
    where.add_argument("--device", default=None, help="torch device, e.g. cpu (default: cpu)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, loopback only)"
    )
    p.add_argument("--port", type=int, default=50051, help="port (0 picks a free one; default 50051)")
    p.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="NAME",
        help="model to preload (repeatable; default: the shipped default that `vh models` marks, unless "
        "--checkpoint is given)",
    )
    p.add_argument(
        "--checkpoint",
        action="append",
        default=[],
        metavar="[NAME=]PATH",
        help="checkpoint to preload, served under the model name in its sidecar or NAME (repeatable)",
    )
    p.add_argument(
        "--max-batch", type=int, default=8, help="windows per model call, across streams (default 8)"
    )
    p.add_argument(
        "--stream-batch",
        type=int,
        default=1,
        help="windows one stream collects before a model call (default 1: each frame comes back as "
        "soon as its window is done; raise for throughput with few clients)",
    )
    p.add_argument(
        "--max-clients",
        type=int,
        default=8,
        help="concurrent Harmonize streams; more get RESOURCE_EXHAUSTED (default 8)",
    )
    p.add_argument(
        "--max-size", type=int, default=8192, help="largest frame width or height accepted (default 8192)"
    )
    p.add_argument("--tls-cert", help="PEM certificate chain; with --tls-key enables TLS")
    p.add_argument("--tls-key", help="PEM private key")
    p.add_argument("--token-file", help="file holding a bearer token that every call must present")
    p.add_argument(
        "--grace", type=_seconds, default=10.0, help="seconds in-flight streams get on SIGTERM (default 10)"
    )
    p.add_argument(
        "--ocio-dir",
        action="append",
        default=[],
        metavar="DIR",
        help="folder of OCIO configs that clients may name (repeatable); clients may always use "
        "built-in ocio:// configs and this server's own; any other path is refused",
    )
    p.add_argument(
        "--header-timeout",
        type=_seconds,
        default=10.0,
        help="seconds a new stream has to send its header (default 10)",
    )
    p.add_argument(
        "--idle-timeout",
        type=_seconds,
        default=120.0,
        help="seconds a stream may wait on its client, with nothing sent or received, before it is "
        "ended to free its slot (default 120)",
    )
    p.add_argument(
        "--keepalive",
        type=_seconds,
        default=30.0,
        help="seconds between keepalive pings; a ping unanswered for 10 s (or this, if shorter) "
        "drops the connection and frees its streams' slots (default 30)",
    )
    p.add_argument(
        "--memory-budget",
        type=_gib,
        default=0,
        metavar="GIB",
        help="host memory all streams together may reserve (default: half of this machine's memory)",
    )
    p.add_argument(
        "--stream-memory",
        type=_gib,
        default=8 << 30,
        metavar="GIB",
        help="host memory one stream may reserve (default 8); a bigger request gets RESOURCE_EXHAUSTED",
    )
    p.add_argument("--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    return p


def _read_token(path: str) -> str:
    try:
        token = Path(path).read_text().strip()
    except OSError as exc:
        raise InputError(f"cannot read --token-file: {exc}") from exc
    if not token or any(c.isspace() for c in token):
        raise InputError(f"--token-file {path} must hold one token without spaces")
    return token


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        from vh.core.engine import parse_device

        # checked before any model loads: a missing GPU fails the launch in one line
        device = str(parse_device(f"cuda:{args.gpu}" if args.gpu is not None else (args.device or "cpu")))
        options = ServerOptions(
            models=args.model if args.model is not None else ([] if args.checkpoint else [DEFAULT_MODEL]),
            checkpoints=args.checkpoint,
            device=device,
            max_batch=args.max_batch,
            max_clients=args.max_clients,
            stream_batch=args.stream_batch,
            token=_read_token(args.token_file) if args.token_file else None,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            limits=wire.Limits(max_width=args.max_size, max_height=args.max_size),
            ocio_dirs=args.ocio_dir,
            header_timeout=args.header_timeout,
            idle_timeout=args.idle_timeout,
            keepalive=args.keepalive,
            memory_budget=args.memory_budget,
            stream_memory=args.stream_memory,
        )
        if not 0 <= args.grace < 1e6:
            raise InputError(f"--grace must be a number of seconds >= 0, got {args.grace}")
        host = f"[{args.host}]" if ":" in args.host and not args.host.startswith("[") else args.host
        running = create_server(f"{host}:{args.port}", options)
    except VhError as exc:
        print(f"vh-server: error: {exc}", file=sys.stderr)
        return 2

    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("%s received: draining (grace %.0fs)", signal.Signals(signum).name, args.grace)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log.info(
        "vh-server listening on %s:%d (%s, models: %s%s)",
        args.host,
        running.port,
        device,
        ", ".join(running.service.pool.models),
        ", TLS" if args.tls_cert else "",
    )
    print(f"vh-server ready on port {running.port}", flush=True)  # the line scripts and tests wait for
    stop.wait()
    stopped = running.stop(grace=args.grace)
    log.info("vh-server stopped%s", "" if stopped else " (gRPC was still winding down)")
    # Exit at once: a server has nothing left to save, and the interpreter's teardown (joining gRPC's worker
    # threads, collecting torch's objects) took seconds on a busy machine, or for ever with a thread stuck in
    # a call
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
