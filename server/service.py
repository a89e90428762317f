"""The Harmonizer servicer: a thin layer between the wire (vh.client.wire) and the engines (vh.server.pool).

One Harmonize stream = a pipeline of three threads: one receives chunks, one converts them into frames as they
arrive, and the handler pushes frames into its engine stream and sends each harmonized frame back as soon as
its window is done. Model calls go through the shared DeviceQueue, which batches windows across streams.
Errors are raised, never aborted here: the ErrorInterceptor maps them to statuses."""

from __future__ import annotations

import itertools
import logging
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import grpc
import numpy as np
from grpc_health.v1 import health

from vh.client import wire
from vh.client.v1 import harmonize_pb2 as pb
from vh.client.v1 import harmonize_pb2_grpc as pb_grpc
from vh.core.engine import count_nonfinite, require_finite
from vh.core.errors import InputError, ResourceError
from vh.core.io.threads import prefetch
from vh.server.batching import DeviceQueue, StreamCancelled
from vh.server.configs import ConfigPolicy
from vh.server.interceptors import CancelledError, DeadlineError, PreconditionError, UnavailableError
from vh.server.pool import ModelPool

log = logging.getLogger("vh.server")


@dataclass
class ServiceConfig:
    max_clients: int = 8
    limits: wire.Limits = field(default_factory=wire.Limits)
    device_description: str = ""
    device_memory: int = 0
    spare_buffer_bytes: int = 1 << 30  # frame buffers kept for reuse across streams
    header_timeout: float = 10.0  # seconds from the start of a stream to its header
    idle_timeout: float = 120.0  # seconds a stream may wait on its client
    memory_budget: int = 16 << 30  # host memory all streams may reserve, spare buffers included
    stream_memory: int = 8 << 30  # host memory one stream may reserve
    ocio: ConfigPolicy = field(default_factory=ConfigPolicy)


class _Slots:
    """Bounded concurrency: a stream either gets a slot at once or is told RESOURCE_EXHAUSTED (never
    queued)."""

    def __init__(self, n: int):
        self.capacity = n
        self._sem = threading.BoundedSemaphore(n)
        self._lock = threading.Lock()
        self.active = 0

    @contextmanager
    def take(self) -> Iterator[None]:
        if not self._sem.acquire(blocking=False):
            raise ResourceError(
                f"server busy: all {self.capacity} stream slots are in use; retry shortly "
                "or send this job to another server"
            )
        with self._lock:
            self.active += 1
        try:
            yield
        finally:
            with self._lock:
                self.active -= 1
            self._sem.release()


def _gib(n: int) -> str:
    return f"{n / (1 << 30):.2f} GiB"


class _Memory:
    """Host memory reserved by streams, against a per-stream and a server-wide budget.

    A stream reserves what it may hold at once (`stream_bytes`) when its header arrives, before anything of it
    is allocated, and gives it back when it ends; over either budget it is refused with RESOURCE_EXHAUSTED and
    the numbers. Spare frame buffers (_Buffers) give way to reservations, so the two together stay within
    budget."""

    def __init__(self, budget: int, per_stream: int, buffers: _Buffers):
        self.budget, self.per_stream, self.buffers = budget, min(per_stream, budget), buffers
        self.reserved = 0
        self.streams = 0
        self._lock = threading.Lock()

    @contextmanager
    def reserve(self, need: int, what: str) -> Iterator[None]:
        if need > self.per_stream:
            raise ResourceError(
                f"{what} needs about {_gib(need)} of server memory, over this server's "
                f"{_gib(self.per_stream)} per stream; send smaller frames or ask for a bigger "
                "--stream-memory"
            )
        with self._lock:
            free = self.budget - self.reserved
            if need > free:
                raise ResourceError(
                    f"server memory is busy: {what} needs about {_gib(need)}, {self.streams} "
                    f"streams hold {_gib(self.reserved)} of {_gib(self.budget)}; retry shortly or "
                    "send this job to another server"
                )
            self.reserved += need
            self.streams += 1
            self.buffers.trim(free - need)
        try:
            yield
        finally:
            with self._lock:
                self.reserved -= need
                self.streams -= 1


def stream_bytes(geometry: wire.Geometry, separate_matte: bool, engine: Any, limits: wire.Limits) -> int:
    """Host memory one stream may hold at once, an upper estimate: each frame in flight (the engine holds
    `window + stride * (batch - 1)`, one more is being received and one sent) as the messages it came in and
    its float32 copy, one result in float32 and in the wire dtype, and the messages gRPC receives ahead."""
    pixels = geometry.width * geometry.height
    wire_frame = geometry.image_bytes + (geometry.matte_bytes if separate_matte else 0)
    float_frame = pixels * (geometry.channels + 1) * 4  # image and matte
    held = int(engine.window) + int(engine.stride) * (int(getattr(engine, "batch", 1)) - 1) + 2
    ahead = (_RECEIVE_AHEAD + 1) * min(limits.max_message_bytes, wire_frame)
    result = pixels * geometry.channels * (4 + geometry.dtype.itemsize)
    return held * (wire_frame + float_frame) + ahead + result


class _SendWatch:
    """Ends streams whose client stopped taking results (idle timeout on the sending side).

    gRPC sends a response while the handler's generator waits, so a client that never reads (flow control)
    would hold the handler, and its slot, for ever; a thread of our own cancels such a call. The receiving
    side times out on the handler's own threads (prefetch's timeout), with a DEADLINE_EXCEEDED message."""

    def __init__(self, timeout: float):
        self.timeout = timeout
        self._since: dict[int, tuple[float, grpc.ServicerContext]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @contextmanager
    def sending(self, context: grpc.ServicerContext) -> Iterator[None]:
        with self._lock:
            self._since[id(context)] = (time.monotonic(), context)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="vh-send-watch", daemon=True)
                self._thread.start()
        try:
            yield
        finally:
            with self._lock:
                self._since.pop(id(context), None)

    def _run(self) -> None:
        while True:
            time.sleep(min(1.0, self.timeout / 4))
            now = time.monotonic()
            with self._lock:
                stuck = [ctx for since, ctx in self._since.values() if now - since > self.timeout]
            for context in stuck:
                log.info(
                    "a client took no results for %.0f s: stream cancelled to free its slot", self.timeout
                )
                context.cancel()


class _Buffers:
    """Frame buffers recycled across frames and streams, by shape and dtype, up to `max_bytes` of spares (the
    least recently used sizes are dropped first).

    A fresh 18-141 MB buffer per frame is page-faulted in by the kernel at a cost above the work done in it
    (2K half RGBA to float: 15 ms into a new array, 2 ms into a reused one), so a frame's float copies (and
    its result in the wire dtype) come back once its result is sent. Shared by the server's streams, because a
    host asks for many short ones (a render of a few frames each), which would otherwise fault in every buffer
    anew. Thread-safe."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._free: OrderedDict[tuple, list[np.ndarray]] = OrderedDict()
        self.spare_bytes = 0
        self._lock = threading.Lock()

    def take_array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        key = (tuple(shape), np.dtype(dtype).str)
        with self._lock:
            spare = self._free.get(key)
            if spare:
                self._free.move_to_end(key)
                self.spare_bytes -= spare[-1].nbytes
                return spare.pop()
        return np.empty(shape, dtype)

    def trim(self, max_bytes: int) -> None:
        """Drop spares, least recently used sizes first, until at most `max_bytes` are kept."""
        with self._lock:
            while self.spare_bytes > max(0, max_bytes) and self._free:
                oldest, spare = next(iter(self._free.items()))
                if spare:
                    self.spare_bytes -= spare.pop(0).nbytes
                else:
                    del self._free[oldest]

    def give(self, *bufs: np.ndarray | None) -> None:
        """Return a frame's buffers; one named twice is kept once (two frames must never share a buffer)."""
        for buf in {id(b): b for b in bufs if b is not None}.values():
            if buf.base is not None or not buf.flags.writeable or buf.nbytes > self.max_bytes:
                continue  # arrays of our own only, never views
            key = (buf.shape, buf.dtype.str)
            with self._lock:
                self._free.setdefault(key, []).append(buf)
                self._free.move_to_end(key)
                self.spare_bytes += buf.nbytes
                while self.spare_bytes > self.max_bytes:
                    oldest, spare = next(iter(self._free.items()))
                    if spare:
                        self.spare_bytes -= spare.pop(0).nbytes
                    else:
                        del self._free[oldest]


def _convert_into(dst: np.ndarray, src: np.ndarray) -> np.ndarray:
    """dst[...] = src across dtypes (half <-> float): torch's vectorised copy, several times numpy's
    `astype`."""
    import torch

    torch.from_numpy(dst).copy_(torch.from_numpy(src))
    return dst


# _convert_into's src is often a read-only view of a received message: torch only reads it, but warns about it
warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning, __name__)


class HarmonizerService(pb_grpc.HarmonizerServicer):
    def __init__(self, pool: ModelPool, queue: DeviceQueue, config: ServiceConfig):
        self.pool = pool
        self.queue = queue
        self.config = config
        self.slots = _Slots(config.max_clients)
        self.buffers = _Buffers(min(config.spare_buffer_bytes, config.memory_budget))
        self.memory = _Memory(config.memory_budget, config.stream_memory, self.buffers)
        self._send_watch = _SendWatch(config.idle_timeout)
        self._ids = itertools.count(1)
        self.accepted = 0  # streams that got a slot (a per-server count, e.g. to see load balancing)
        self._draining = threading.Event()
        self._interrupt = threading.Event()

    def drain(self) -> None:
        """Refuse new streams (UNAVAILABLE) while in-flight ones finish; called on SIGTERM."""
        self._draining.set()

    def interrupt(self) -> None:
        """End in-flight streams at their next frame with UNAVAILABLE (the drain's grace time is over)."""
        self._interrupt.set()

    # ------------------------------------------------------------------------------------------------------ #
    def GetInfo(self, request: pb.GetInfoRequest, context: grpc.ServicerContext) -> pb.ServerInfo:
        import torch

        from vh.core import __version__
        from vh.core.color import DEFAULT_CONFIG

        lim = self.config.limits
        return pb.ServerInfo(
            api_version="v1",
            server_version=__version__,
            torch_version=torch.__version__,
            grpc_version=grpc.__version__,
            device=pb.DeviceInfo(
                name=self.pool.device,
                description=self.config.device_description,
                memory_bytes=self.config.device_memory,
            ),
            models=self.pool.info(),
            default_model=self.pool.default,
            default_ocio_config=DEFAULT_CONFIG,
            dtypes=list(wire.DTYPES),
            limits=pb.Limits(
                max_width=lim.max_width,
                max_height=lim.max_height,
                max_channels=lim.max_channels,
                max_message_bytes=lim.max_message_bytes,
                max_chunk_bytes=lim.max_chunk_bytes,
                max_clients=self.config.max_clients,
                max_batch=self.queue.max_batch,
                max_frames=lim.max_frames,
            ),
        )

    # ------------------------------------------------------------------------------------------------------ #
    def Harmonize(
        self, request_iterator: Iterator[pb.HarmonizeRequest | wire.ChunkView], context: grpc.ServicerContext
    ) -> Iterator[pb.HarmonizeResponse | wire.ChunkView]:
        if self._draining.is_set():
            raise UnavailableError("server is shutting down; send the job to another server")
        with self.slots.take():
            stream_id = f"s{next(self._ids)}"
            self.accepted += 1
            started = time.perf_counter()
            frames = 0
            try:
                for response in self._harmonize(stream_id, request_iterator, context):
                    if isinstance(response, wire.ChunkView) and response.offset == 0:
                        frames += 1
                    with self._send_watch.sending(context):
                        yield response
            except (StreamCancelled, grpc.RpcError) as exc:
                if self._draining.is_set() and context.is_active():
                    raise UnavailableError(
                        "server is shutting down; the job was interrupted, send it again"
                    ) from exc
                raise CancelledError(str(exc)) from exc
            finally:
                log.info(
                    "%s: %d frames in %.2fs%s",
                    stream_id,
                    frames,
                    time.perf_counter() - started,
                    "" if context.is_active() else " (client gone)",
                )

    def _harmonize(
        self,
        stream_id: str,
        requests: Iterator[pb.HarmonizeRequest | wire.ChunkView],
        context: grpc.ServicerContext,
    ) -> Iterator[pb.HarmonizeResponse | wire.ChunkView]:
        cfg = self.config
        # gRPC's receive runs a few messages ahead on a thread of its own, so that the network keeps moving
        # while this stream converts chunks; waiting on it is where a stream waits for its client, so the
        # deadlines are kept there
        messages = prefetch(
            requests,
            depth=_RECEIVE_AHEAD,
            timeout=cfg.idle_timeout,
            first_timeout=cfg.header_timeout,
            join=False,
        )  # an idle client must not hold the slot
        try:
            yield from self._accept(stream_id, messages, context)
        finally:
            try:
                messages.close()  # stops the receiving thread, whichever way the stream ended
            except ValueError:  # still read by the conversion thread, which closes it as the call ends
                pass

    def _accept(
        self,
        stream_id: str,
        messages: Iterator[pb.HarmonizeRequest | wire.ChunkView],
        context: grpc.ServicerContext,
    ) -> Iterator[pb.HarmonizeResponse | wire.ChunkView]:
        cfg = self.config
        try:
            first = next(messages, None)
        except TimeoutError:
            raise DeadlineError(
                f"no StreamHeader within {cfg.header_timeout:g} s of the stream's start; the stream "
                "was closed to free its slot"
            ) from None
        if first is None:
            raise InputError("empty stream: the first message must be a StreamHeader")
        if isinstance(first, wire.ChunkView) or first.WhichOneof("kind") != "header":
            got = "a chunk" if isinstance(first, wire.ChunkView) else "an empty message"
            raise InputError(f"the first message of a Harmonize stream must be a StreamHeader, got {got}")
        header = first.header
        lim = cfg.limits
        geometry = wire.geometry_from_proto(header.format, lim)
        options = {k: wire.option_from_proto(v) for k, v in header.options.items()}
        with self.pool.lease(header.model, options) as (name, engine):
            need = stream_bytes(geometry, header.matte_source == pb.MATTE_SEPARATE, engine, lim)
            with self.memory.reserve(need, f"a stream of {geometry.describe()} frames"):
                yield from self._run(stream_id, name, engine, header, geometry, messages, context)

    def _run(
        self,
        stream_id: str,
        name: str,
        engine: Any,
        header: pb.StreamHeader,
        geometry: wire.Geometry,
        requests: Iterator[pb.HarmonizeRequest | wire.ChunkView],
        context: grpc.ServicerContext,
    ) -> Iterator[pb.HarmonizeResponse | wire.ChunkView]:
        lim = self.config.limits
        matte_source = header.matte_source
        if matte_source == pb.MATTE_SOURCE_UNSPECIFIED:
            raise InputError("header.matte_source is unset; use MATTE_SEPARATE, MATTE_ALPHA or MATTE_AUTO")
        if matte_source not in (pb.MATTE_SEPARATE, pb.MATTE_ALPHA, pb.MATTE_AUTO):
            raise InputError(f"header.matte_source {matte_source} is not a known MatteSource")
        if matte_source == pb.MATTE_ALPHA and geometry.channels < 4:
            raise InputError(
                f"matte_source is MATTE_ALPHA but frames have {geometry.channels} channels; "
                "send RGBA or a separate matte"
            )
        if matte_source == pb.MATTE_AUTO and not getattr(engine.model, "supports_auto_matte", False):
            raise PreconditionError(f"model {name!r} needs a matte (it cannot predict one); connect a matte")
        strength = header.strength if header.HasField("strength") else 1.0
        if lim.max_frames and header.frame_count > lim.max_frames:
            raise ResourceError(
                f"{header.frame_count} frames is over this server's limit of {lim.max_frames} "
                "per stream; split the shot"
            )

        ticket = self.queue.ticket(engine)
        # Fires when the RPC ends for any reason; on a cancel or disconnect it drops this stream's queued
        # windows at once instead of letting them occupy the device.
        context.add_callback(ticket.cancel)
        config = self.config.ocio.resolve(header.ocio_config, geometry.colorspace)
        stream = engine.stream(geometry.colorspace, config=config, infer=ticket.infer, strength=strength)
        log.info(
            "%s: %s %s, model %s, matte %s, from %s",
            stream_id,
            geometry.describe(),
            geometry.colorspace,
            name,
            pb.MatteSource.Name(matte_source),
            header.client_name or context.peer(),
        )
        yield pb.HarmonizeResponse(
            accepted=pb.StreamAccepted(
                model=name, window=int(engine.window), format=header.format, stream_id=stream_id
            )
        )

        buffers = self.buffers
        incoming = _Incoming(
            geometry, matte_source, buffers, header.first_frame, lim.max_frames, header.frame_count
        )
        inputs: dict[int, tuple[wire.Frame, np.ndarray, np.ndarray | None]] = {}  # until each result is sent
        emitted = 0

        def emit(outs: list[np.ndarray]) -> Iterator[wire.ChunkView]:
            nonlocal emitted
            for out in outs:
                received, image, matte = inputs.pop(emitted)
                if out is image:  # passed through unchanged: the messages that brought it are the answer
                    yield from wire.resend(received.planes[pb.PLANE_IMAGE], lim.max_chunk_bytes)
                    buffers.give(image, matte)
                else:
                    pixels = (
                        out
                        if out.dtype == geometry.dtype
                        else _convert_into(buffers.take_array(out.shape, geometry.dtype), out)
                    )
                    # the chunks are views of `pixels`, each serialized (copied) before the next is asked for,
                    # so once the last is taken the frame's buffers can serve the frames still to come
                    yield from wire.encode_plane(emitted, pixels, pb.PLANE_IMAGE, lim.max_chunk_bytes)
                    buffers.give(image, matte, out, pixels)
                emitted += 1

        def messages() -> Iterator[pb.HarmonizeRequest | wire.ChunkView]:
            try:
                yield from requests
            except TimeoutError:
                raise DeadlineError(
                    f"no data from the client for {self.config.idle_timeout:g} s (frame {incoming.received} "
                    "was next); the stream was closed to free its slot"
                ) from None

        def received() -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
            for request in messages():
                if not isinstance(request, wire.ChunkView):
                    if request.WhichOneof("kind") is None:
                        raise InputError(
                            "a Harmonize request is empty: after the StreamHeader, every message must "
                            "be a chunk"
                        )
                    raise InputError(
                        "a stream takes one StreamHeader; got another header after frames started"
                    )
                done = incoming.add(request)
                if done is not None:
                    frame, image, matte = done
                    inputs[frame.index] = done
                    yield frame.index, image, matte
            incoming.finish()

        # three stages on three threads: gRPC receives frame n+2, chunks of frame n+1 are converted as they
        # come in, and the engine works on frame n and sends it back. Their errors (bad chunks, a vanished
        # client) are raised here, where the interceptor maps them.
        frames = prefetch(received(), depth=1, join=False)  # it waits on the client too
        try:
            for index, image, matte in frames:
                if self._interrupt.is_set():
                    raise UnavailableError(
                        f"server is shutting down; the job stopped after {emitted} frames, "
                        "send it again (to another server)"
                    )
                yield from emit(stream.push(image, matte, label=header.first_frame + index, finite=True))
            yield from emit(stream.finish())
        finally:
            frames.close()  # stops the receiving threads


#: messages gRPC may receive ahead of the conversion (3 MiB each by default)
_RECEIVE_AHEAD = 4

#: values converted and checked at a time: a float32 block stays in cache between the two
_CHECK_BLOCK = 1 << 18


class _Incoming:
    """Received chunks -> the engine's float32 [H, W, C] frames and [H, W] mattes.

    Each chunk is converted into a recycled buffer and checked for NaN/Inf as it arrives, so a frame is ready
    for the engine as soon as its last chunk is in, instead of one conversion later. The engine is told the
    check is done (`push(..., finite=True)`). A sender that splits values across chunks (legal, but no client
    of ours does) gets its plane converted whole when complete.

    Out-of-range mattes (clipped, as filtered mattes overshoot) are the engine's to judge, and NaN/Inf get the
    engine's own message, so `vh harmonize` and the server accept exactly the same input.
    """

    def __init__(
        self,
        geometry: wire.Geometry,
        matte_source: int,
        buffers: _Buffers,
        first_frame: int,
        max_frames: int = 0,
        frame_count: int = 0,
    ):
        self.geometry, self.matte_source, self.buffers = geometry, matte_source, buffers
        self.first_frame, self.max_frames, self.frame_count = first_frame, max_frames, frame_count
        self._assembler = wire.FrameAssembler(geometry, with_matte=matte_source == pb.MATTE_SEPARATE)
        self._planes: dict[int, np.ndarray] = {}  # the frame being received: plane -> float32 buffer
        self._bad: dict[int, int] = {}  # plane -> NaN/Inf values so far
        self._deferred: set[int] = set()  # planes to convert whole once complete (values split across chunks)

    def add(self, chunk: wire.ChunkView) -> tuple[wire.Frame, np.ndarray, np.ndarray | None] | None:
        """Take the next chunk; return (frame, image, matte) once it completes a frame, else None."""
        frame = self._assembler.add(chunk)  # checks the chunk against the contract before anything is written
        if not self._planes and self.max_frames and chunk.frame_index >= self.max_frames:
            raise ResourceError(
                f"stream is over this server's limit of {self.max_frames} frames; split the shot"
            )
        if not self._planes and self.frame_count and chunk.frame_index >= self.frame_count:
            raise InputError(
                f"frame {chunk.frame_index} is one more than the {self.frame_count} frames the header "
                "declared (frame_count)"
            )
        plane = chunk.plane
        out = self._planes.get(plane)
        if out is None:
            out = self._planes[plane] = self.buffers.take_array(self.geometry.shape(plane), np.float32)
            self._bad[plane] = 0
        part = None if plane in self._deferred else wire.chunk_values(chunk, self.geometry.dtype)
        if part is None:
            self._deferred.add(plane)
        else:
            start, values = part
            self._bad[plane] += _convert_checked(out.reshape(-1)[start : start + len(values)], values)
        return None if frame is None else self._complete(frame)

    @property
    def received(self) -> int:
        """Frames completely received so far."""
        return self._assembler.next_index

    def finish(self) -> None:
        self._assembler.finish()
        sent = self._assembler.next_index
        if self.frame_count and sent != self.frame_count:
            raise InputError(
                f"the stream ended after {sent} frames but the header declared {self.frame_count} "
                "(frame_count); the shot was cut short"
            )

    def _complete(self, frame: wire.Frame) -> tuple[wire.Frame, np.ndarray, np.ndarray | None]:
        label = self.first_frame + frame.index
        for plane in self._deferred:
            self._bad[plane] = 0
            frame.read(plane, self._planes[plane], self._count_into(plane))
        image = self._planes.pop(pb.PLANE_IMAGE)
        require_finite(self._bad[pb.PLANE_IMAGE], label, "plate")
        matte = self._planes.pop(pb.PLANE_MATTE, None)
        if matte is not None:
            require_finite(self._bad[pb.PLANE_MATTE], label, "matte")
        elif self.matte_source == pb.MATTE_ALPHA:
            matte = image[..., 3].copy()  # [H, W]
        self._deferred.clear()
        return frame, image, matte

    def _count_into(self, plane: int) -> Callable[[np.ndarray, np.ndarray], None]:
        def convert(dst: np.ndarray, src: np.ndarray) -> None:
            self._bad[plane] += _convert_checked(dst, src)

        return convert


def _convert_checked(dst: np.ndarray, src: np.ndarray) -> int:
    """dst[...] = src (flat arrays) converted to float32; returns how many NaN/Inf values there were, counted
    block by block while each block is still in cache (a separate pass would read the frame back from
    memory)."""
    bad = 0
    for start in range(0, len(src), _CHECK_BLOCK):
        block = _convert_into(dst[start : start + _CHECK_BLOCK], src[start : start + _CHECK_BLOCK])
        bad += count_nonfinite(block)
    return bad


class HealthService(health.HealthServicer):
    """Standard gRPC health checking, with Watch streams capped.

    A Watch never ends by itself and holds a server thread while open, so open ones could take every RPC the
    server allows. With a token they need it (interceptors.TokenInterceptor); with or without one, at most
    MAX_WATCHERS are open at once and more get RESOURCE_EXHAUSTED. The server's thread pool has room for them
    beside the stream slots, so watchers never take what Harmonize, GetInfo and Check need. Check stays open
    and unlimited: it is answered at once."""

    MAX_WATCHERS = 4

    def __init__(self) -> None:
        super().__init__()
        self._watchers = threading.BoundedSemaphore(self.MAX_WATCHERS)

    def Watch(self, request: Any, context: grpc.ServicerContext, send_response_callback: Any = None) -> Any:
        if send_response_callback is not None:  # gRPC's non-blocking form holds no thread
            return super().Watch(request, context, send_response_callback)
        if not self._watchers.acquire(blocking=False):
            raise ResourceError(
                f"this server allows {self.MAX_WATCHERS} health Watch streams at once; use "
                "Health.Check, or close another Watch"
            )
        return self._watch(request, context)

    def _watch(self, request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
        try:
            yield from super().Watch(request, context)
        finally:
            self._watchers.release()
