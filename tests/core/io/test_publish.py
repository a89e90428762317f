"""vh.core.io.publish: a killed or interrupted publish leaves the complete old render or the complete new one.

A real child process writes a sequence over an existing render and sends itself a real SIGKILL or SIGINT at
one step of the publish (each step is one file-system call: fsync, rename or unlink); every step is tried. The
next run on the same output (a writer opened and dropped) must then find the old render or the new one, whole,
and no hidden temporaries."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from vh.core.io import ClipInfo, open_writer, read_image
from vh.core.io.publish import atomic_write

N = 4
OLD, NEW = 0.25, 0.75

_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np

    # Ctrl-C as in a terminal, even when the test runner was started in the background (SIGINT ignored)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from vh.core.io import ClipInfo, open_writer

    folder, value, kill_at, sig = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    events = [0]

    def step(fn):
        def wrapped(*args, **kwargs):
            events[0] += 1
            if events[0] == kill_at:
                os.kill(os.getpid(), sig)
            return fn(*args, **kwargs)
        return wrapped

    like = ClipInfo.make(8, 6, 3, {n}, first=1001)
    with open_writer(folder + "/out.####.exr", like) as w:
        for _ in range({n}):
            w.write(np.full((6, 8, 3), value, np.float32))
        # count only the publish that close() does from here on
        os.replace, os.fsync, os.unlink = step(os.replace), step(os.fsync), step(os.unlink)
    print("steps", events[0])
    """
).format(n=N)


def _render(folder, value: float) -> None:
    with open_writer(folder / "out.####.exr", ClipInfo.make(8, 6, 3, N, first=1001)) as w:
        for _ in range(N):
            w.write(np.full((6, 8, 3), value, np.float32))


def _child(folder, value: float, kill_at: int, sig: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", _CHILD, str(folder), str(value), str(kill_at), str(sig)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _state(folder) -> float:
    """The one value every frame holds after the next run's recovery; fails on holes, mixes or leftovers."""
    w = open_writer(folder / "out.####.exr", ClipInfo.make(8, 6, 3, N, first=1001))  # the next run on it
    w.abort()
    names = sorted(p.name for p in folder.iterdir())
    assert names == [f"out.{1001 + i}.exr" for i in range(N)], names
    values = {float(read_image(folder / n).mean()) for n in names}
    assert len(values) == 1, f"a mix of two renders: {values}"
    return values.pop()


def test_a_clean_publish_counts_its_steps(tmp_path):
    _render(tmp_path, OLD)
    done = _child(tmp_path, NEW, 0, 0)
    assert done.returncode == 0, done.stderr
    # journal: fsync, rename, fsync folder; N renames; fsync folder; remove the journal
    assert done.stdout.split() == ["steps", str(N + 5)]
    assert _state(tmp_path) == NEW


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "SIGINT"])
def test_killed_at_every_step_of_the_publish(tmp_path, sig):
    outcomes = []
    for step in range(1, N + 6):
        folder = tmp_path / f"step{step}"
        folder.mkdir()
        _render(folder, OLD)
        done = _child(folder, NEW, step, int(sig))
        assert done.returncode != 0, f"step {step}: the signal did not stop the child"
        assert "Traceback" not in done.stderr or sig == signal.SIGINT
        value = _state(folder)
        if sig == signal.SIGINT:
            # Ctrl-C waits for the switch to finish: the new render, complete
            assert value == NEW, f"step {step}"
        else:
            # killed before the journal is in place (its rename is step 2): the old render; after: the new one
            assert value == (OLD if step <= 2 else NEW), f"step {step}"
        outcomes.append(value)
    assert OLD in outcomes or sig == signal.SIGINT


def test_a_live_runs_temporaries_are_left_alone(tmp_path):
    _render(tmp_path, OLD)
    live = open_writer(tmp_path / "out.####.exr", ClipInfo.make(8, 6, 3, N, first=1001))
    live.write(np.full((6, 8, 3), NEW, np.float32))
    hidden = [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    assert len(hidden) == 1
    # a second writer on the same output (this process is alive) must not take the first one's frames
    open_writer(tmp_path / "out.####.exr", ClipInfo.make(8, 6, 3, N, first=1001)).abort()
    assert hidden[0].exists()
    live.abort()
    assert not hidden[0].exists()


def test_atomic_write_replaces_a_file_whole_or_not_at_all(tmp_path):
    path = tmp_path / "state.pt"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed while writing")
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["state.pt"]
    with atomic_write(path) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".state.pt.vh-")  # hidden, beside the final
        tmp.write_text("new")
    assert path.read_text() == "new" and os.listdir(tmp_path) == ["state.pt"]


def test_atomic_write_gives_new_files_the_usual_mode_and_keeps_a_replaced_files(tmp_path):
    umask = os.umask(0o022)  # a known umask for the test (restored below)
    try:
        fresh, kept = tmp_path / "look.cube", tmp_path / "shared.cube"
        kept.write_text("old")
        kept.chmod(0o664)
        for path in (fresh, kept):
            with atomic_write(path) as tmp:
                tmp.write_text("new")
                tmp.chmod(0o600)  # as a writer that makes private files leaves it
        assert fresh.stat().st_mode & 0o777 == 0o644 and kept.stat().st_mode & 0o777 == 0o664
    finally:
        os.umask(umask)
