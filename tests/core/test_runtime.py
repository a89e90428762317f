"""vh.core.runtime: thread pools, the torch thread scope and the allocator setting."""

from __future__ import annotations

import threading

import pytest
import torch

from vh.core import runtime


def test_parallel_map_keeps_order_and_uses_pool_threads():
    names: set[str] = set()

    def work(x: int) -> int:
        names.add(threading.current_thread().name)
        return x * x

    assert runtime.parallel_map("test", work, range(50)) == [x * x for x in range(50)]
    if runtime.cores() > 1:
        assert all(n.startswith("vh-test") for n in names)


def test_parallel_map_raises_the_first_error():
    def work(x: int) -> int:
        if x == 3:
            raise ValueError("bad item 3")
        return x

    with pytest.raises(ValueError, match="bad item 3"):
        runtime.parallel_map("test", work, range(8))


def test_torch_threads_scope_restores_the_previous_count():
    before = torch.get_num_threads()
    with runtime.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with pytest.raises(RuntimeError), runtime.torch_threads(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_tune_allocator_is_harmless_to_call_twice():
    runtime.tune_allocator()
    runtime.tune_allocator()
    assert bytearray(runtime.HEAP_BUFFER_LIMIT // 2)[-1] == 0
