"""Fixtures for the server tests: real vh-servers on 127.0.0.1, port 0, in this process or as subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from vh.core.models import Harmonizer, register_model
from vh.core.models.registry import list_models


class SlowIdentity(Harmonizer):
    """Test-only model: identity that takes `delay` seconds per call and counts calls, to observe
    scheduling."""

    window = 1
    input_size = (64, 64)
    calls = 0
    windows = 0
    lock = threading.Lock()

    def __init__(self, delay: float = 0.15):
        super().__init__()
        self.delay = delay

    def forward(self, comp: torch.Tensor, matte: torch.Tensor) -> torch.Tensor:
        time.sleep(self.delay)
        with SlowIdentity.lock:
            SlowIdentity.calls += 1
            SlowIdentity.windows += comp.shape[0]
        return comp.clone()


@pytest.fixture()
def slow_model():
    """Registers `test_slow` for one test and removes it again, so no other test ever sees it in the
    registry."""
    from vh.core.models import registry

    if "test_slow" not in list_models():
        register_model("test_slow")(lambda **kw: SlowIdentity(**kw))
    SlowIdentity.calls = SlowIdentity.windows = 0
    yield "test_slow"
    registry._FACTORIES.pop("test_slow", None)


@pytest.fixture(scope="module")
def server():
    """An in-process server with the cheap `cut` model (default) and `stats`."""
    from vh.server.serve import ServerOptions, create_server

    running = create_server("127.0.0.1:0", ServerOptions(models=["cut", "stats"], max_clients=8, max_batch=8))
    yield running
    running.stop(grace=1)


@pytest.fixture(scope="module")
def client(server):
    from vh.client.remote import Client

    with Client(f"127.0.0.1:{server.port}", timeout=120) as c:
        yield c


def clip(n: int, height: int, width: int, channels: int = 4, dtype=np.float16, seed: int = 0):
    """A synthetic scene-linear clip (HDR values above 1 included) and soft mattes, as float arrays."""
    rng = np.random.default_rng(seed)
    frames, mattes = [], []
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    for t in range(n):
        base = rng.random((1, 1, channels), dtype=np.float32) * 0.5
        ramp = (xx / width)[..., None] * np.array([1.5, 0.8, 0.3, 1.0][:channels] + [1.0] * (channels - 4))
        frame = (
            base
            + ramp * (1 + 0.1 * t)
            + 0.02 * rng.standard_normal((height, width, channels), dtype=np.float32)
        )
        frame[..., 3:] = 1.0
        r = np.hypot(yy - height / 2, xx - width / 2 - t)
        matte = np.clip((0.3 * min(height, width) - r) / 8.0, 0.0, 1.0)
        frames.append(frame.astype(dtype))
        mattes.append(matte.astype(dtype))
    return frames, mattes


def start_subprocess_server(
    args: list[str], env: dict | None = None, timeout: float = 90.0, launcher: list[str] | None = None
):
    """`python -m vh.server.serve ... --port 0` as a subprocess (or `python *launcher ...`: a script that runs
    vh-server's main); returns (process, port) once it is ready."""
    cmd = [sys.executable, *(launcher or ["-m", "vh.server.serve"]), "--port", "0", *args]
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        cwd=Path(__file__).resolve().parents[2],
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("vh-server ready on port"):
            return proc, int(line.split()[-1])
        if not line and proc.poll() is not None:
            raise RuntimeError(f"vh-server exited {proc.returncode}: {proc.stderr.read()[-2000:]}")
    proc.kill()
    raise RuntimeError("vh-server did not start in time")
