"""vh.server.interceptors: exceptions -> statuses, one-line messages."""

from __future__ import annotations

import grpc
import pytest

from vh.core.errors import InputError, MissingFrameError, OutputError, ResourceError, UnknownModelError
from vh.server.interceptors import PreconditionError, UnavailableError, one_line, status_for


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (InputError("frame 3: bad"), grpc.StatusCode.INVALID_ARGUMENT),
        (MissingFrameError("frame 1004 is missing"), grpc.StatusCode.INVALID_ARGUMENT),
        (UnknownModelError("unknown model 'x'"), grpc.StatusCode.NOT_FOUND),
        (ResourceError("out of memory"), grpc.StatusCode.RESOURCE_EXHAUSTED),
        (PreconditionError("needs a matte"), grpc.StatusCode.FAILED_PRECONDITION),
        (OutputError("cannot write"), grpc.StatusCode.FAILED_PRECONDITION),
        (UnavailableError("shutting down"), grpc.StatusCode.UNAVAILABLE),
    ],
)
def test_expected_errors_keep_their_message(exc, code):
    assert status_for(exc) == (code, str(exc))


def test_bugs_become_internal_with_an_incident_id(caplog):
    code, message = status_for(ZeroDivisionError("division by zero"))
    assert code == grpc.StatusCode.INTERNAL
    assert "division" not in message and "incident" in message
    incident = message.split("incident ")[1].split(",")[0]
    assert incident in caplog.text and "ZeroDivisionError" in caplog.text  # the log has the traceback


def test_one_line_escapes_and_bounds():
    assert one_line("unknown colourspace 'a\nb'") == "unknown colourspace 'a\\nb'"
    assert len(one_line("x" * 1000)) == 300
