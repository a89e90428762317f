"""`vh remote`: run a job through a vh-server instead of on this machine.

    vh remote harmonize plate.####.exr --matte matte.####.exr -o out.####.exr --server gpu1:50051
    vh remote info --server gpu1:50051

Files are read and written here with vh.core.io (so the output appears only when the whole shot is done); the
server sees only pixels. Several --server addresses spread jobs with gRPC's round_robin policy.
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from vh.core.options import ModelOption

log = logging.getLogger("vh.remote")

DEFAULT_SERVER = "127.0.0.1:50051"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="remote_command", metavar="ACTION", required=True)
    h = sub.add_parser(
        "harmonize", help="harmonize a shot on a vh-server", description="harmonize a shot on a vh-server"
    )
    from vh.core.cli import common

    h.add_argument("input", help="plate: image sequence (shot.####.exr), video file or single image")
    h.add_argument("--matte", help="matte file or sequence (default: the plate's alpha)")
    common.add_output(h, "output file, sequence pattern or video; never one of the input's or matte's files")
    common.add_model(h, default_help=" (default: the server's default model; `vh remote info` lists them)")
    common.add_strength(h)
    common.add_color(h, ocio_help="the server's")
    h.add_argument("--frames", help="frame range FIRST-LAST of a sequence or video")
    h.add_argument(
        "--dtype",
        choices=("auto", "half", "float"),
        default="auto",
        help="pixels on the wire: auto (default: half where that is lossless, i.e. a half EXR plate "
        "with its own alpha or a half matte, else float; the result is then what `vh harmonize` "
        "writes, bit for bit), half (float16: half the traffic, rounds float32, 8- and 16-bit "
        "input) or float (float32)",
    )
    common.add_video_output(h)
    _connection_arguments(h)
    i = sub.add_parser("info", help="list a server's models, options, device and limits")
    _connection_arguments(i)


def _connection_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--server",
        action="append",
        default=None,
        metavar="HOST:PORT",
        help=f"vh-server address, repeatable (default: $VH_SERVER or {DEFAULT_SERVER})",
    )
    p.add_argument("--token-file", help="file with the server's bearer token")
    p.add_argument("--tls-ca", help="PEM root certificate(s) to verify a TLS server")
    p.add_argument("--tls-server-name", help="expected name in the server certificate (default: the host)")
    p.add_argument("--timeout", type=float, help="seconds before the job is abandoned (default: none)")


def _client(args: argparse.Namespace):
    from pathlib import Path

    from vh.client.remote import Client
    from vh.core.errors import InputError

    servers = args.server or [s for s in os.environ.get("VH_SERVER", DEFAULT_SERVER).split(",") if s]
    token = root = None
    try:
        if args.token_file:
            token = Path(args.token_file).read_text().strip()
        if args.tls_ca:
            root = Path(args.tls_ca).read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {exc.filename}: {exc.strerror}") from exc
    return Client(
        servers, token=token, root_certificates=root, server_name=args.tls_server_name, timeout=args.timeout
    )


def run(args: argparse.Namespace) -> int:
    if args.remote_command == "info":
        return _info(args)
    return _harmonize(args)


def _info(args: argparse.Namespace) -> int:
    from vh.core.options import describe

    with _client(args) as client:
        info = client.info()
    lim = info.limits
    print(
        f"vh-server {info.server_version} (API {info.api_version}, torch {info.torch_version}) on "
        f"{info.device.name}: {info.device.description}"
    )
    print(
        f"limits: {lim.max_width}x{lim.max_height}, {lim.max_clients} streams, batch {lim.max_batch}, "
        f"chunks {lim.max_chunk_bytes} B"
    )
    for m in info.models:
        default = " (default)" if m.name == info.default_model else ""
        size = f"{m.input_width}x{m.input_height}" if m.input_width else "any size"
        print(
            f"  {m.name}{default}: window {m.window}, {size}"
            + (f", weights {m.checkpoint}" if m.checkpoint else "")
        )
        for o in m.options:
            print(f"    {describe(_option(o))}")
    return 0


def _option(spec) -> ModelOption:
    """A GetInfo OptionSpec as the ModelOption it was made from, to be listed as `vh models` lists it."""
    which = spec.default_value.WhichOneof("value")
    return ModelOption(
        name=spec.name,
        kind=spec.kind,
        default=getattr(spec.default_value, which) if which else None,
        help=spec.help,
        minimum=spec.minimum if spec.HasField("minimum") else None,
        maximum=spec.maximum if spec.HasField("maximum") else None,
        choices=tuple(spec.choices),
    )


def _wire_dtype(args: argparse.Namespace, info) -> type:
    """float16 only where it loses nothing: every pixel sent (plate, and matte when separate) is stored as
    half. Anything else (float32 EXR, 16-bit PNG's k/65535, video's k/255) would be rounded on the way."""
    import numpy as np

    from vh.core import io

    if args.dtype != "auto":
        return np.float16 if args.dtype == "half" else np.float32
    lossless = info.pixel_type == "half" and (not args.matte or io.probe(args.matte).pixel_type == "half")
    return np.float16 if lossless else np.float32


def _harmonize(args: argparse.Namespace) -> int:
    import numpy as np

    from vh.core import color, io
    from vh.core.cli import common
    from vh.core.cli.harmonize import _writer_options
    from vh.core.options import parse_options

    if args.checkpoint:
        from vh.core.errors import InputError

        raise InputError("--checkpoint is for local runs; a server serves its own weights (`vh remote info`)")
    strength = common.check_strength(args.strength) if args.strength is not None else None
    info = io.probe(args.input, frames=io.parse_frame_range(args.frames))
    colorspace = args.colorspace or color.default_colorspace(
        args.input, args.ocio, is_float=info.is_float, chromaticities=info.extra.get("chromaticities")
    )
    options = parse_options(args.option)
    frames = io.read_frames(info)
    if args.matte:
        mattes, source = io.read_mattes(args.matte, info), "separate"
    elif info.alpha_channel == 3:  # the wire's MATTE_ALPHA means "the 4th channel"
        mattes, source = None, "alpha"
    else:
        mattes, source = io.read_mattes(None, info), "separate"  # raises the reader's "no matte" message
    # gRPC's sender thread reads the files; on any error it must be out of the image reader before the process
    # exits
    gate = _Gate()
    frames = gate.wrap(frames)
    mattes = gate.wrap(mattes) if mattes is not None else None
    started = time.perf_counter()
    sources = [info] + ([args.matte] if args.matte else [])
    with (
        _client(args) as client,
        io.open_writer(args.output, like=info, sources=sources, **_writer_options(args, info)) as writer,
    ):
        job = client.harmonize(
            frames,
            mattes,
            matte_source=source,
            colorspace=colorspace,
            model=args.model or "",
            options=options,
            ocio_config=args.ocio or "",
            strength=strength,
            dtype=_wire_dtype(args, info),
            frame_count=info.n_frames,
            first_frame=info.frames[0],
            client_name="vh remote",
        )
        try:
            for n, out in enumerate(job, 1):
                writer.write(out.astype(np.float32))
                if n == 1 or n % 25 == 0 or n == info.n_frames:
                    log.info("%d/%d frames", n, info.n_frames)
        finally:
            job.cancel()  # a no-op once the job is complete
            gate.close()
    took = time.perf_counter() - started
    model = job.accepted.model if job.accepted else args.model
    log.info(
        "wrote %s: %d frames with %s on %s in %.1fs (%.2f frames/s)",
        args.output,
        info.n_frames,
        model,
        client.target,
        took,
        info.n_frames / max(took, 1e-9),
    )
    return 0


class _Gate:
    """Iterators that another thread pulls, closed from this one: `close()` waits for a read in progress and
    ends them, so no thread is left decoding while the interpreter exits (which aborts the process)."""

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._closed = False

    def wrap(self, items):
        items = iter(items)
        while True:
            with self._lock:
                if self._closed:
                    return
                try:
                    item = next(items)
                except StopIteration:
                    return
            yield item

    def close(self) -> None:
        with self._lock:
            self._closed = True
