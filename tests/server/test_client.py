"""The thin client on its own: light imports, targets, error mapping."""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest

from vh.server import client as vc


def test_importing_the_client_does_not_import_torch():
    code = (
        "import sys, vh.server.client, vh.server.wire, vh.server.v1.harmonize_pb2_grpc; "
        "heavy = [m for m in ('torch', 'cv2', 'OpenImageIO', 'PyOpenColorIO', 'av') if m in sys.modules]; "
        "print(heavy); sys.exit(1 if heavy else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("given", "target"),
    [
        ("127.0.0.1:5000", "127.0.0.1:5000"),
        (["127.0.0.1:5000", "127.0.0.1:5001"], "ipv4:127.0.0.1:5000,127.0.0.1:5001"),
        ("127.0.0.1:5000,127.0.0.1:5001", "ipv4:127.0.0.1:5000,127.0.0.1:5001"),
        (["[::1]:5000", "[::1]:5001"], "ipv6:[::1]:5000,[::1]:5001"),
        ("dns:///render-farm:50051", "dns:///render-farm:50051"),
    ],
)
def test_targets(given, target):
    assert vc._target(given) == target


class _FakeRpcError(grpc.RpcError):
    def __init__(self, code, details):
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details


@pytest.mark.parametrize(
    ("code", "cls", "retryable"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, vc.InvalidRequest, False),
        (grpc.StatusCode.NOT_FOUND, vc.ModelNotFound, False),
        (grpc.StatusCode.FAILED_PRECONDITION, vc.Unsupported, False),
        (grpc.StatusCode.UNAUTHENTICATED, vc.AuthenticationError, False),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, vc.ServerBusy, True),
        (grpc.StatusCode.UNAVAILABLE, vc.ServerUnavailable, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, vc.DeadlineExceeded, True),
        (grpc.StatusCode.CANCELLED, vc.JobCancelled, False),
        (grpc.StatusCode.INTERNAL, vc.ServerError, False),
        (grpc.StatusCode.DATA_LOSS, vc.ServerError, False),
    ],
)
def test_status_codes_map_to_exceptions(code, cls, retryable):
    err = vc.error_from_rpc(_FakeRpcError(code, "frame 3: bad"))
    assert type(err) is cls and err.retryable is retryable and err.code is code
    assert "frame 3: bad" in str(err) and "\n" not in str(err)


def test_unreachable_server_is_unavailable_after_retries():
    with (
        vc.Client("127.0.0.1:1", retry=vc.RetryPolicy(attempts=2, initial_backoff=0.01)) as c,
        pytest.raises(vc.ServerUnavailable) as info,
    ):
        c.info(timeout=5)
    assert info.value.retryable


def test_bad_frames_are_refused_before_sending():
    import numpy as np

    with vc.Client("127.0.0.1:1") as c:
        with pytest.raises(vc.InputError, match="float16 or float32"):
            c.harmonize([np.zeros((4, 4, 3), np.uint8)], colorspace="ACEScg")
        with pytest.raises(vc.InputError, match=r"\[H, W, C\]"):
            c.harmonize([np.zeros((4, 4), np.float32)], colorspace="ACEScg")
        with pytest.raises(vc.InputError, match="no frames"):
            c.harmonize([], colorspace="ACEScg")
        frames = [np.zeros((4, 4, 3), np.float16)]
        for out in (
            np.zeros((4, 4, 4), np.float16),
            np.zeros((4, 4, 3), np.uint8),
            np.zeros((4, 3, 4), np.float16).transpose(0, 2, 1),
        ):
            with pytest.raises(vc.InputError, match="out must be"):
                c.harmonize(frames, colorspace="ACEScg", matte_source="auto", out=out)


def test_results_into_one_caller_array(client):
    """With `out`, every frame is written into the caller's array (converted to its dtype) and yielded as it."""
    import numpy as np

    from tests.server.conftest import clip

    frames, mattes = clip(3, 24, 40, channels=4, dtype=np.float16)
    want = [f.copy() for f in client.harmonize(frames, mattes, colorspace="ACEScg", model="stats")]
    for dtype in (np.float16, np.float32):
        out = np.full((24, 40, 4), np.nan, dtype)
        for i, got in enumerate(
            client.harmonize(frames, mattes, colorspace="ACEScg", model="stats", out=out)
        ):
            assert got is out
            assert np.array_equal(got, want[i].astype(dtype)), i
