"""The thin client on its own: light imports, targets, error mapping."""

from __future__ import annotations

import subprocess
import sys

import grpc
import pytest

from vh.client import remote as vc


def test_importing_the_client_does_not_import_torch():
    code = (
        "import sys, vh.client.remote, vh.client.wire, vh.client.v1.harmonize_pb2_grpc; "
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


@pytest.mark.parametrize(
    "given", ["127.0.0.1:70000", "127.0.0.1:0", "render:port", ["[::1]:5000", "[::1]:99999"]]
)
def test_a_port_out_of_range_is_refused_not_wrapped(given):
    with pytest.raises(vc.InputError, match="the port must be a number within 1..65535"):
        vc._target(given)


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
    """With `out`, every frame is written into the caller's array (converted to its dtype) and yielded as
    it."""
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


# Run in a child Python where `import torch` fails, as in a host's thin vh installation (no torch installed).
_WITHOUT_TORCH = "import sys; sys.modules['torch'] = None; "


def test_a_round_trip_without_torch_matches_the_full_install(client, server, tmp_path):
    """The client package on its own: a child process that cannot import torch harmonizes a clip through the
    real server, and gets exactly what this process's client gets."""
    import numpy as np

    from tests.server.conftest import clip

    frames, mattes = clip(3, 24, 40, channels=4, dtype=np.float32)
    np.save(tmp_path / "frames.npy", np.stack(frames))
    np.save(tmp_path / "mattes.npy", np.stack(mattes))
    code = _WITHOUT_TORCH + (
        "import numpy as np; from vh.client.remote import Client; "
        "frames, mattes = np.load(sys.argv[2]), np.load(sys.argv[3]); "
        "c = Client(sys.argv[1]); "
        "jobs = c.harmonize(list(frames), list(mattes), colorspace='ACEScg', model='stats'); "
        "outs = [o.copy() for o in jobs]; "
        "np.save(sys.argv[4], np.stack(outs)); "
        "print(sorted(m for m in ('torch', 'vh.server', 'vh.training') if sys.modules.get(m)))"
    )
    args = [f"127.0.0.1:{server.port}", *(str(tmp_path / n) for n in ("frames.npy", "mattes.npy", "out.npy"))]
    result = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr
    got = np.load(tmp_path / "out.npy")
    want = np.stack([o.copy() for o in client.harmonize(frames, mattes, colorspace="ACEScg", model="stats")])
    assert not np.array_equal(want, np.stack(frames))  # stats repainted something
    np.testing.assert_array_equal(got, want)


def test_the_host_job_runs_without_torch(server, tmp_path):
    """`python -m vh.client.host_job_cli run` (what the Nuke and Resolve plugins start) in a Python without
    torch: EXR frames in, cached EXR results and the shot's cube out."""
    import json

    import numpy as np

    from tests.server.conftest import clip
    from vh.core.io import read_image, write_image

    frames, mattes = clip(3, 24, 40, channels=4, dtype=np.float32)
    for i, (frame, matte) in enumerate(zip(frames, mattes, strict=True), 1):
        frame[..., 3] = matte  # the plate's alpha is the matte
        write_image(tmp_path / f"plate.{i:04d}.exr", frame, pixel_type="float")
    job = {
        "server": f"127.0.0.1:{server.port}",
        "plate": str(tmp_path / "plate.%04d.exr"),
        "first": 1,
        "last": 3,
        "model": "stats",
        "colorspace": "ACEScg",
        "export_cube": True,
    }
    code = _WITHOUT_TORCH + (
        "import runpy; sys.argv[0] = 'host_job_cli'; "
        "runpy.run_module('vh.client.host_job_cli', run_name='__main__')"
    )
    (tmp_path / "job.json").write_text(json.dumps(job))
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "run",
            "--cache-root",
            str(tmp_path / "cache"),
            "--job",
            str(tmp_path / "job.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert result.returncode == 0 and events[-1]["event"] == "result", result.stdout + result.stderr
    assert [e["done"] for e in events if e["event"] == "progress"] == [1, 2, 3]
    pattern = events[-1]["pattern"]
    for i, frame in enumerate(frames, 1):
        out = read_image(pattern % i)
        assert out.shape == frame.shape
        background = frame[..., 3] == 0
        np.testing.assert_array_equal(out[background], frame[background])  # float in, float out: exact
    with open(events[-1]["cube"]) as cube:
        assert "LUT_3D_SIZE" in cube.read()
