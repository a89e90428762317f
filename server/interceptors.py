"""Server interceptors: bearer-token authentication, and the one place that turns exceptions into statuses.

Handlers never call `context.abort` themselves: they raise. `VhError`s become the status a compositor can act
on (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNAVAILABLE) with their one-line
message; anything else is a bug and becomes INTERNAL with a short id that is also in the server log next to
the traceback."""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf.message import Message

from vh.core.errors import InputError, OutputError, ResourceError, UnknownModelError, VhError

log = logging.getLogger("vh.server")


class PreconditionError(VhError):
    """A valid request this server or model cannot serve (e.g. no matte for a model that needs one)."""


class UnavailableError(VhError):
    """The server is shutting down; the client should retry elsewhere."""


class DeadlineError(VhError):
    """The client kept the stream waiting past a deadline (no header in time, or no progress)."""


class CancelledError(Exception):
    """The client went away; nothing to report to anyone."""


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status and message for an exception raised by a handler."""
    if isinstance(exc, InputError):
        return grpc.StatusCode.INVALID_ARGUMENT, str(exc)
    if isinstance(exc, UnknownModelError):
        return grpc.StatusCode.NOT_FOUND, str(exc)
    if isinstance(exc, ResourceError):
        return grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc)
    if isinstance(exc, UnavailableError):
        return grpc.StatusCode.UNAVAILABLE, str(exc)
    if isinstance(exc, DeadlineError):
        return grpc.StatusCode.DEADLINE_EXCEEDED, str(exc)
    if isinstance(exc, (PreconditionError, OutputError, VhError)):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, without importing torch here
        return (
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            "the device ran out of memory; retry with fewer clients or smaller frames",
        )
    incident = uuid.uuid4().hex[:8]
    log.error("internal error %s: %s", incident, exc, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal server error (incident {incident}, see the server log)"


def one_line(message: str, limit: int = 300) -> str:
    """A status message safe for a host's UI: control characters from client-supplied names escaped,
    bounded."""
    safe = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


def _abort(context: grpc.ServicerContext, exc: BaseException) -> None:
    if isinstance(exc, CancelledError) or not context.is_active():
        log.debug("stream ended by the client: %s", exc)
        return
    code, message = status_for(exc)
    message = one_line(message)
    if code != grpc.StatusCode.INTERNAL:
        log.info("%s: %s", code.name, message)
    context.abort(code, message)


class Malformed:
    """Stands in for a request message that could not be decoded, so that the handler's guard answers
    INVALID_ARGUMENT with a readable message. A deserializer that raises makes gRPC answer INTERNAL
    "Exception deserializing request!" instead, and leaves the call in a state where a later server.stop()
    may never end."""

    __slots__ = ("method",)

    def __init__(self, method: str):
        self.method = method

    def error(self) -> InputError:
        return InputError(
            f"a request message to {self.method} is not valid protobuf for its type (malformed bytes, "
            "or a string field that is not valid UTF-8)"
        )


def _safe_deserializer(deserializer: Callable | None, method: str) -> Callable | None:
    if deserializer is None:
        return None

    def decode(raw: bytes) -> Any:
        try:
            return deserializer(raw)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError, or any codec's complaint about garbage
            return Malformed(method)

    return decode


def _checked(requests: Iterator[Any]) -> Iterator[Any]:
    for request in requests:
        if isinstance(request, Malformed):
            raise request.error()
        yield request


def _decoded(request_or_iterator: Any) -> Any:
    """A unary request, raising for a Malformed one; a request stream, raising at its first Malformed
    message."""
    if isinstance(request_or_iterator, Malformed):
        raise request_or_iterator.error()
    if isinstance(request_or_iterator, Message):
        return request_or_iterator
    return _checked(request_or_iterator)


def _guard_unary(behavior: Callable) -> Callable:
    def wrapped(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(_decoded(request_or_iterator), context)
        except Exception as exc:
            if context.code() is not None:  # already aborted by someone else (e.g. auth): keep that status
                raise
            _abort(context, exc)

    return wrapped


def _guard_stream(behavior: Callable) -> Callable:
    def wrapped(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
        try:
            yield from behavior(_decoded(request_or_iterator), context)
        except Exception as exc:
            if context.code() is not None:
                raise
            _abort(context, exc)

    return wrapped


def _rewrap(
    handler: grpc.RpcMethodHandler,
    wrap_unary: Callable,
    wrap_stream: Callable,
    deserializer: Callable | None = None,
) -> grpc.RpcMethodHandler:
    kwargs = {
        "request_deserializer": deserializer or handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(wrap_unary(handler.unary_unary), **kwargs)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(wrap_stream(handler.unary_stream), **kwargs)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(wrap_unary(handler.stream_unary), **kwargs)
    return grpc.stream_stream_rpc_method_handler(wrap_stream(handler.stream_stream), **kwargs)


class ErrorInterceptor(grpc.ServerInterceptor):
    """Maps exceptions from any handler to a status: VhError -> its code, anything else -> INTERNAL."""

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        if handler is None:
            return None
        return _rewrap(
            handler,
            _guard_unary,
            _guard_stream,
            _safe_deserializer(handler.request_deserializer, details.method),
        )


class TokenInterceptor(grpc.ServerInterceptor):
    """Requires `authorization: Bearer <token>` metadata on every call except the health Check.

    Health.Check stays open so that load balancers and orchestrators can probe without a secret: it is unary,
    answered at once and reveals nothing but SERVING / NOT_SERVING. Health.Watch is not: a Watch stream never
    ends, so open ones would let anyone without the token hold every RPC the server allows and lock token
    holders out (the service also caps Watch streams, see service.HealthService).
    """

    OPEN_METHODS = frozenset({"/grpc.health.v1.Health/Check"})

    def __init__(self, token: str):
        if not token:
            raise ValueError("the bearer token is empty")
        self._expected = token.encode()

    def _authorized(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else value
                scheme, _, token = given.strip().partition(b" ")
                # RFC 6750 (via RFC 7235): the scheme is case-insensitive, the token is not
                return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self._expected)
        return False

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        if details.method in self.OPEN_METHODS or self._authorized(details):
            return continuation(details)
        handler = continuation(details)
        if handler is None:
            return None

        def deny_unary(_request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(
                grpc.StatusCode.UNAUTHENTICATED, "missing or wrong access token (authorization: Bearer ...)"
            )

        def deny_stream(_request: Any, context: grpc.ServicerContext) -> Any:
            deny_unary(_request, context)
            yield  # pragma: no cover - abort raised above

        return _rewrap(handler, lambda _: deny_unary, lambda _: deny_stream)
