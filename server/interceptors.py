"""Server interceptors: bearer-token authentication, and the one place that turns exceptions into statuses.

Handlers never call `context.abort` themselves: they raise. `VhError`s become the status a compositor can act on
(INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, RESOURCE_EXHAUSTED, UNAVAILABLE) with their one-line message;
anything else is a bug and becomes INTERNAL with a short id that is also in the server log next to the traceback.
"""

from __future__ import annotations

import hmac
import logging
import uuid
from collections.abc import Callable
from typing import Any

import grpc
from vh.core.errors import InputError, OutputError, ResourceError, UnknownModelError, VhError

log = logging.getLogger("vh.server")


class PreconditionError(VhError):
    """A valid request this server or model cannot serve (e.g. no matte for a model that needs one)."""


class UnavailableError(VhError):
    """The server is shutting down; the client should retry elsewhere."""


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
    if isinstance(exc, (PreconditionError, OutputError, VhError)):
        return grpc.StatusCode.FAILED_PRECONDITION, str(exc)
    if type(exc).__name__ == "OutOfMemoryError":  # torch.cuda.OutOfMemoryError, without importing torch here
        return grpc.StatusCode.RESOURCE_EXHAUSTED, "the device ran out of memory; retry with fewer clients or smaller frames"
    incident = uuid.uuid4().hex[:8]
    log.error("internal error %s: %s", incident, exc, exc_info=exc)
    return grpc.StatusCode.INTERNAL, f"internal server error (incident {incident}, see the server log)"


def one_line(message: str, limit: int = 300) -> str:
    """A status message safe for a host's UI: control characters from client-supplied names escaped, bounded."""
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


def _guard_unary(behavior: Callable) -> Callable:
    def wrapped(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
        try:
            return behavior(request_or_iterator, context)
        except Exception as exc:
            if context.code() is not None:  # already aborted by someone else (e.g. auth): keep that status
                raise
            _abort(context, exc)

    return wrapped


def _guard_stream(behavior: Callable) -> Callable:
    def wrapped(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
        try:
            yield from behavior(request_or_iterator, context)
        except Exception as exc:
            if context.code() is not None:
                raise
            _abort(context, exc)

    return wrapped


def _rewrap(handler: grpc.RpcMethodHandler, wrap_unary: Callable, wrap_stream: Callable) -> grpc.RpcMethodHandler:
    kwargs = {"request_deserializer": handler.request_deserializer,
              "response_serializer": handler.response_serializer}
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
        return _rewrap(handler, _guard_unary, _guard_stream)


class TokenInterceptor(grpc.ServerInterceptor):
    """Requires `authorization: Bearer <token>` metadata on every call except health checks.

    Health checks stay open so that load balancers and orchestrators can probe without a secret; they reveal
    nothing but SERVING / NOT_SERVING.
    """

    OPEN_PREFIXES = ("/grpc.health.v1.Health/",)

    def __init__(self, token: str):
        if not token:
            raise ValueError("the bearer token is empty")
        self._expected = f"Bearer {token}".encode()

    def _authorized(self, details: grpc.HandlerCallDetails) -> bool:
        for key, value in details.invocation_metadata or ():
            if key == "authorization":
                given = value.encode() if isinstance(value, str) else value
                return hmac.compare_digest(given, self._expected)
        return False

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        if details.method.startswith(self.OPEN_PREFIXES) or self._authorized(details):
            return continuation(details)
        handler = continuation(details)
        if handler is None:
            return None

        def deny_unary(_request: Any, context: grpc.ServicerContext) -> Any:
            context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong access token (authorization: Bearer ...)")

        def deny_stream(_request: Any, context: grpc.ServicerContext) -> Any:
            deny_unary(_request, context)
            yield  # pragma: no cover - abort raised above

        return _rewrap(handler, lambda _: deny_unary, lambda _: deny_stream)
