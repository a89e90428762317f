"""Run vh jobs out of process from inside a host (Nuke, Resolve): standard library only, Python 3.9+.

The host's Python never imports grpcio, protobuf or numpy: hosts ship their own (Nuke its protobuf), and a
second copy in the same process is the classic way to break them. Instead the job runs in the Python of a `vh`
installation (any Python >= 3.10 where `pip install vh` works), started as

    <vh python> -m vh.client.host_job_cli run --cache-root DIR

and driven through pipes: the job goes in as one JSON line, progress comes back as JSON lines on stdout, and
"cancel" on stdin stops it cleanly (the job removes its partial output). See vh/client/host_job_cli.py.

Which Python: $VH_PYTHON, else "python" in ~/.vh/host.json (written by the Resolve installer or by hand),
else a `vh` virtual environment at ~/.vh/venv.
"""

import json
import os
import queue
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

CONFIG_FILE = os.path.join(os.path.expanduser("~"), ".vh", "host.json")
DEFAULT_VENV = os.path.join(os.path.expanduser("~"), ".vh", "venv")
MODULE = "vh.client.host_job_cli"
#: Seconds a job gets to stop after "cancel" before it is terminated.
CANCEL_GRACE = 20.0

ProgressFn = Callable[[int, int, str], None]


class JobError(Exception):
    """The job failed; the message is one line, fit for a status bar."""


class JobCancelled(JobError):
    """The user cancelled; nothing was kept."""


def _venv_python(venv: str) -> str:
    return (
        os.path.join(venv, "Scripts", "python.exe")
        if os.name == "nt"
        else os.path.join(venv, "bin", "python")
    )


def configured_python() -> Optional[str]:
    """The vh installation's Python as configured, or None when nothing is configured."""
    python = os.environ.get("VH_PYTHON")
    if python:
        return python
    try:
        with open(CONFIG_FILE) as f:
            python = json.load(f).get("python")
    except (OSError, ValueError, AttributeError):
        python = None
    if python:
        return python
    candidate = _venv_python(DEFAULT_VENV)
    return candidate if os.path.isfile(candidate) else None


def setup_hint() -> str:
    return (
        "install vh with Python 3.10+ (python3 -m venv ~/.vh/venv && ~/.vh/venv/bin/python -m pip install "
        '/path/to/vh) and set VH_PYTHON to that Python (or "python" in %s)' % CONFIG_FILE
    )


def problem(python: Optional[str] = None) -> Optional[str]:
    """One line saying why no job can run (no vh installation configured, or not found), else None."""
    python = python or configured_python()
    if not python:
        return "no vh installation configured: " + setup_hint()
    if not os.path.isfile(python):
        return "the configured vh Python %s does not exist: %s" % (python, setup_hint())
    return None


def _popen(args: List[str]) -> subprocess.Popen:
    flags = 0x08000000 if os.name == "nt" else 0  # CREATE_NO_WINDOW: no console flashing up on Windows
    env = dict(os.environ)
    env.pop("PYTHONHOME", None)  # hosts set these for their own Python; the vh Python must not inherit them
    env.pop("PYTHONPATH", None)
    env["PYTHONUNBUFFERED"] = "1"
    return subprocess.Popen(
        args,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        bufsize=1,
        env=env,
        creationflags=flags,
    )


def _command(python: Optional[str]) -> List[str]:
    python = python or configured_python()
    issue = problem(python)
    if issue:
        raise JobError(issue)
    return [python, "-m", MODULE]


def _pump(stream, lines: "queue.Queue", tag: str) -> None:
    for line in stream:
        lines.put((tag, line.rstrip("\n")))
    lines.put((tag, None))


def _last_error_line(stderr: List[str]) -> str:
    for line in reversed(stderr):
        if line.strip():
            return line.strip()
    return "no output"


def server_info(address: str, python: Optional[str] = None, timeout: float = 10.0) -> Dict:
    """The server's models and options
    ({"models": [{"name", "options": [...]}], "default_model", "device"})."""
    args = _command(python) + ["info", "--server", address, "--timeout", str(timeout)]
    process = _popen(args)
    try:
        out, err = process.communicate(timeout=timeout + 60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise JobError("the vh Python did not answer within %d s" % (timeout + 60)) from None
    for line in out.splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "info":
            return event["info"]
        if event.get("event") == "error":
            raise JobError(event.get("message", "unknown error"))
    raise JobError("the vh Python failed: %s" % _last_error_line(err.splitlines()))


def run_job(
    job: Dict,
    cache_root: str,
    progress: Optional[ProgressFn] = None,
    cancelled: Optional[Callable[[], bool]] = None,
    python: Optional[str] = None,
    poll: float = 0.1,
    grace: float = CANCEL_GRACE,
    outcome: Optional[Dict] = None,
) -> str:
    """Run `job` (HostJob's fields as a dict) out of process; returns the result pattern.

    `progress(done, total, message)` is called for every progress line; `cancelled()` is polled every `poll`
    seconds, and once true the job is asked to stop (JobCancelled is raised once it has, leaving nothing).
    Failures raise JobError with the job's one-line message. `outcome`, when given, receives the final event
    (e.g. "cube", the exported LUT of a job with "export_cube").
    """
    process = _popen(_command(python) + ["run", "--cache-root", cache_root])
    lines = queue.Queue()
    stderr: List[str] = []
    for stream, tag in ((process.stdout, "out"), (process.stderr, "err")):
        threading.Thread(target=_pump, args=(stream, lines, tag), daemon=True).start()
    final = None  # the final event
    cancel_sent_at = None
    open_streams = 2
    try:
        process.stdin.write(json.dumps(job) + "\n")
        process.stdin.flush()
        while open_streams:
            if cancel_sent_at is None and cancelled is not None and cancelled():
                cancel_sent_at = time.monotonic()
                try:
                    process.stdin.write("cancel\n")
                    process.stdin.flush()
                except OSError:
                    pass  # it already ended
            if (
                cancel_sent_at is not None
                and time.monotonic() - cancel_sent_at > grace
                and process.poll() is None
            ):
                process.terminate()
            try:
                tag, line = lines.get(timeout=poll)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
                continue
            if tag == "err":
                stderr.append(line)
                del stderr[:-50]
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # anything else printed on stdout (a library's chatter) is not ours
            if event.get("event") == "progress":
                if progress is not None:
                    progress(int(event["done"]), int(event["total"]), str(event.get("message", "")))
            elif event.get("event") in ("result", "error", "cancelled"):
                final = event
        process.wait()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdin, process.stdout, process.stderr):
            try:
                stream.close()
            except OSError:
                pass
    if final is None:
        if cancel_sent_at is not None:
            raise JobCancelled("cancelled: the job was stopped")
        raise JobError(
            "the vh job ended without a result (exit status %s): %s"
            % (process.returncode, _last_error_line(stderr))
        )
    if outcome is not None:
        outcome.update(final)
    if final["event"] == "result":
        return final["pattern"]
    if final["event"] == "cancelled":
        raise JobCancelled("cancelled by the user")
    raise JobError(final.get("message", "unknown error"))


def default_cache_root(host: str) -> str:
    """Where results are cached: $VH_CACHE_DIR, else ~/.cache/vh/<host> (the same rule as the vh package)."""
    return os.environ.get("VH_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "vh", host)


if __name__ == "__main__":  # a quick check from a terminal: python vh_outproc.py HOST:PORT
    print(json.dumps(server_info(sys.argv[1]), indent=2))
