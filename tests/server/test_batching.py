"""vh.server.batching: one device queue, windows of several streams stacked into one call, cancellation."""

from __future__ import annotations

import threading
import time

import pytest
import torch

from vh.server.batching import DeviceQueue, StreamCancelled


class RecordingEngine:
    """Engine-shaped stand-in: records the batch size of every call; optionally blocks until released."""

    def __init__(self, gate: threading.Event | None = None):
        self.batches: list[int] = []
        self.gate = gate

    def infer(self, comp: torch.Tensor, matte: torch.Tensor | None) -> torch.Tensor:
        if self.gate is not None:
            self.gate.wait(10)
        self.batches.append(comp.shape[0])
        return comp * 2


def _window(value: float, b: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.full((b, 1, 3, 4, 4), value), torch.ones(b, 1, 1, 4, 4)  # [B, T, C, h, w], [B, T, 1, h, w]


def test_windows_of_waiting_streams_share_one_call_and_get_their_own_results():
    gate = threading.Event()
    engine = RecordingEngine(gate)
    queue = DeviceQueue(max_batch=8)
    results = {}
    try:
        blocker = threading.Thread(target=lambda: queue.ticket(engine).infer(*_window(0.0)))
        blocker.start()  # occupies the device, so the next five queue up
        time.sleep(0.1)
        threads = [
            threading.Thread(
                target=lambda k=k: results.__setitem__(k, queue.ticket(engine).infer(*_window(k)))
            )
            for k in range(1, 6)
        ]
        for t in threads:
            t.start()
        time.sleep(0.2)
        gate.set()
        for t in threads + [blocker]:
            t.join(10)
    finally:
        queue.close()
    assert engine.batches == [1, 5]
    for k in range(1, 6):
        assert torch.equal(results[k], torch.full((1, 1, 3, 4, 4), 2.0 * k))


def test_max_batch_and_shapes_bound_the_stacking():
    gate = threading.Event()
    engine = RecordingEngine(gate)
    queue = DeviceQueue(max_batch=4)
    try:
        jobs = [queue.submit(engine, *_window(0.0))]
        time.sleep(0.1)
        jobs += [
            queue.submit(engine, *_window(1.0, b=3)),
            queue.submit(engine, *_window(1.0, b=2)),
            queue.submit(engine, torch.zeros(1, 1, 3, 8, 8), torch.ones(1, 1, 1, 8, 8)),  # another size
            queue.submit(engine, *_window(1.0, b=1)),
        ]
        gate.set()
        for job in jobs:
            assert job.done.wait(10) and job.error is None
    finally:
        queue.close()
    assert engine.batches == [1, 4, 2, 1]  # 3+1 stacked; the 2 alone; the 8x8 window never mixed in


def test_cancel_drops_queued_work_at_once():
    gate = threading.Event()
    engine = RecordingEngine(gate)
    queue = DeviceQueue(max_batch=1)
    ticket = queue.ticket(engine)
    errors = []
    try:
        queue.submit(engine, *_window(0.0))  # busy
        time.sleep(0.1)

        def waiting():
            try:
                ticket.infer(*_window(1.0))
            except StreamCancelled as exc:
                errors.append(exc)

        t = threading.Thread(target=waiting)
        t.start()
        time.sleep(0.1)
        started = time.perf_counter()
        ticket.cancel()
        t.join(5)
        assert errors and time.perf_counter() - started < 1.0
        assert queue.pending() == 0
        with pytest.raises(StreamCancelled):
            ticket.infer(*_window(2.0))  # a cancelled stream submits nothing more
        gate.set()
    finally:
        queue.close()
    assert engine.batches == [1]  # the cancelled window never ran


def test_model_errors_reach_every_stream_of_the_batch():
    class Broken:
        def infer(self, comp, matte):
            raise RuntimeError("boom")

    queue = DeviceQueue()
    try:
        with pytest.raises(RuntimeError, match="boom"):
            queue.ticket(Broken()).infer(*_window(0.0))
    finally:
        queue.close()
