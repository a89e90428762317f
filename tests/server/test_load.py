"""Many clients at once, and clients spread over several servers (gRPC round_robin)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.server.conftest import clip
from vh.client.remote import Client
from vh.core.engine import Engine
from vh.server.serve import ServerOptions, create_server


def _timed(frames, sent: list):
    """Yield frames, noting when each left for the server (the start of its latency)."""
    for f in frames:
        sent.append(time.perf_counter())
        yield f


def _run_load(clients: int, windows: int) -> None:
    clips = [clip(windows, 40, 56, channels=4, dtype=np.float16, seed=s) for s in range(2)]
    expected = []
    for frames, mattes in clips:  # the direct engine on the same pixels, as in test_service.direct
        outs = Engine("cut").run(
            [f.astype(np.float32) for f in frames], [m.astype(np.float32) for m in mattes], "ACEScg"
        )
        expected.append([o.astype(np.float16) for o in outs])
    running = create_server("127.0.0.1:0", ServerOptions(models=["cut"], max_clients=clients, max_batch=16))
    latencies: list[float] = []
    lock = threading.Lock()

    def one(k: int) -> bool:
        frames, mattes = clips[k % 2]
        sent: list[float] = []
        with Client(f"127.0.0.1:{running.port}", timeout=600) as c:
            got = []
            for out in c.harmonize(_timed(frames, sent), mattes, colorspace="ACEScg"):
                with lock:
                    latencies.append(time.perf_counter() - sent[len(got)])
                got.append(out)
        return all(g.tobytes() == e.tobytes() for g, e in zip(got, expected[k % 2])) and len(got) == windows

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            ok = list(pool.map(one, range(clients)))
        took = time.perf_counter() - started
    finally:
        running.stop(grace=1)
    p50, p95 = np.percentile(latencies, [50, 95])
    print(
        f"\n{clients} clients x {windows} windows: all correct {all(ok)}; latency p50 {p50 * 1e3:.0f} ms, "
        f"p95 {p95 * 1e3:.0f} ms; {clients * windows / took:.1f} windows/s; "
        f"{running.queue.windows} windows in {running.queue.calls} model calls"
    )
    assert all(ok) and len(latencies) == clients * windows
    assert running.queue.calls < running.queue.windows  # concurrent streams shared model calls


def test_concurrent_clients_all_correct():
    _run_load(clients=16, windows=2)


@pytest.mark.slow
def test_16_clients_x_20_windows():
    _run_load(clients=16, windows=20)


def test_round_robin_spreads_jobs_and_survives_a_server_stopping():
    servers = [create_server("127.0.0.1:0", ServerOptions(models=["cut"], max_clients=8)) for _ in range(2)]
    frames, mattes = clip(2, 32, 48, channels=3, dtype=np.float32)
    try:
        with Client([f"127.0.0.1:{s.port}" for s in servers], timeout=120) as c:
            assert c.target.startswith("ipv4:")
            c.info()  # connects the channel; round_robin then alternates over ready subchannels
            time.sleep(0.3)
            with ThreadPoolExecutor(4) as pool:
                first = list(
                    pool.map(lambda _: len(list(c.harmonize(frames, mattes, colorspace="ACEScg"))), range(8))
                )
            per_server = [s.service.accepted for s in servers]
            print(f"\nstreams per server: {per_server}")
            assert first == [2] * 8 and min(per_server) >= 2  # both servers did real work

            gate = threading.Event()

            def slow_frames():  # keeps jobs in flight while one server goes away
                for f in frames * 3:
                    gate.wait(5)
                    yield f

            with ThreadPoolExecutor(4) as pool:
                jobs = [
                    pool.submit(
                        lambda: len(list(c.harmonize(slow_frames(), mattes * 3, colorspace="ACEScg")))
                    )
                    for _ in range(6)
                ]
                time.sleep(0.5)
                servers[0].stop(grace=0)  # mid-run: its streams end with UNAVAILABLE and are retried
                gate.set()
                assert [j.result(timeout=120) for j in jobs] == [6] * 6
            assert len(list(c.harmonize(frames, mattes, colorspace="ACEScg"))) == 2  # the survivor serves
    finally:
        for s in servers:
            s.stop(grace=0)
