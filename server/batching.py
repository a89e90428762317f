"""One queue in front of the device: every stream's model calls go through it, and windows of different
streams that use the same engine are stacked into one batched call.

Why a single worker thread: a GPU runs one kernel stream at a time anyway, and letting 16 handler threads call
the model concurrently would only multiply activation memory and fight over the device. Batching windows from
several clients into one call is what turns concurrency into throughput.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import torch

log = logging.getLogger(__name__)


class StreamCancelled(Exception):
    """The stream that asked for this work was cancelled or disconnected; its queued work was dropped."""


@dataclass(eq=False)
class _Job:
    engine: Any  # vh.core.engine.Engine: infer(comp, matte) -> pred
    comp: torch.Tensor  # [B, T, C, h, w]
    matte: torch.Tensor | None  # [B, T, 1, h, w]
    done: threading.Event = field(default_factory=threading.Event)
    result: torch.Tensor | None = None
    error: BaseException | None = None
    cancelled: bool = False

    @property
    def key(self) -> tuple:
        # Windows can be stacked when the same engine takes them at the same shape, with or without a matte.
        return (id(self.engine), tuple(self.comp.shape[1:]), self.matte is None)


class Ticket:
    """One stream's handle on the queue: its infer callable, and cancel() that drops its pending work."""

    def __init__(self, queue: DeviceQueue, engine: Any):
        self._queue = queue
        self._engine = engine
        self._lock = threading.Lock()
        self._job: _Job | None = None
        self.cancelled = False

    def infer(self, comp: torch.Tensor, matte: torch.Tensor | None) -> torch.Tensor:
        """Same signature as Engine.infer; blocks until the batched call that includes these windows is
        done."""
        with self._lock:
            if self.cancelled:
                raise StreamCancelled("stream cancelled")
            job = self._job = self._queue.submit(self._engine, comp, matte)
        job.done.wait()
        with self._lock:
            self._job = None
        if job.cancelled:
            raise StreamCancelled("stream cancelled")
        if job.error is not None:
            raise job.error
        return job.result

    def cancel(self) -> None:
        """Drop this stream's queued windows at once; a batch already on the device finishes (<= one
        window)."""
        with self._lock:
            self.cancelled = True
            job = self._job
        if job is not None:
            self._queue.cancel(job)


class DeviceQueue:
    """Runs model calls on one worker thread, stacking up to `max_batch` windows of one engine per call."""

    def __init__(self, max_batch: int = 8, name: str = "vh-device"):
        if max_batch < 1:
            raise ValueError("max_batch must be >= 1")
        self.max_batch = max_batch
        self._jobs: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.calls = 0  # model calls made; with `windows`, shows how well batching works
        self.windows = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def ticket(self, engine: Any) -> Ticket:
        return Ticket(self, engine)

    def submit(self, engine: Any, comp: torch.Tensor, matte: torch.Tensor | None) -> _Job:
        job = _Job(engine, comp, matte)
        with self._cond:
            if self._closed:
                raise StreamCancelled("server is shutting down")
            self._jobs.append(job)
            self._cond.notify()
        return job

    def cancel(self, job: _Job) -> None:
        with self._cond:
            if job.done.is_set():
                return
            job.cancelled = True
            try:
                self._jobs.remove(job)
            except ValueError:
                return  # already taken into a running batch: let it finish, its result is discarded
        job.done.set()

    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def close(self, timeout: float = 30.0) -> None:
        """Cancel queued work and stop the worker after its current batch (waiting at most `timeout` for
        it)."""
        with self._cond:
            self._closed = True
            jobs = list(self._jobs)
            self._jobs.clear()
            self._cond.notify_all()
        for job in jobs:
            job.cancelled = True
            job.done.set()
        self._thread.join(timeout=timeout)

    def _take_batch(self) -> list[_Job] | None:
        with self._cond:
            while not self._jobs and not self._closed:
                self._cond.wait()
            if self._closed:
                return None
            first = self._jobs.popleft()
            batch, size = [first], first.comp.shape[0]
            # Stack later jobs of the same engine and shape, in arrival order, without exceeding max_batch.
            for job in list(self._jobs):
                if size >= self.max_batch:
                    break
                if job.key == first.key and size + job.comp.shape[0] <= self.max_batch:
                    self._jobs.remove(job)
                    batch.append(job)
                    size += job.comp.shape[0]
            return batch

    def _run(self) -> None:
        while True:
            batch = self._take_batch()
            if batch is None:
                return
            try:
                if len(batch) == 1:
                    outs = [batch[0].engine.infer(batch[0].comp, batch[0].matte)]
                else:
                    comp = torch.cat([j.comp for j in batch])  # [sum B, T, C, h, w]
                    matte = None if batch[0].matte is None else torch.cat([j.matte for j in batch])
                    pred = batch[0].engine.infer(comp, matte)  # [sum B, T, 3, h, w]
                    outs = list(pred.split([j.comp.shape[0] for j in batch]))
                self.calls += 1
                self.windows += sum(j.comp.shape[0] for j in batch)
                for job, out in zip(batch, outs):
                    job.result = out
            except Exception as exc:  # noqa: BLE001 - handed to each waiting stream, which maps it to a status
                for job in batch:
                    job.error = exc
            for job in batch:
                job.done.set()
