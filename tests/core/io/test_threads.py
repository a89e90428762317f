"""vh.core.io.threads: read-ahead and write-behind keep order, bound memory and hand errors back."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vh.core.io.threads import WriteBehind, prefetch


class _Recorder:
    """Stands in for a FrameWriter: records frames, optionally fails or dawdles."""

    def __init__(self, fail_at: int | None = None, delay: float = 0.0):
        self.frames: list[np.ndarray] = []
        self.threads: set[str] = set()
        self.fail_at, self.delay = fail_at, delay

    def write(self, frame: np.ndarray) -> None:
        self.threads.add(threading.current_thread().name)
        if self.fail_at is not None and len(self.frames) == self.fail_at:
            raise OSError("disk full")
        time.sleep(self.delay)
        self.frames.append(frame)


def test_prefetch_yields_in_order_and_reraises():
    assert list(prefetch(iter(range(20)), depth=2)) == list(range(20))

    def broken():
        yield 1
        raise ValueError("corrupt frame 2")

    got = []
    with pytest.raises(ValueError, match="corrupt frame 2"):
        got.extend(prefetch(broken()))
    assert got == [1]


def test_closing_a_chain_of_prefetches_stops_every_stage():
    closed = threading.Event()

    def source():
        try:
            yield from range(1000)
        finally:
            closed.set()

    middle = (
        i * 2 for i in prefetch(source(), depth=1)
    )  # still referenced here, so only an explicit close ends it
    outer = prefetch(middle, depth=1)
    assert [next(outer) for _ in range(3)] == [0, 2, 4]
    outer.close()
    assert closed.wait(5), "the innermost source was not closed when the chain was"


def test_write_behind_writes_everything_in_order_on_its_own_thread():
    rec = _Recorder(delay=0.002)
    with WriteBehind(rec, prepare=lambda f: f * 2, depth=2) as behind:
        for i in range(10):
            behind.write(np.full((2, 2, 3), i, np.float32))
    assert [int(f[0, 0, 0]) for f in rec.frames] == [2 * i for i in range(10)]
    assert rec.threads == {"vh-write-behind"}


def test_write_behind_hands_a_writer_error_back_and_stops_writing():
    rec = _Recorder(fail_at=3)
    with pytest.raises(OSError, match="disk full"), WriteBehind(rec, depth=1) as behind:
        for i in range(50):
            behind.write(np.full((1, 1, 3), i, np.float32))
    assert len(rec.frames) == 3


def test_write_behind_drops_queued_frames_when_the_caller_fails():
    rec = _Recorder(delay=0.05)
    with pytest.raises(RuntimeError, match="engine failed"), WriteBehind(rec, depth=4) as behind:
        for i in range(4):
            behind.write(np.full((1, 1, 3), i, np.float32))
        raise RuntimeError("engine failed")
    # the block waited for the frame in flight (the writer is never closed mid-encode) and dropped the rest
    assert len(rec.frames) <= 2
