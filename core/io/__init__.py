"""Image sequences (OpenImageIO), video (PyAV) and mattes, streamed one frame at a time.

Host-side pixels are float32 [H, W, C], top-left origin, channels R, G, B[, A, ...]; integer files are
normalised to 0..1 and nothing clamps on read. Mattes are float32 [H, W] in 0..1. Writers publish their output
only on a clean close. See docs/architecture.md ("I/O") for the contract.
"""

import importlib

# name -> submodule. Resolved on first use (PEP 562), so `vh.core.io.publish` and friends import without
# OpenImageIO or PyAV: a training machine needs neither.
_EXPORTS = {
    "ClipInfo": "clip",
    "parse_frame_range": "clip",
    "SequencePattern": "images",
    "read_image": "images",
    "alpha_of": "matte",
    "read_mattes": "matte",
    "probe": "reader",
    "read_frames": "reader",
    "select": "reader",
    "VIDEO_EXTENSIONS": "video",
    "is_video_path": "video",
    "FrameWriter": "writer",
    "open_writer": "writer",
    "write_image": "writer",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value
