"""Atomic writers: output appears only when the whole shot was written.

Every file is first written under a hidden temporary name in its final folder (`.name.1001.exr.vh-PID-XXXX`)
and published on a clean `close()` (`vh.core.io.publish`: one journalled switch, so a killed run leaves the
old render or the new one, never a mix); an exception (or a writer that is never closed) removes the
temporaries, and a run that was killed has its leftovers removed by the next writer on the same output. A
compositor therefore never picks up a half-rendered sequence. Problems that can be seen before any processing
(missing or read-only folder, unknown format, odd size for H.264) are raised by `open_writer` itself."""

from __future__ import annotations

import logging
import os
import secrets
import tempfile
from fractions import Fraction
from pathlib import Path
from types import TracebackType

import av
import numpy as np
import OpenImageIO as oiio

from vh.core.errors import InputError, OutputError
from vh.core.io.clip import FLOAT_TYPES, ClipInfo, default_channel_names
from vh.core.io.images import SequencePattern, source_header
from vh.core.io.publish import journal_path, publish, recover, temp_path
from vh.core.io.video import _ENCODERS, VideoEncoder, is_video_path

log = logging.getLogger(__name__)

# Pixel types each format can store, best first for float input. "Same type as the input" when possible,
# else the first listed (float data into a PNG becomes 16-bit, not 8).
_FORMAT_TYPES = {
    "openexr": ("half", "float"),
    "png": ("uint16", "uint8"),
    "jpeg": ("uint8",),
    "tiff": ("float", "half", "uint16", "uint8"),
    "dpx": ("uint16", "uint8"),
}
_NO_ALPHA_FORMATS = {"jpeg"}
#: prores_ks profile names, lightest first; only 4444 and 4444xq keep alpha
PRORES_PROFILES = ("proxy", "lt", "standard", "hq", "4444", "4444xq")


class FrameWriter:
    """Context manager that writes float32 [H, W, C] frames in order; see the module docstring."""

    def __init__(self, path: str, like: ClipInfo):
        self.path = path
        self.like = like
        self.count = 0
        self._token = secrets.token_hex(4)
        self._temps: list[tuple[Path, Path]] = []  # (temporary, final)
        self._closed = False

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def __del__(self) -> None:
        # A writer dropped without close() (a generator abandoned mid-shot) must not leave temporaries behind.
        if not getattr(self, "_closed", True):
            self.abort()

    def write(self, frame: np.ndarray) -> None:
        if self._closed:
            raise OutputError(f"{self.path} is already closed")
        frame = np.asarray(frame)
        if frame.ndim == 2:
            frame = frame[:, :, None]
        if frame.ndim != 3 or frame.shape[:2] != (self.like.height, self.like.width):
            raise InputError(
                f"frame {self.count} for {self.path} has shape {frame.shape}; expected "
                f"[{self.like.height}, {self.like.width}, C] ({self.like.size})"
            )
        try:
            self._write(frame.astype(np.float32, copy=False))
        except BaseException:
            self.abort()
            raise
        self.count += 1

    def close(self) -> None:
        """Finish and publish the output (rename temporaries to their final names)."""
        if self._closed:
            return
        journal = journal_path(self.path)
        try:
            self._finish()
            if self.count == 0:
                raise OutputError(f"no frames were written to {self.path}")
            publish(self._temps, self.path)
        except BaseException as exc:
            if journal.exists():  # the switch is decided; the next run completes it from the journal
                self._closed = True
                raise
            self.abort()
            if isinstance(exc, OSError) and not isinstance(exc, OutputError):
                raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
            raise
        self._closed = True

    def abort(self) -> None:
        """Remove everything written so far; the output is left as it was before the writer opened."""
        if self._closed:
            return
        self._closed = True
        try:
            self._abort()
        finally:
            for tmp, _ in self._temps:
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass

    def _temp_for(self, final: Path) -> Path:
        tmp = temp_path(final, self._token)
        self._temps.append((tmp, final))
        return tmp

    def _write(self, frame: np.ndarray) -> None:
        raise NotImplementedError

    def _finish(self) -> None:
        pass

    def _abort(self) -> None:
        pass


class ImageWriter(FrameWriter):
    """A single image or a numbered sequence through OpenImageIO, in the input's pixel type where possible."""

    def __init__(
        self,
        path: str,
        like: ClipInfo,
        *,
        format_name: str,
        pixel_type: str | None = None,
        compression: str | None = None,
        first: int | None = None,
    ):
        super().__init__(path, like)
        self.pattern = SequencePattern.parse(path)
        self.format_name = format_name
        allowed = _FORMAT_TYPES.get(format_name)
        wanted = pixel_type or like.pixel_type
        if allowed and wanted not in allowed:
            if pixel_type:
                raise OutputError(
                    f"{format_name} cannot store {pixel_type} pixels (it can: {', '.join(allowed)})"
                )
            # Integer input into a float format: half holds 8/16-bit values to well within one code value.
            wanted = allowed[0] if like.pixel_type in FLOAT_TYPES or "half" not in allowed else "half"
        self.pixel_type = wanted
        self.bits = like.bits if (format_name == "dpx" and like.format == "dpx" and like.bits) else 0
        if format_name == "dpx" and not self.bits and wanted == "uint16":
            self.bits = 10  # the DPX norm for film scans; 16-bit DPX is rarely read correctly by other tools
        # Same compression as the input when the format is the same (a zip EXR plate gives zip EXR output).
        self.compression = compression or (
            like.extra.get("compression") if like.format == format_name else None
        )
        if first is None:
            # output frame numbers follow the source's: sequence frame numbers, video frame indices
            first = like.frames[0] if like.kind in ("sequence", "video") and like.frames else 1
        self.first = first
        # EXR to EXR: each frame keeps its source frame's metadata (timecode, rate, chromaticities, custom
        # attributes) and data window
        self._source_headers = like.kind in ("sequence", "image") and like.format == format_name == "openexr"

    def targets(self) -> list[Path]:
        """The files a whole shot of `like`'s length is written to."""
        if self.pattern is None:
            return [Path(self.path)]
        return [self.pattern.path(self.first + i) for i in range(self.like.n_frames)]

    def _write(self, frame: np.ndarray) -> None:
        if self.pattern is None and self.count > 0:
            raise OutputError(
                f"{self.path} is a single image; use a pattern such as name.####.exr for a sequence"
            )
        final = self.pattern.path(self.first + self.count) if self.pattern else Path(self.path)
        channels = frame.shape[2]
        if self.format_name in _NO_ALPHA_FORMATS and channels > 3:
            frame, channels = frame[:, :, :3], 3
        spec = oiio.ImageSpec(self.like.width, self.like.height, channels, self.pixel_type)
        if self._source_headers and self.count < self.like.n_frames:
            frame = source_header(self.like, self.like.frames[self.count], spec, frame)
        names = (
            self.like.channel_names
            if len(self.like.channel_names) == channels
            else default_channel_names(channels)
        )
        spec.channelnames = names
        spec.alpha_channel = names.index("A") if "A" in names else -1
        spec.attribute("oiio:UnassociatedAlpha", 1)  # write alpha as given; we read it unpremultiplied too
        if self.bits:
            spec.attribute("oiio:BitsPerSample", self.bits)
        if self.compression:
            spec.attribute("compression", self.compression)
        if self.pixel_type not in FLOAT_TYPES:
            # OIIO's float -> int conversion clamps to 0..1 but has no answer for NaN.
            frame = np.nan_to_num(frame, nan=0.0, posinf=1.0, neginf=0.0)
        if self.bits and self.bits < 16 and self.pixel_type == "uint16":
            # OIIO makes 10-bit DPX by rounding to 16 bits and then dropping the low bits (truncation, up to
            # one code value off). Round to the target depth here and aim at the middle of its 16-bit bucket.
            levels, shift = 2.0**self.bits - 1, 2.0 ** (16 - self.bits)
            code = np.rint(np.clip(frame, 0.0, 1.0) * levels)  # [H, W, C] integer codes
            frame = ((code * shift + shift / 2) / 65535.0).astype(np.float32)
        out = oiio.ImageOutput.create(self.format_name)
        tmp = self._temp_for(final)
        if out is None or not out.open(str(tmp), spec):
            err = out.geterror() if out is not None else oiio.geterror()
            raise OutputError(f"cannot write {final}: {' '.join(str(err).split())}")
        ok = out.write_image(np.ascontiguousarray(frame))
        err = out.geterror() if not ok else ""
        ok = out.close() and ok
        if not ok:
            raise OutputError(
                f"cannot write {final}: {' '.join(str(err or out.geterror()).split()) or 'disk full?'}"
            )


class VideoWriter(FrameWriter):
    """H.264 (mp4/mkv, yuv420p 8-bit) or ProRes 4444 (mov, with alpha when the shot has it) through PyAV."""

    def __init__(
        self,
        path: str,
        like: ClipInfo,
        *,
        fps: Fraction | int | str | None = None,
        codec: str | None = None,
        alpha: bool | None = None,
        crf: int = 16,
        preset: str = "medium",
        prores_profile: str = "4444",
    ):
        super().__init__(path, like)
        final = Path(path)
        ext = final.suffix.lower()
        try:
            rate = Fraction(fps) if fps is not None else (like.fps or Fraction(24))
        except (ValueError, TypeError, ZeroDivisionError):
            raise OutputError(
                f"frame rate '{fps}' for {path} is not a number or a ratio like 24000/1001"
            ) from None
        if rate <= 0:
            raise OutputError(f"frame rate {rate} for {path} must be positive")
        alpha = like.has_alpha if alpha is None else alpha
        # Keep the source's time base only when it can express every frame time (i.e. is a multiple of 1/fps).
        time_base = (
            like.time_base
            if like.kind == "video" and like.time_base and (1 / rate / like.time_base).denominator == 1
            else None
        )
        self._tmp = self._temp_for(final)
        self.encoder = VideoEncoder(
            str(self._tmp),
            ext,
            like.width,
            like.height,
            rate,
            alpha=alpha,
            time_base=time_base,
            codec=codec,
            crf=crf,
            preset=preset,
            prores_profile=prores_profile,
        )
        if alpha and not self.encoder.alpha:
            log.warning("%s: alpha is not written; only ProRes 4444 (.mov) keeps it", path)

    def _write(self, frame: np.ndarray) -> None:
        try:
            self.encoder.encode(frame)
        except (OSError, av.FFmpegError) as exc:
            raise OutputError(f"cannot write {self.path}: {getattr(exc, 'strerror', None) or exc}") from None

    def _finish(self) -> None:
        try:
            self.encoder.finish()
        except (OSError, av.FFmpegError) as exc:
            raise OutputError(f"cannot write {self.path}: {getattr(exc, 'strerror', None) or exc}") from None

    def _abort(self) -> None:
        encoder = getattr(self, "encoder", None)  # None when the encoder itself failed to open
        if encoder is not None:
            encoder.abort()


def open_writer(path: str | os.PathLike, like: ClipInfo, **opts) -> FrameWriter:
    """A writer for `path` (a video file, an image, or a sequence pattern) shaped like the clip `like`.

    Options: images/sequences `pixel_type`, `compression`, `first` (first frame number; default the input's);
    video `fps` (default the input's, else 24), `codec` ("h264" | "prores"), `alpha`, `crf`, `preset`,
    `prores_profile`; any output: `sources`, the shots it is made from (paths or ClipInfos), which it refuses
    to overwrite. Raises OutputError before anything is processed when the output cannot be written."""
    path = str(path)
    folder = Path(path).parent
    if not folder.exists():
        raise OutputError(f"output folder {folder} does not exist")
    if not folder.is_dir():
        raise OutputError(f"output folder {folder} is not a folder")
    _check_writable(folder)
    if Path(path).is_dir():
        raise OutputError(f"output {path} is a folder; give a file name or a pattern such as shot.####.exr")
    recover(path)  # a killed run's half-done publish and temporaries, before this run adds its own
    ext = Path(path).suffix.lower()
    if is_video_path(path):
        if ext not in _ENCODERS:
            raise OutputError(f"cannot write {ext} video; write .mp4 (H.264) or .mov (ProRes 4444)")
        codec = opts.get("codec")
        if codec not in (None, "h264", "prores", "libx264", "prores_ks"):
            raise OutputError(f"unknown video codec '{codec}'; use h264 or prores")
        h264 = codec in ("h264", "libx264") or (codec is None and _ENCODERS[ext][0] == "libx264")
        if h264 and (like.width % 2 or like.height % 2):
            raise OutputError(
                f"H.264 yuv420p needs an even width and height, {like.size} is not; write .mov (ProRes)"
            )
        sources = opts.pop("sources", ())
        _reject_unknown(opts, {"fps", "codec", "alpha", "crf", "preset", "prores_profile"})
        crf = opts.get("crf")
        if crf is not None and not (isinstance(crf, int) and 0 <= crf <= 51):
            raise OutputError(f"--crf must be an integer from 0 (lossless) to 51, got {crf}")
        profile = opts.get("prores_profile")
        if profile is not None and profile not in PRORES_PROFILES:
            raise OutputError(f"unknown ProRes profile '{profile}'; use one of {', '.join(PRORES_PROFILES)}")
        _refuse_sources(path, [Path(path)], sources)
        return VideoWriter(path, like, **opts)
    out = oiio.ImageOutput.create(path)
    if out is None:
        oiio.geterror()  # consume it, or OIIO prints it again at exit
        raise OutputError(
            f"cannot write {ext or 'extension-less'} files ({path}); "
            "use e.g. .exr, .png, .tif, .dpx, .jpg, .mp4, .mov"
        )
    format_name = out.format_name()
    if SequencePattern.parse(path) is None and like.n_frames > 1:
        raise OutputError(
            f"{path} is a single image but the shot has {like.n_frames} frames; "
            f"use a pattern such as {Path(path).stem}.####{ext}"
        )
    sources = opts.pop("sources", ())
    _reject_unknown(opts, {"pixel_type", "compression", "first"})
    writer = ImageWriter(path, like, format_name=format_name, **opts)
    _refuse_sources(path, writer.targets(), sources)
    return writer


def write_image(path: str | os.PathLike, pixels: np.ndarray, pixel_type: str | None = None, **opts) -> None:
    """Write one float32 [H, W, C] image atomically (EXR defaults to half, PNG to 16-bit, JPEG to 8-bit)."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, c = pixels.shape
    like = ClipInfo.make(w, h, c, 1, pixel_type=pixel_type or "half", kind="image")
    with open_writer(path, like, pixel_type=pixel_type, **opts) as writer:
        writer.write(pixels)


def _refuse_sources(path: str, targets: list[Path], sources) -> None:
    """An output never replaces a file of a shot it is made from (the plate, the matte): sources are the one
    thing a compositor cannot render again. `sources` are ClipInfos or paths; a sequence counts with every
    frame on disk, not just the frames selected, and the same file under another name (links, `%04d` for
    `####`) is the same."""
    from vh.core.io.reader import probe

    pattern = SequencePattern.parse(path)
    for source in sources:
        info = source if isinstance(source, ClipInfo) else probe(source)
        files = [Path(info.path)]
        src_pattern = SequencePattern.parse(info.path) if info.kind == "sequence" else None
        if src_pattern is not None:
            if pattern is not None and _same_sequence(pattern, src_pattern):
                raise OutputError(
                    f"output {path} is the same sequence as the source {info.path}; "
                    "write somewhere else (sources are never overwritten)"
                )
            files = [src_pattern.path(f) for f in src_pattern.scan()]
        ids = {}
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            ids[(st.st_dev, st.st_ino)] = f
        for target in targets:
            try:
                st = target.stat()
            except OSError:
                continue
            hit = ids.get((st.st_dev, st.st_ino))
            if hit is not None:
                raise OutputError(
                    f"output {path} would overwrite {hit.name} of the source {info.path}; "
                    "write somewhere else (sources are never overwritten)"
                )


def _same_sequence(a: SequencePattern, b: SequencePattern) -> bool:
    # padding aside (`#` and `####` name the same frames from 1000 up), the same folder, prefix and suffix
    return (a.prefix, a.suffix) == (b.prefix, b.suffix) and os.path.realpath(a.folder) == os.path.realpath(
        b.folder
    )


def _check_writable(folder: Path) -> None:
    # os.access is not enough: root ignores permission bits; read-only mounts and quotas only show on write.
    try:
        fd, probe = tempfile.mkstemp(prefix=".vh-write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write to folder {folder}: {exc.strerror or exc}") from None


def _reject_unknown(opts: dict, known: set[str]) -> None:
    unknown = sorted(set(opts) - known)
    if unknown:
        raise OutputError(f"unknown writer option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
