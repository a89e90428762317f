"""Image sequences (OpenImageIO), video (PyAV) and mattes, streamed one frame at a time.

Host-side pixels are float32 [H, W, C], top-left origin, channels R, G, B[, A, ...]; integer files are
normalised to 0..1 and nothing clamps on read. Mattes are float32 [H, W] in 0..1. Writers publish their output
only on a clean close. See docs/architecture.md ("I/O") for the contract.
"""

from vh.core.io.clip import ClipInfo, parse_frame_range
from vh.core.io.images import SequencePattern, read_image
from vh.core.io.matte import alpha_of, read_mattes
from vh.core.io.reader import probe, read_frames, select
from vh.core.io.video import VIDEO_EXTENSIONS, is_video_path
from vh.core.io.writer import FrameWriter, open_writer, write_image

__all__ = [
    "ClipInfo",
    "FrameWriter",
    "SequencePattern",
    "VIDEO_EXTENSIONS",
    "alpha_of",
    "is_video_path",
    "open_writer",
    "parse_frame_range",
    "probe",
    "read_frames",
    "read_image",
    "read_mattes",
    "select",
    "write_image",
]
