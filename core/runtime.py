"""Process-wide resources for pixel work: thread pools and the allocator.

NumPy, PyTorch and OCIO release the GIL while they work on an array, so a frame cut into bands runs on every
core the process may use. Each kind of work has its own pool: a task on one pool may wait on another without
deadlock."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


@functools.lru_cache(maxsize=1)
def cores() -> int:
    """The cores this process may use (containers and taskset narrow it), not the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@functools.cache
def _pool(kind: str) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(cores(), thread_name_prefix=f"vh-{kind}")


def parallel_map(kind: str, fn: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """`[fn(x) for x in items]`, run on the `kind` pool; the first exception is raised, as the loop would."""
    items = list(items)
    if cores() < 2 or len(items) < 2:
        return [fn(x) for x in items]
    return list(_pool(kind).map(fn, items))


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with `n` torch intra-op threads, then restore the previous count (it is process-wide)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


#: buffers up to this size come from the heap and are reused; a 1080p RGB float frame is 25 MiB
HEAP_BUFFER_LIMIT = 32 << 20


def tune_allocator() -> None:
    """Keep buffers up to HEAP_BUFFER_LIMIT on the heap (glibc only; elsewhere a no-op). Call once, at
    start-up.

    Every frame allocates and frees the same few multi-megabyte buffers. Served by mmap, each one is
    page-faulted and zeroed anew by the kernel: a 1080p shot spent a third of its time there (75 frames: 20.5
    s with a 1 MiB threshold, 14.7 s with this one). glibc would raise its threshold on its own, but only
    after frees, so its heap grows in steps and RSS creeps with shot length; a fixed threshold keeps the 4K
    EXR benchmark flat (peak RSS 1.50 GiB at 50 frames and at 200). Same as MALLOC_MMAP_THRESHOLD_ /
    MALLOC_TRIM_THRESHOLD_; 32 MiB is the most glibc accepts."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        return
    if mallopt is not None:
        m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
        mallopt(m_mmap_threshold, HEAP_BUFFER_LIMIT)
        mallopt(m_trim_threshold, 2 * HEAP_BUFFER_LIMIT)
