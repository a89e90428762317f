"""Video files through PyAV (FFmpeg): probe, decode to float RGB[A], encode H.264 or ProRes 4444.

Decoding reads whatever FFmpeg reads. YUV -> RGB uses the stream's own matrix and range; untagged streams get
the usual guess (BT.709 from 720 lines up, BT.601 below), which is what players do. More than 8 bits per
sample (10-bit ProRes, HEVC) decode through 16-bit RGB so the extra precision reaches the float frame.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction

import av
import numpy as np

from vh.core.errors import InputError, OutputError
from vh.core.io.clip import ClipInfo

VIDEO_EXTENSIONS = {".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm", ".mxf", ".mpg", ".mpeg", ".ts", ".gif"}

# AVColorSpace / AVColorRange values (libavutil/pixfmt.h) that matter for the RGB <-> YUV matrix.
_SPC_BT709, _SPC_UNSPECIFIED, _SPC_BT470BG, _SPC_SMPTE170M, _SPC_BT2020_NCL = 1, 2, 5, 6, 9
_RANGE_MPEG, _RANGE_JPEG = 1, 2
_TRC_BT709 = 1

# Encoders by output extension: (codec, pixel format without alpha, pixel format with alpha or None).
_ENCODERS = {
    ".mp4": ("libx264", "yuv420p", None),
    ".m4v": ("libx264", "yuv420p", None),
    ".mkv": ("libx264", "yuv420p", None),
    ".mov": ("prores_ks", "yuv444p10le", "yuva444p10le"),
}


def is_video_path(path: str | os.PathLike) -> bool:
    return os.path.splitext(str(path))[1].lower() in VIDEO_EXTENSIONS


def _open_input(path: str | os.PathLike):
    if not os.path.isfile(path):
        raise InputError(f"{path} does not exist")
    try:
        container = av.open(str(path), "r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise InputError(f"cannot read {path}: {_one_line(exc)}") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path} has no video stream")
    return container


def probe_video(path: str | os.PathLike, frames: tuple[int, int] | None = None) -> ClipInfo:
    """ClipInfo for the first video stream; frame numbers are 0-based indices, `frames` selects a range."""
    container = _open_input(path)
    try:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        fmt = ctx.format
        if fmt is None or not ctx.width or not ctx.height:
            raise InputError(f"cannot read {path}: the video stream has no size or pixel format")
        alpha = any(c.is_alpha for c in fmt.components)
        bits = max(c.bits for c in fmt.components)
        fps = stream.average_rate or stream.guessed_rate or stream.base_rate
        nominal = stream.base_rate or stream.guessed_rate
        if stream.average_rate and nominal and abs(stream.average_rate / nominal - 1) > 0.005:
            # frames are not evenly spaced: written out at one rate, the shot would be re-timed
            raise InputError(
                f"{path} has a variable frame rate (average {float(stream.average_rate):.3f} fps, nominal "
                f"{float(nominal):.3f}); convert it to a constant rate first, e.g. "
                f"ffmpeg -i {os.path.basename(str(path))} -fps_mode cfr -c:v prores_ks cfr.mov"
            )
        count = stream.frames or _count_packets(container, stream, path)
    finally:
        container.close()
    if not count:
        raise InputError(f"cannot read {path}: the video stream has no frames")
    first, last = frames if frames is not None else (0, count - 1)
    if first < 0 or last >= count:
        raise InputError(f"frames {first}-{last} are outside {path}, which has frames 0-{count - 1}")
    names = ("R", "G", "B", "A") if alpha else ("R", "G", "B")
    return ClipInfo(
        path=str(path),
        kind="video",
        width=ctx.width,
        height=ctx.height,
        channels=len(names),
        channel_names=names,
        frames=tuple(range(first, last + 1)),
        pixel_type="uint16" if bits > 8 else "uint8",
        bits=bits,
        alpha_channel=3 if alpha else None,
        fps=Fraction(fps) if fps else None,
        time_base=Fraction(stream.time_base) if stream.time_base else None,
        format=ctx.codec.name,
        extra={"pix_fmt": fmt.name},
    )


def _count_packets(container, stream, path) -> int:
    """Frame count for containers that do not store it (MKV, TS): demux without decoding."""
    try:
        return sum(1 for p in container.demux(stream) if p.size)
    except av.FFmpegError as exc:
        raise InputError(f"cannot read {path}: {_one_line(exc)}") from None


def iter_video_frames(info: ClipInfo) -> Iterator[np.ndarray]:
    """Decode `info.frames` (0-based indices) as float32 [H, W, 3|4] in 0..1, one at a time.

    Frames before the range are decoded and dropped: exact-frame seeking is not reliable across codecs with
    B-frames and edit lists, and a wrong frame is worse than a slow start.
    """
    first, last = info.frames[0], info.frames[-1]
    target = (
        ("rgba64le" if info.bits > 8 else "rgba")
        if info.has_alpha
        else ("rgb48le" if info.bits > 8 else "rgb24")
    )
    scale = np.float32(1.0 / (65535.0 if info.bits > 8 else 255.0))
    container = _open_input(info.path)
    index = -1
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        try:
            for frame in container.decode(stream):
                index += 1
                if index < first:
                    continue
                rgb = _to_rgb(frame, target)  # [H, W, C] uint8|uint16
                if rgb.shape[:2] != (info.height, info.width):
                    raise InputError(
                        f"{info.path} changes size at frame {index}: "
                        f"{rgb.shape[1]}x{rgb.shape[0]}, not {info.size}"
                    )
                yield np.multiply(rgb, scale, dtype=np.float32)  # [H, W, C] in 0..1, one pass
                if index >= last:
                    return
        except av.FFmpegError as exc:
            raise InputError(f"cannot read {info.path} at frame {index + 1}: {_one_line(exc)}") from None
    finally:
        container.close()
    raise InputError(f"{info.path} ended after {index + 1} frames; frames {first}-{last} were asked for")


def _to_rgb(frame: av.VideoFrame, target: str) -> np.ndarray:
    fmt = frame.format
    if fmt.is_rgb or fmt.name.startswith(("gbr", "gray", "pal")):
        return frame.to_ndarray(format=target)
    spc = frame.colorspace
    if spc in (_SPC_UNSPECIFIED, 0, 3):  # 0 = RGB, 3 = reserved: both mean "untagged" for a YUV stream
        spc = _SPC_BT709 if frame.height >= 720 else _SPC_SMPTE170M
    matrix = {
        _SPC_BT709: "itu709",
        _SPC_BT470BG: "itu601",
        _SPC_SMPTE170M: "smpte170m",
        _SPC_BT2020_NCL: "bt2020",
    }.get(spc, "itu709" if frame.height >= 720 else "itu601")
    src_range = "JPEG" if frame.color_range == _RANGE_JPEG or fmt.name.startswith("yuvj") else "MPEG"
    return frame.reformat(
        format=target, src_colorspace=matrix, src_color_range=src_range, dst_color_range="JPEG"
    ).to_ndarray()


class VideoEncoder:
    """Encodes float frames into a container at `path` (any name; the format comes from `ext`).

    Not atomic by itself: `vh.core.io.writer.VideoWriter` gives it a temporary name and renames on success.
    """

    def __init__(
        self,
        path: str,
        ext: str,
        width: int,
        height: int,
        fps: Fraction,
        *,
        alpha: bool,
        time_base: Fraction | None = None,
        codec: str | None = None,
        crf: int = 16,
        preset: str = "medium",
        prores_profile: str = "4444",
    ):
        default_codec, pix_fmt, alpha_fmt = _ENCODERS[ext]
        codec = {"h264": "libx264", "prores": "prores_ks"}.get(codec or "", codec or default_codec)
        if codec == "prores_ks":
            # the 4444 profiles are 4:4:4 with alpha; proxy, lt, standard and hq are 4:2:2 without
            four = prores_profile.startswith("4444")
            pix_fmt, alpha_fmt = ("yuv444p10le", "yuva444p10le") if four else ("yuv422p10le", None)
        elif codec == "libx264":
            pix_fmt, alpha_fmt = "yuv420p", None
        self.alpha = bool(alpha and alpha_fmt)
        self.pix_fmt = alpha_fmt if self.alpha else pix_fmt
        self.width, self.height, self.fps = width, height, Fraction(fps)
        fmt_name = {".mov": "mov", ".mkv": "matroska"}.get(ext, "mp4")
        try:
            self.container = av.open(path, "w", format=fmt_name)
        except (av.FFmpegError, OSError) as exc:
            raise OutputError(f"cannot create {path}: {_one_line(exc)}") from None
        try:
            options = {"crf": str(crf), "preset": preset} if codec == "libx264" else {}
            if codec == "prores_ks":
                options = {"profile": prores_profile, "vendor": "apl0", "bits_per_mb": "8000"}
            self.stream = self.container.add_stream(codec, rate=self.fps, options=options)
            self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, self.pix_fmt
            self.stream.codec_context.time_base = 1 / self.fps
            if time_base:
                # Keep the source's container time base, so timestamps (and editorial tools) line up.
                self.stream.time_base = time_base
            ctx = self.stream.codec_context
            ctx.colorspace, ctx.color_range = _SPC_BT709, _RANGE_MPEG
            ctx.color_primaries, ctx.color_trc = _SPC_BT709, _TRC_BT709
        except (av.FFmpegError, ValueError) as exc:
            self.container.close()
            raise OutputError(f"cannot set up the {codec} encoder: {_one_line(exc)}") from None
        self.count = 0

    def encode(self, pixels: np.ndarray) -> None:
        """`pixels` float32 [H, W, C] in 0..1; values outside are clipped (integer video cannot hold them)."""
        c = pixels.shape[2]
        if c < 3:  # a matte or grey frame: replicate it, video has no 1-channel 4:4:4 in these codecs
            pixels, c = np.repeat(pixels[:, :, :1], 3, axis=2), 3
        rgb = (
            pixels[:, :, :3]
            if not self.alpha
            else (
                pixels[:, :, :4]
                if c >= 4
                else np.concatenate([pixels[:, :, :3], np.ones_like(pixels[:, :, :1])], 2)
            )
        )
        # 16-bit RGB into swscale: rounding to 8/10-bit YUV happens once, in the matrix, not twice.
        # fmax/fmin skip NaN, so NaN and -inf become 0 and +inf 1; a fresh float32 copy, edited in place below
        q = np.fmax(rgb, np.float32(0.0))
        np.fmin(q, np.float32(1.0), out=q)
        q *= np.float32(65535.0)
        q += np.float32(0.5)
        q = q.astype(np.uint16)  # [H, W, 3|4], rounded (the + 0.5 before truncation)
        frame = av.VideoFrame.from_ndarray(
            np.ascontiguousarray(q), format="rgba64le" if self.alpha else "rgb48le"
        )
        frame = frame.reformat(format=self.pix_fmt, dst_colorspace="itu709", dst_color_range="MPEG")
        frame.pts = self.count
        frame.time_base = 1 / self.fps
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.count += 1

    def finish(self) -> None:
        for packet in self.stream.encode(None):
            self.container.mux(packet)
        self.container.close()

    def abort(self) -> None:
        try:
            self.container.close()
        except (av.FFmpegError, OSError, ValueError):
            pass  # closing a half-initialised muxer may fail; the temporary file is deleted anyway


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
