"""The job the host plugins (Nuke node, Resolve scripts) run: rendered EXR frames in, cached EXR results out.

Hosts render the plate (and matte) to EXR themselves, then call `run_job`, which streams the frames to a
vh-server through the thin client and writes the harmonized frames into a cache entry keyed by the inputs'
bytes and every setting, so that a rerun with nothing changed is instant.

A cache entry appears only complete: frames are written into a hidden `.partial-*` folder that is renamed into
place after the last frame and its manifest. A cancelled or failed job removes its partial folder, so nothing
that looks complete is ever left behind.

Frames are read and written with vh.core.io (OpenImageIO); nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np

from vh.client.remote import Client, JobCancelled
from vh.core.errors import InputError
from vh.core.io import probe, read_image, write_image

RESULT_NAME = "harmonized.%04d.exr"
MANIFEST = "manifest.json"
CACHE_VERSION = 1


@dataclass
class HostJob:
    """Everything that decides a result. Patterns are printf-style (`plate.%04d.exr`)."""

    server: str
    plate: str
    first: int
    last: int
    matte: str | None = None  # None: the plate's alpha is the matte
    model: str = ""
    options: dict = field(default_factory=dict)
    strength: float = 1.0
    colorspace: str = "scene_linear"
    ocio_config: str = ""
    client_name: str = "vh host plugin"

    def frames(self) -> range:
        return range(self.first, self.last + 1)

    def settings(self) -> dict:
        """The settings part of the cache key (the server address is not: any server gives the same
        result)."""
        s = asdict(self)
        for volatile in ("server", "plate", "matte", "client_name"):
            s.pop(volatile)
        s["has_matte"] = self.matte is not None
        return s


def default_cache_root(host: str) -> str:
    return os.environ.get("VH_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "vh", host)


def cache_key(job: HostJob) -> str:
    """sha256 of the settings and of every input frame's pixels (plate, then matte), in frame order.

    Pixels, not file bytes: hosts stamp render times and other metadata into the EXR header, which would make
    two renders of the same image look different.
    """
    h = hashlib.sha256(json.dumps({"v": CACHE_VERSION, **job.settings()}, sort_keys=True).encode())
    for frame in job.frames():
        for pattern in (job.plate, job.matte):
            if pattern is not None:
                pixels = _read(pattern, frame)
                h.update(repr(pixels.shape).encode())
                h.update(np.ascontiguousarray(pixels).tobytes())
    return h.hexdigest()[:32]


def cached_result(job: HostJob, cache_root: str, key: str | None = None) -> str | None:
    """The result pattern of a complete cache entry for this job, or None."""
    entry = os.path.join(cache_root, key or cache_key(job))
    return os.path.join(entry, RESULT_NAME) if os.path.exists(os.path.join(entry, MANIFEST)) else None


def _read(pattern: str, frame: int) -> np.ndarray:
    path = pattern % frame
    if not os.path.exists(path):
        raise InputError(f"rendered frame {path} is missing")
    return read_image(path)


def _matte_plane(pixels: np.ndarray) -> np.ndarray:
    """A matte file's alpha, or its only/first channel when it has no alpha."""
    return pixels[..., 3] if pixels.shape[-1] >= 4 else pixels[..., 0]


def run_job(
    job: HostJob,
    cache_root: str,
    progress: Callable[[int, int, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    client: Client | None = None,
) -> str:
    """Harmonize the job's frames (or reuse the cache); returns the result pattern
    (`.../harmonized.%04d.exr`).

    `progress(done, total, message)` is called after every frame; `cancelled()` is polled before every frame
    and a True stops the server's work and raises JobCancelled, leaving no cache entry."""
    key = cache_key(job)
    hit = cached_result(job, cache_root, key)
    if hit:
        if progress:
            progress(len(job.frames()), len(job.frames()), "cached result: nothing to send")
        return hit
    os.makedirs(cache_root, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=f".partial-{key}-", dir=cache_root)
    own_client = client is None
    client = client or Client(job.server)
    total = len(job.frames())
    started = time.monotonic()
    # results are stored as the plate is (half or float)
    pixel_type = probe(job.plate % job.first).pixel_type

    def frames():
        for frame in job.frames():
            if cancelled and cancelled():
                return
            yield _read(job.plate, frame)

    def mattes():
        for frame in job.frames():
            yield _matte_plane(_read(job.matte, frame))

    try:
        remote = client.harmonize(
            frames(),
            mattes() if job.matte else None,
            colorspace=job.colorspace,
            model=job.model,
            options=job.options,
            ocio_config=job.ocio_config,
            strength=job.strength,
            dtype=np.float32,
            frame_count=total,
            first_frame=job.first,
            client_name=job.client_name,
        )
        done = 0
        for frame, out in zip(job.frames(), remote):
            if cancelled and cancelled():
                remote.cancel()
                raise JobCancelled("cancelled by the user")
            write_image(
                os.path.join(partial, RESULT_NAME % frame), out, pixel_type=pixel_type, compression="zips"
            )
            done += 1
            if progress:
                progress(done, total, f"frame {frame} ({done}/{total})")
        if cancelled and cancelled():
            raise JobCancelled("cancelled by the user")
        if done != total:
            raise InputError(f"the server returned {done} of {total} frames")
        manifest = {
            "settings": job.settings(),
            "frames": [job.first, job.last],
            "seconds": time.monotonic() - started,
            "server": job.server,
            "model": getattr(remote.accepted, "model", job.model),
        }
        with open(os.path.join(partial, MANIFEST), "w") as f:
            json.dump(manifest, f, indent=2)
        entry = os.path.join(cache_root, key)
        try:
            os.replace(partial, entry)
        except OSError:  # another job finished the same entry first: theirs is equally complete
            shutil.rmtree(partial, ignore_errors=True)
        return os.path.join(entry, RESULT_NAME)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        if own_client:
            client.close()
