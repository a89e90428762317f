"""The thin client of vh-server: numpy frames in, harmonized numpy frames out.

Imports only grpcio, protobuf and numpy (plus vh's own light modules), so a DCC's Python (Nuke, Resolve) can
load it without torch.

    from vh.client.remote import Client
    with Client("127.0.0.1:50051") as client:
        for out in client.harmonize(frames, mattes, colorspace="ACEScg", model="stats"):
            ...                                   # [H, W, C] in the frames' dtype, same order

Several servers: `Client(["gpu1:50051", "gpu2:50051"])` opens one channel over all of them with gRPC's own
round_robin policy, so successive jobs (and the streams of concurrent jobs) spread across them; a job that
fails with UNAVAILABLE (a server stopping) is retried, by default up to 3 times, and round_robin routes the
retry to a server that is up."""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import grpc
import numpy as np

from vh.client import wire
from vh.client.v1 import harmonize_pb2 as pb
from vh.client.v1 import harmonize_pb2_grpc as pb_grpc
from vh.core.errors import InputError, VhError

# ------------------------------------------------------------------------------------------------------------
# Errors


class RemoteError(VhError):
    """A vh-server call failed. `code` is the gRPC status; `retryable` says whether trying again may
    succeed."""

    retryable = False

    def __init__(self, message: str, code: grpc.StatusCode | None = None):
        super().__init__(message)
        self.code = code


class InvalidRequest(RemoteError):
    """INVALID_ARGUMENT / OUT_OF_RANGE: the frames, matte or options are wrong; fix them, do not retry."""


class ModelNotFound(RemoteError):
    """NOT_FOUND: the model is unknown or not loaded on this server."""


class Unsupported(RemoteError):
    """FAILED_PRECONDITION: a valid request this server or model cannot do."""


class AuthenticationError(RemoteError):
    """UNAUTHENTICATED / PERMISSION_DENIED: a missing or wrong token."""


class ServerBusy(RemoteError):
    """RESOURCE_EXHAUSTED: all stream slots busy, frame over the limits, or device out of memory."""

    retryable = True


class ServerUnavailable(RemoteError):
    """UNAVAILABLE: unreachable or shutting down; another server (or a later try) may succeed."""

    retryable = True


class DeadlineExceeded(RemoteError):
    """DEADLINE_EXCEEDED: the job took longer than its timeout."""

    retryable = True


class JobCancelled(RemoteError):
    """CANCELLED: the job was cancelled (by this client, or the server cancelled it)."""


class ServerError(RemoteError):
    """INTERNAL or anything unexpected: a bug in the server (its log has the incident id)."""


_BY_CODE: dict[grpc.StatusCode, type[RemoteError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequest,
    grpc.StatusCode.OUT_OF_RANGE: InvalidRequest,
    grpc.StatusCode.NOT_FOUND: ModelNotFound,
    grpc.StatusCode.FAILED_PRECONDITION: Unsupported,
    grpc.StatusCode.UNAUTHENTICATED: AuthenticationError,
    grpc.StatusCode.PERMISSION_DENIED: AuthenticationError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ServerBusy,
    grpc.StatusCode.UNAVAILABLE: ServerUnavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.CANCELLED: JobCancelled,
}


def error_from_rpc(exc: grpc.RpcError) -> RemoteError:
    """The RemoteError subclass for a failed call, carrying the server's one-line message."""
    code = exc.code() if hasattr(exc, "code") else None
    details = exc.details() if hasattr(exc, "details") else str(exc)
    cls = _BY_CODE.get(code, ServerError)
    name = code.name if code is not None else "UNKNOWN"
    return cls(f"vh-server: {details or name.lower()} ({name})", code)


# ------------------------------------------------------------------------------------------------------------
# Client


#: `host:port` or `[v6]:port`, with no scheme
_HOST_PORT = re.compile(r"^(\[[^\]]*\]|[^:/\[\]]+):([^:]*)$")


def _target(addresses: str | Sequence[str]) -> str:
    """One gRPC target for one or several `host:port` addresses (several -> an `ipv4:`/`ipv6:` address
    list)."""
    if isinstance(addresses, str):
        addresses = (
            [a for a in addresses.split(",") if a] if "," in addresses and ":" in addresses else [addresses]
        )
    addresses = [a.strip() for a in addresses]
    if not addresses:
        raise InputError("no server address given")
    for address in addresses:
        host_port = _HOST_PORT.match(address)
        port = host_port.group(2) if host_port else "1"  # a gRPC target ("dns:///h:p", "unix:...") as given
        if not (port.isdigit() and 1 <= int(port) <= 65535):  # gRPC would wrap 70000 to port 4464
            raise InputError(f"server address {address!r}: the port must be a number within 1..65535")
    if len(addresses) == 1:
        return addresses[0]
    scheme = "ipv6" if all(a.startswith("[") for a in addresses) else "ipv4"
    return f"{scheme}:" + ",".join(
        a.split(":", 1)[1] if a.startswith(("ipv4:", "ipv6:")) else a for a in addresses
    )


@dataclass
class RetryPolicy:
    attempts: int = 4  # first try + 3 retries
    initial_backoff: float = 0.2
    max_backoff: float = 5.0


class Client:
    """A connection to one vh-server or a round-robin set of them. Thread-safe; share one per process."""

    def __init__(
        self,
        servers: str | Sequence[str],
        *,
        token: str | None = None,
        root_certificates: bytes | None = None,
        server_name: str | None = None,
        timeout: float | None = None,
        retry: RetryPolicy | None = None,
        chunk_bytes: int = wire.DEFAULT_CHUNK_BYTES,
    ):
        self.target = _target(servers)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.chunk_bytes = chunk_bytes
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()
        options = [
            ("grpc.service_config", json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})),
            ("grpc.max_receive_message_length", wire.MAX_MESSAGE_BYTES),
            ("grpc.max_send_message_length", wire.MAX_MESSAGE_BYTES),
            ("grpc.enable_retries", 0),  # retries are ours: they must resend frames, gRPC's cannot
        ]
        if server_name:
            options.append(("grpc.ssl_target_name_override", server_name))
        if root_certificates is not None:
            creds = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self._channel = grpc.secure_channel(self.target, creds, options=options)
        else:
            self._channel = grpc.insecure_channel(self.target, options=options)
        self._stub = pb_grpc.HarmonizerStub(self._channel)
        # Harmonize through wire's codec: frames go out as views and come back as views, not protobuf copies
        self._harmonize = self._channel.stream_stream(
            wire.HARMONIZE_METHOD,
            request_serializer=wire.serialize_request,
            response_deserializer=wire.decode_response,
        )

    # -- plumbing -------------------------------------------------------------------------------------------
    # #
    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Client:  # noqa: PYI034 - typing.Self needs Python 3.11
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _backoff(self, attempt: int) -> float:
        return min(self.retry.max_backoff, self.retry.initial_backoff * 2**attempt)

    # -- calls ----------------------------------------------------------------------------------------------
    # #
    def info(self, timeout: float | None = None) -> pb.ServerInfo:
        """GetInfo of one server (retried on UNAVAILABLE)."""
        for attempt in itertools.count():
            try:
                return self._stub.GetInfo(
                    pb.GetInfoRequest(), timeout=timeout or self.timeout or 30.0, metadata=self._metadata
                )
            except grpc.RpcError as exc:
                err = error_from_rpc(exc)
                if not isinstance(err, ServerUnavailable) or attempt + 1 >= self.retry.attempts:
                    raise err from None
                time.sleep(self._backoff(attempt))
        raise AssertionError("unreachable")

    def harmonize(
        self,
        frames: Iterable[np.ndarray],
        mattes: Iterable[np.ndarray] | None = None,
        *,
        colorspace: str,
        model: str = "",
        options: Mapping[str, float | int | bool | str] | None = None,
        matte_source: str | None = None,
        ocio_config: str = "",
        strength: float | None = None,
        dtype: str | np.dtype | None = None,
        frame_count: int = 0,
        first_frame: int = 0,
        timeout: float | None = None,
        client_name: str = "vh.client.remote",
        out: np.ndarray | None = None,
    ) -> Job:
        """Start a job; iterate the returned Job for the harmonized frames (in order), or `cancel()` it.

        frames: [H, W, C] float arrays (C >= 3, R G B first), all the same size, in `colorspace`. mattes: [H,
        W] (or [H, W, 1]) arrays in 0..1, one per frame; None uses the frames' 4th channel as the matte
        ("alpha") or, with matte_source="auto", lets the model predict one. dtype: wire dtype, float16 or
        float32 (default: the frames' own dtype; float64 goes as float32). out: an [H, W, C] C-contiguous
        float array that every result is written into (converted to its dtype) and yielded as, instead of a
        new array per frame: each result is valid until the next is asked for. For consumers that write each
        frame out before taking the next (a render to disk, a host's output buffer); at 4K it saves allocating
        and page-faulting 71-141 MB per frame."""
        frames_it = iter(frames)
        try:
            first = next(frames_it)
        except StopIteration:
            raise InputError("no frames to harmonize") from None
        first = _check_frame(first, None, 0)
        if dtype is None:
            dtype = first.dtype if first.dtype in (np.float16, np.float32) else np.float32
        wire_dtype = np.dtype(dtype).newbyteorder("<")
        if matte_source is None:
            matte_source = "separate" if mattes is not None else ("alpha" if first.shape[2] >= 4 else "auto")
        sources = {"separate": pb.MATTE_SEPARATE, "alpha": pb.MATTE_ALPHA, "auto": pb.MATTE_AUTO}
        if matte_source not in sources:
            raise InputError(f"matte_source must be one of {', '.join(sources)}, got {matte_source!r}")
        if (mattes is not None) != (matte_source == "separate"):
            raise InputError("pass mattes exactly when matte_source is 'separate'")
        height, width, channels = first.shape
        if out is not None and (
            out.shape != first.shape
            or not out.flags.c_contiguous
            or not out.flags.writeable
            or out.dtype.kind != "f"
        ):
            raise InputError(
                f"out must be a writeable C-contiguous float array shaped like the frames "
                f"{first.shape}, got {out.dtype} {out.shape}"
            )
        header = pb.StreamHeader(
            model=model,
            options={k: wire.option_to_proto(v) for k, v in (options or {}).items()},
            format=wire.format_to_proto(width, height, channels, wire_dtype, colorspace),
            matte_source=sources[matte_source],
            ocio_config=ocio_config,
            frame_count=frame_count,
            first_frame=first_frame,
            client_name=client_name,
        )
        if strength is not None:
            header.strength = strength
        pairs = zip(
            itertools.chain([first], frames_it), mattes if mattes is not None else itertools.repeat(None)
        )
        return Job(self, header, pairs, wire_dtype, timeout if timeout is not None else self.timeout, out)


def _check_frame(frame: np.ndarray, shape: tuple[int, ...] | None, index: int) -> np.ndarray:
    frame = np.asarray(frame)
    if frame.ndim != 3 or frame.shape[2] < 3:
        raise InputError(f"frame {index} has shape {frame.shape}; frames are [H, W, C] with C >= 3")
    if frame.dtype.kind != "f":
        raise InputError(f"frame {index} is {frame.dtype}; send float16 or float32 pixels")
    if shape is not None and frame.shape != shape:
        raise InputError(
            f"frame {index} is {frame.shape}, but the first frame was {shape}; all frames must match"
        )
    return frame


def _check_matte(matte: np.ndarray, shape: tuple[int, ...], index: int) -> np.ndarray:
    matte = np.asarray(matte)
    if matte.ndim == 3 and matte.shape[2] == 1:
        matte = matte[..., 0]
    if matte.shape != shape[:2]:
        raise InputError(f"matte {index} is {matte.shape}, but frames are {shape[:2]}; sizes must match")
    return matte


class Job:
    """One running Harmonize call: iterate for output frames; `cancel()` stops it (the server drops its work).

    Frames sent but not yet returned are kept, so that a retry after UNAVAILABLE resends them (on another
    server when several are configured). A resumed stream restarts the model's temporal context at the first
    frame not yet returned; everything already yielded stays as it was."""

    def __init__(
        self,
        client: Client,
        header: pb.StreamHeader,
        pairs: Iterator,
        dtype: np.dtype,
        timeout: float | None,
        out: np.ndarray | None = None,
    ):
        self._client = client
        self._out = out
        self._header = header
        self._pairs = pairs
        self._dtype = dtype
        self._deadline = None if timeout is None else time.monotonic() + timeout
        self._pending: deque[tuple[int, np.ndarray, np.ndarray | None]] = deque()  # sent, not yet returned
        self._lock = threading.Lock()  # guards _pending, _next_in, _returned
        self._pull_lock = threading.Lock()  # one sender thread at a time pulls from the caller's frames
        self._next_in = 0  # index of the next frame to pull from the caller
        self._returned = 0
        self._source_error: BaseException | None = None
        self._call = None
        self._cancelled = False
        self.accepted: pb.StreamAccepted | None = None
        self.attempts = 0
        self._shape = (header.format.height, header.format.width, header.format.channels)

    def cancel(self) -> None:
        self._cancelled = True
        call = self._call
        if call is not None:
            call.cancel()

    def _requests(self, resend: list, base: int) -> Iterator[pb.HarmonizeRequest | wire.ChunkView]:
        """Header, then frames to resend, then new frames from the caller (run by gRPC's sender thread).

        `base` is the clip index of this attempt's first frame: the server numbers each stream's frames from
        0."""
        header = pb.StreamHeader()
        header.CopyFrom(self._header)
        header.first_frame = self._header.first_frame + base
        if header.frame_count:
            header.frame_count = max(0, header.frame_count - base)  # a resumed stream sends the rest
        yield pb.HarmonizeRequest(header=header)
        try:
            for index, frame, matte in resend:
                yield from self._encode(index - base, frame, matte)
            while not self._cancelled:
                # The caller's iterator may block (a host still rendering the next frame): pull it under a
                # lock of its own, so the receiving side never waits for it.
                with self._pull_lock:
                    try:
                        frame, matte = next(self._pairs)
                    except StopIteration:
                        return
                    index = self._next_in
                    frame = _check_frame(frame, self._shape, index)
                    if matte is not None:
                        matte = _check_matte(matte, self._shape, index)
                    with self._lock:
                        self._pending.append((index, frame, matte))
                        self._next_in += 1
                yield from self._encode(index - base, frame, matte)
        except Exception as exc:  # noqa: BLE001 - any failure of the caller's frames: stop, report from __iter__
            self._source_error = exc
            call = self._call
            if call is not None:
                call.cancel()

    def _encode(self, index: int, frame: np.ndarray, matte: np.ndarray | None) -> Iterator[wire.ChunkView]:
        yield from wire.encode_frame(index, frame, matte, self._dtype, self._client.chunk_bytes)

    def __iter__(self) -> Iterator[np.ndarray]:
        client = self._client
        for attempt in itertools.count():
            self.attempts = attempt + 1
            with self._lock:
                resend = list(self._pending)
                base = resend[0][0] if resend else self._next_in
            timeout = None if self._deadline is None else max(0.0, self._deadline - time.monotonic())
            self._call = client._harmonize(
                self._requests(resend, base), timeout=timeout, metadata=client._metadata
            )
            if self._cancelled:
                self._call.cancel()
            try:
                yield from self._receive(base)
                return
            except GeneratorExit:  # the caller stopped iterating: stop the server's work too
                self.cancel()
                raise
            except grpc.RpcError as exc:
                if self._source_error is not None:
                    raise self._source_error from None
                err = error_from_rpc(exc)
                if self._cancelled:
                    raise JobCancelled("job cancelled", grpc.StatusCode.CANCELLED) from None
                if not isinstance(err, ServerUnavailable) or attempt + 1 >= client.retry.attempts:
                    raise err from None
                time.sleep(client._backoff(attempt))
            finally:
                self._call = None

    def _receive(self, base: int) -> Iterator[np.ndarray]:
        assembler = None
        for response in self._call:
            if not isinstance(response, wire.ChunkView):
                if response.WhichOneof("kind") != "accepted":
                    raise ServerError("vh-server sent an empty response (protocol error)")
                self.accepted = response.accepted
                fmt = response.accepted.format
                geometry = wire.Geometry(
                    fmt.width, fmt.height, fmt.channels, wire.DTYPES[fmt.dtype], fmt.colorspace
                )
                assembler = wire.FrameAssembler(geometry, with_matte=False, first_index=self._returned - base)
                continue
            if assembler is None:
                raise ServerError("vh-server sent frames before accepting the stream (protocol error)")
            frame = assembler.add(response)
            if frame is None:
                continue
            with self._lock:
                self._pending.popleft()
                self._returned += 1
            yield frame.read(pb.PLANE_IMAGE, self._out)
        if self._source_error is not None:
            raise self._source_error
        if self._cancelled:
            raise JobCancelled("job cancelled", grpc.StatusCode.CANCELLED)
