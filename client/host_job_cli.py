"""The host plugins' job, out of process: `python -m vh.client.host_job_cli {run,info}`.

Nuke and Resolve run their own Pythons (Nuke 14: 3.9, with its own protobuf), where grpcio/protobuf cannot be
installed safely. Their in-host code (standard library only, `client/inhost/vh_outproc.py`) therefore starts
this module with the Python of a `vh` installation and talks to it through pipes, one JSON object per line:

    run  --cache-root DIR   stdin: the job (one line, HostJob's fields; optional "require_matte": true, and
                            "export_cube": true to add the shot's global transform as shot.cube to the result,
                            see vh.core.lut_export; the result event then names it as "cube"),
                            then "cancel" (or end of input) to cancel.
                            stdout: {"event": "progress", "done", "total", "message"} per frame, then exactly
                            one of {"event": "result", "pattern"}, {"event": "error", "message"} (one line)
                            or {"event": "cancelled"}. Exit status 0, 1 or 3 accordingly.
    run  --cache-root DIR --job FILE [--cancel-file FILE]
                            the same, for hosts that can only read a pipe (Fusion's Lua io.popen): the job
                            comes from FILE, stdin is not read, and the job is cancelled once the cancel file
                            exists.
    info --server ADDRESS   stdout: {"event": "info", "info": {...}} (models, their options, the device),
                            or an error event.

Cancelling is cooperative, so the cache never keeps a partial entry (run_job removes it): the host writes
"cancel" and waits; only if the job does not stop in time does it terminate the process.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading

EXIT_OK, EXIT_ERROR, EXIT_CANCELLED = 0, 1, 3


def _emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event) + "\n")
    sys.stdout.flush()


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def _watch_stdin(cancel: threading.Event) -> None:
    """Set `cancel` on a "cancel" line or when the host closes our stdin (it went away)."""
    for line in sys.stdin:
        if line.strip() == "cancel":
            break
    cancel.set()


def check_matte(pattern: str, first: int, last: int) -> None:
    """A plate whose alpha is the matte must have one somewhere: an opaque alpha would repaint the whole
    frame."""
    import numpy as np

    from vh.core.errors import InputError
    from vh.core.io import read_image

    for frame in range(first, last + 1):
        pixels = read_image(pattern % frame)
        if pixels.shape[-1] >= 4 and float(np.min(pixels[..., 3])) < 0.999:
            return
    raise InputError(
        "the clip's alpha is opaque on every frame: key the foreground (or import it with alpha) first"
    )


def run(cache_root: str, job_file: str | None = None, cancel_file: str | None = None) -> int:
    import os

    from vh.client.host_job import HostJob, run_job
    from vh.client.remote import JobCancelled

    cancel = threading.Event()
    try:
        if job_file is None:
            line = sys.stdin.readline()
        else:
            with open(job_file, encoding="utf-8") as f:
                line = f.read()
        fields = json.loads(line)
        require_matte = bool(fields.pop("require_matte", False))
        export_cube = bool(fields.pop("export_cube", False))
        job = HostJob(**fields)
    except (OSError, ValueError, TypeError) as exc:
        _emit({"event": "error", "message": f"bad job description: {_one_line(exc)}"})
        return EXIT_ERROR
    if job_file is None:
        threading.Thread(target=_watch_stdin, args=(cancel,), daemon=True).start()

    def cancelled() -> bool:
        if cancel_file is not None and os.path.exists(cancel_file):
            cancel.set()
        return cancel.is_set()

    def progress(done: int, total: int, message: str) -> None:
        _emit({"event": "progress", "done": done, "total": total, "message": message})

    try:
        if require_matte and job.matte is None:
            check_matte(job.plate, job.first, job.last)
        pattern = run_job(job, cache_root, progress=progress, cancelled=cancelled)
        cube = export_job_cube(job, pattern) if export_cube else None
    except JobCancelled:
        _emit({"event": "cancelled"})
        return EXIT_CANCELLED
    except Exception as exc:  # every failure becomes one line for the host to show
        if cancel.is_set():
            _emit({"event": "cancelled"})
            return EXIT_CANCELLED
        _emit({"event": "error", "message": _one_line(exc)})
        return EXIT_ERROR
    _emit({"event": "result", "pattern": pattern, **({"cube": cube} if cube else {})})
    return EXIT_OK


def export_job_cube(job, pattern: str) -> str:
    """shot.cube beside the job's results (once per cache entry): plate -> result on the matte, in the job's
    colourspace (the host's working space)."""
    import os

    from vh.core import lut_export
    from vh.core.io import read_image

    path = os.path.join(os.path.dirname(pattern), "shot.cube")
    if os.path.exists(path):
        return path

    def frames():
        for frame in job.frames():
            plate = read_image(job.plate % frame)
            if job.matte is not None:
                m = read_image(job.matte % frame)
                matte = m[..., 3] if m.shape[-1] >= 4 else m[..., 0]
            else:
                matte = plate[..., 3] if plate.shape[-1] >= 4 else plate[..., 0] * 0 + 1
            yield plate, read_image(pattern % frame), matte

    lut_export.write_cube(path, lut_export.fit(*lut_export.samples(frames())))
    return path


def _option(spec) -> dict:
    which = spec.default_value.WhichOneof("value")
    option = {
        "name": spec.name,
        "kind": spec.kind,
        "help": spec.help,
        "choices": list(spec.choices),
        "default": getattr(spec.default_value, which) if which else None,
    }
    for bound in ("minimum", "maximum"):
        if spec.HasField(bound):
            option[bound] = getattr(spec, bound)
    return option


def info(address: str, timeout: float) -> int:
    from vh.client.remote import Client

    try:
        with Client(address) as client:
            answer = client.info(timeout=timeout)
    except Exception as exc:
        _emit({"event": "error", "message": _one_line(exc)})
        return EXIT_ERROR
    _emit(
        {
            "event": "info",
            "info": {
                "server_version": getattr(answer, "server_version", ""),
                "device": answer.device.name,
                "default_model": answer.default_model,
                "models": [
                    {"name": m.name, "options": [_option(o) for o in m.options]} for m in answer.models
                ],
            },
        }
    )
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m vh.client.host_job_cli", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run one job read from stdin")
    p_run.add_argument("--cache-root", required=True)
    p_run.add_argument("--job", help="read the job from this file instead of stdin (stdin is then ignored)")
    p_run.add_argument("--cancel-file", help="cancel once this file exists")
    p_info = sub.add_parser("info", help="the server's models and their options")
    p_info.add_argument("--server", required=True)
    p_info.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.cache_root, args.job, args.cancel_file)
    return info(args.server, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
