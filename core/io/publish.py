"""Publishing a render so that a killed run never leaves a mix of two renders, and never loses the old one.

Every file of an output is first written under a hidden temporary name beside its final one,
`.NAME.vh-PID-TOKEN`, so the old render stays untouched while the new one is made. A single file is then
published by one `os.replace`, which is atomic. A sequence needs one rename per frame, and a process killed in
that loop would leave some frames new and some old; so before the first rename the list of renames is written,
atomically, to a journal beside the output (`.NAME.####.EXR.vh-journal`):

- killed before the journal exists: the old render is intact; the new frames are stale temporaries;
- killed after: the journal says the new render is decided, and the next run on the same output completes it.

`recover(path)` is that next step, run by every writer before it starts: it rolls a dead run's journal forward
and removes temporaries whose run is gone (their pid is in their name). SIGINT and SIGTERM that arrive during
the renames are held until the publish is done, so Ctrl-C never leaves a half-published sequence either."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vh.core.errors import OutputError

log = logging.getLogger(__name__)

_TEMP = re.compile(r"^\.(?P<final>.+)\.vh-(?P<pid>\d+)-[0-9a-f]+$")
_JOURNAL_SUFFIX = ".vh-journal"


def temp_path(final: Path, token: str) -> Path:
    """The hidden temporary that becomes `final` on publish; it names this process, so that a later run can
    tell a dead run's leftovers from a live run's work in progress."""
    return final.with_name(f".{final.name}.vh-{os.getpid()}-{token}")


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """The one way a single file is replaced: the block writes the temporary it is given, which then becomes
    `path` in one rename, so readers (and a run killed half-way) see the old file or the new one, never a
    part. If the block raises, the temporary is removed and `path` is untouched.

        with atomic_write(out) as tmp:
            torch.save(state, tmp)
    """
    path = Path(path)
    tmp = temp_path(path, secrets.token_hex(4))
    try:
        yield tmp
        # some writers create private (0600) files: give the result the mode a plain open() would have, or the
        # replaced file's, so a checkpoint or a .cube stays readable by whoever could read it before
        os.chmod(tmp, path.stat().st_mode & 0o777 if path.exists() else _default_mode())
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def _default_mode() -> int:
    """0666 less this process's umask, read from /proc where possible: os.umask() would change it for a
    moment, under every other thread."""
    try:
        with open("/proc/self/status") as status:
            umask = next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))
    except (OSError, StopIteration, ValueError):
        umask = 0o022
    return 0o666 & ~umask


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    """Write a text file with `atomic_write`."""
    with atomic_write(path) as tmp:
        tmp.write_text(text, encoding=encoding)


class _Output:
    """The files one output path owns: its frames (any number, for a pattern), their temporaries, its
    journal."""

    def __init__(self, path: str | os.PathLike):
        from vh.core.io.images import SequencePattern  # here: atomic_write alone needs no OpenImageIO

        path = Path(path)
        pattern = SequencePattern.parse(path)
        self.folder = path.parent
        if pattern is None:
            key = path.name
            self._final = re.compile(re.escape(path.name) + "$")
        else:
            key = f"{pattern.prefix}{'#' * pattern.padding}{pattern.suffix}"
            self._final = re.compile(re.escape(pattern.prefix) + r"-?\d+" + re.escape(pattern.suffix) + "$")
        self.journal = self.folder / f".{key}{_JOURNAL_SUFFIX}"

    def owns(self, final_name: str) -> bool:
        return bool(self._final.match(final_name)) or final_name == self.journal.name


def journal_path(path: str | os.PathLike) -> Path:
    """Where the publish journal of output `path` (a file or a sequence pattern) lives while it is
    published."""
    return _Output(path).journal


def publish(moves: list[tuple[Path, Path]], output: str | os.PathLike) -> None:
    """Rename every (temporary, final) pair of `output`. Raises before the journal is written: nothing
    changed. Raises after (`OutputError`): the journal stays, and `recover` completes the publish."""
    journal = journal_path(output)
    if len(moves) == 1:
        os.replace(*moves[0])
        return
    with signals_held():
        record = {"pid": os.getpid(), "moves": [[tmp.name, final.name] for tmp, final in moves]}
        atomic_write_text(journal, json.dumps(record))
        try:
            _roll_forward(journal.parent, record["moves"])
            _fsync(journal.parent)
            journal.unlink()
        except OSError as exc:
            raise OutputError(
                f"publishing {journal.parent} stopped ({exc.strerror or exc}); the next run on this output "
                "completes it"
            ) from None


def recover(path: str | os.PathLike) -> None:
    """Finish what dead runs left at output `path`: roll a journal forward, remove their temporaries."""
    out = _Output(path)
    if not out.folder.is_dir():
        return
    if out.journal.exists():
        _recover_journal(out.journal)
    removed, size = 0, 0
    with os.scandir(out.folder) as it:
        entries = list(it)
    for entry in entries:
        m = _TEMP.match(entry.name)
        if not m or not out.owns(m["final"]) or _alive(int(m["pid"])):
            continue
        try:
            size += entry.stat(follow_symlinks=False).st_size
            os.unlink(entry.path)
            removed += 1
        except FileNotFoundError:
            pass  # another run removed it first
    if removed:
        log.warning(
            "removed %d temporary file(s) (%.1f MB) left in %s by a run that was killed",
            removed,
            size / 1e6,
            out.folder,
        )


def _recover_journal(journal: Path) -> None:
    try:
        record = json.loads(journal.read_text(encoding="utf-8"))
        pid, moves = int(record["pid"]), record["moves"]
    except (OSError, ValueError, KeyError, TypeError):
        # written atomically, so an unreadable journal is not ours; it cannot be trusted to move frames
        raise OutputError(f"{journal} is not a vh publish journal; remove it to write this output") from None
    if pid != os.getpid() and _alive(pid):
        raise OutputError(f"another vh run (pid {pid}) is publishing this output; wait for it to finish")
    _roll_forward(journal.parent, moves)
    _fsync(journal.parent)
    journal.unlink(missing_ok=True)
    log.warning(
        "completed the publish of %d file(s) in %s that a killed run had started", len(moves), journal.parent
    )


def _roll_forward(folder: Path, moves: list[list[str]]) -> None:
    for tmp_name, final_name in moves:
        tmp = folder / tmp_name
        if tmp.exists():  # else it was renamed before the run stopped
            os.replace(tmp, folder / final_name)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _fsync(path: Path) -> None:
    # a file: its data before the rename that publishes it; a folder: its renames before the journal that
    # describes them goes away
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the renames are still ordered in the kernel
    finally:
        os.close(fd)


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT/SIGTERM until the block ends, then deliver them (Ctrl-C then stops the run after the
    publish). Only the main thread may set handlers; elsewhere the journal alone keeps the publish
    recoverable."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    held = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.signal(sig, lambda s, _f: caught.append(s)) for sig in held}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for sig in dict.fromkeys(caught):
            signal.raise_signal(sig)
