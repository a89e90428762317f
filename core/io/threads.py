"""Overlap I/O with compute: read ahead on one thread, write behind on another.

Decoding and encoding (PyAV, OpenImageIO) and OCIO release the GIL, so on a shot of hundreds of frames the
reader, the engine and the writer run side by side instead of one after another. Both helpers keep a small,
fixed number of frames in flight (memory stays flat) and hand any error on their thread back to the caller, in
order."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from types import TracebackType
from typing import TypeVar

import numpy as np

from vh.core.io.writer import FrameWriter

T = TypeVar("T")


def prefetch(
    items: Iterator[T],
    depth: int = 2,
    timeout: float | None = None,
    first_timeout: float | None = None,
    join: bool = True,
) -> Iterator[T]:
    """Pull `items` on a background thread, at most `depth` ahead. Exceptions are re-raised in the consumer.

    Closing the returned generator stops the thread at its next item, waits for it, and closes `items` (if it
    is a generator), so a chain of prefetches stops as one. Close it on error paths (`contextlib.closing`): a
    generator kept alive by a traceback would otherwise leave its thread running until the process exits. With
    `timeout`, a consumer that waits longer than that for an item (for the first one: `first_timeout`, default
    `timeout`) gets TimeoutError instead (a server's idle client). `join=False` closes without waiting for the
    thread: for a source that may block indefinitely on someone else (a client's request stream), which its
    own cancellation ends, and which holds no file reader."""
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: tuple) -> bool:
        while not stop.is_set():
            try:
                slots.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(("item", item)):
                    return
            put(("done", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, which re-raises it
            put(("error", exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    thread = threading.Thread(target=work, name="vh-prefetch", daemon=True)
    thread.start()
    wait = first_timeout if first_timeout is not None else timeout
    try:
        while True:
            try:
                kind, value = slots.get(timeout=wait)
            except queue.Empty:
                raise TimeoutError(f"no item for {wait} s") from None
            wait = timeout
            if kind == "item":
                yield value
            elif kind == "done":
                return
            else:
                try:
                    raise value
                finally:
                    # the exception's traceback holds this frame: a reference back from it would be a cycle
                    # that keeps everything the failed work held (a server's frames) until the next garbage
                    # collection
                    del value
    finally:
        stop.set()
        # wait for the thread (it stops within one item): a reader left running in a C++ library while the
        # interpreter exits aborts the whole process ("terminate called without an active exception")
        if join and thread is not threading.current_thread():
            thread.join()


class WriteBehind:
    """Write frames through `writer` on a background thread, at most `depth` frames behind the caller.

    `prepare(frame)` (e.g. a colour conversion) runs on that thread too. An error there is raised by the next
    `write()` or on leaving the `with` block. Leave the block before closing `writer`: it waits for the frames
    already handed over (or, when the block ends in an exception, drops them), so the writer is never closed
    or aborted in the middle of an encode."""

    def __init__(
        self,
        writer: FrameWriter,
        prepare: Callable[[np.ndarray], np.ndarray] | None = None,
        depth: int = 2,
    ) -> None:
        self.writer = writer
        self._prepare = prepare
        self._slots: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._cancelled = False
        self._thread = threading.Thread(target=self._work, name="vh-write-behind", daemon=True)
        self._thread.start()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._cancelled = exc_type is not None
        self._slots.put(None)  # the worker drains the queue, so this never waits for long
        self._thread.join()
        if exc_type is None:
            self._raise()

    def write(self, frame: np.ndarray) -> None:
        self._raise()
        self._slots.put(frame)

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def _work(self) -> None:
        while (frame := self._slots.get()) is not None:
            if self._error is not None or self._cancelled:
                continue  # keep draining so the caller never blocks on a full queue
            try:
                self.writer.write(self._prepare(frame) if self._prepare else frame)
            except BaseException as exc:  # noqa: BLE001 - raised again on the caller's thread
                self._error = exc
