"""Writing the redacted copy: decode, cover every face box, encode H.264, copy the audio as it is.

One pass, streamed: packets are read in file order (a local file, or an S3 object through ranged
reads), each decoded video frame has its boxes covered in place and goes to the encoder with its own
presentation timestamp, and each audio packet goes to the output unchanged. Nothing is held but
the decoder's and encoder's few frames in flight and the muxer's interleaving queue, so memory does
not grow with the video's length.

What is kept: the audio streams, packet for packet (not re-encoded); every frame's timestamp (so a
variable frame rate stays variable) and the frame count; the size; the rotation (display matrix)
and the colour description; the duration. What is not: subtitle, data and timecode streams
(dropped), the video codec (always H.264; ``Quality`` documents the settings).

The covering works on the decoder's 4:2:0 planes directly (luma box and the matching chroma box),
with Pillow's C filters on the box alone: no conversion of the whole frame to RGB and back.
Other pixel formats (10-bit, 4:2:2, 4:4:4) are converted to 4:2:0 first, and a frame of an odd
width or height to 4:4:4 (``encoding_format``: H.264's 4:2:0 needs even sides).

The encoder runs on x264's frame threads, one per core, and the decoder on FFmpeg's threads: each
call hands a frame over and returns, so decoding, covering and encoding overlap on both cores.

The output is written to a temporary file in the target's folder and renamed over the target only
when complete: an interrupted or failed redaction leaves nothing half-written.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import numpy as np
from PIL import Image, ImageFilter

from ..jobs.errors import BadInput, ExitCode, LauncherError
from ..jobs.formats import partial_prefix
from .boxes import FaceBox, Timeline
from .options import DEFAULT_STYLE, STYLES, Quality, check_output

# Blur: a Gaussian whose standard deviation is this share of the covered box's shorter side. At 0.2
# nothing of a face's features survives (eyes, nose and mouth are each about a fifth of a face), and
# neither RetinaFace nor libfacedetection finds a face in it (tests/unit/test_redact_writer.py).
BLUR_SIGMA = 0.2
BLUR_DETAIL = 4  # pixels per sigma kept when a strong blur is computed on a shrunk copy
# Pixelate: this many blocks across the covered box's shorter side (the face itself is about 3 of them).
PIXELATE_BLOCKS = 5
PLANAR_FORMATS = ("yuv420p", "yuvj420p")

VideoSource = Path | BinaryIO | io.RawIOBase


@dataclass(frozen=True)
class Written:
    """What the redaction wrote."""

    path: Path
    frames: int  # video frames written (the same as read)
    covered_frames: int  # frames with at least one box covered
    boxes: int  # boxes covered, all frames together
    audio_packets: int  # copied unchanged
    width: int
    height: int
    duration_s: float | None  # the output container's duration


class UnreadableVideo(LauncherError):
    """The video could not be read or written; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message, ExitCode.BAD_INPUT)


def output_format(out: Path) -> str:
    """The container: QuickTime for a .mov name, MP4 otherwise."""
    return "mov" if out.suffix.lower() == ".mov" else "mp4"


def _plane(frame: av.VideoFrame, index: int) -> np.ndarray:
    """A writable view of one plane of a (writable) frame, without its row padding."""
    plane = frame.planes[index]
    rows = np.frombuffer(memoryview(plane), np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width]


def _blur(region: np.ndarray, sigma: float) -> None:
    """A Gaussian blur of standard deviation ``sigma`` (pixels), in place. A strong blur leaves no
    detail finer than sigma, so it is computed on a copy shrunk (by area averaging) to about
    ``BLUR_DETAIL`` pixels per sigma and enlarged back (bilinear): the same picture at a fraction of
    the cost (a 420x520 box at sigma 84: 1.6 against 10 ms for its three planes)."""
    height, width = region.shape
    if not height or not width:
        return
    image = Image.fromarray(np.ascontiguousarray(region))
    factor = max(1, min(int(sigma // BLUR_DETAIL), width // 2, height // 2))
    if factor > 1:
        small = image.reduce(factor)
        blurred = small.filter(ImageFilter.GaussianBlur(sigma / factor))
        region[...] = np.asarray(blurred.resize((width, height), Image.Resampling.BILINEAR))
    else:
        # Pillow's Gaussian is three box blurs: its cost does not grow with the radius.
        region[...] = np.asarray(image.filter(ImageFilter.GaussianBlur(max(1.0, sigma))))


def _pixelate(region: np.ndarray, blocks: int) -> None:
    height, width = region.shape
    if not height or not width:
        return
    image = Image.fromarray(np.ascontiguousarray(region))
    scale = blocks / min(height, width)
    small = image.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.Resampling.BOX)
    region[...] = np.asarray(small.resize((width, height), Image.Resampling.NEAREST))


def cover(planes: list[np.ndarray], box: tuple[int, int, int, int], style: str, black: int) -> None:
    """Cover the box (x0, y0, x1, y1 in luma pixels, even but where the frame's odd side ends it)
    in planar YUV planes (Y, U, V: 4:2:0, or 4:4:4 for an odd size), in place."""
    x0, y0, x1, y1 = box
    luma_height, luma_width = planes[0].shape
    regions, scales = [planes[0][y0:y1, x0:x1]], [1]
    for plane in planes[1:]:
        # A subsampled plane's box: the chroma samples any of the box's pixels use.
        sx = 2 if plane.shape[1] < luma_width else 1
        sy = 2 if plane.shape[0] < luma_height else 1
        regions.append(plane[y0 // sy : -(-y1 // sy), x0 // sx : -(-x1 // sx)])
        scales.append(sx)
    side = min(x1 - x0, y1 - y0)
    if style == "box":
        regions[0][...] = black
        regions[1][...] = 128
        regions[2][...] = 128
    elif style == "pixelate":
        for region in regions:
            _pixelate(region, PIXELATE_BLOCKS)
    else:
        for region, scale in zip(regions, scales, strict=True):
            _blur(region, BLUR_SIGMA * side / scale)


def encoding_format(frame: av.VideoFrame) -> str:
    """The pixel format the copy is covered and encoded in: the decoder's 4:2:0 as it is; other
    formats (10-bit, 4:2:2, 4:4:4) converted to 4:2:0, which every H.264 player decodes. An odd
    width or height cannot be 4:2:0 in H.264 (its chroma has half as many samples each way), so
    such a frame is encoded in 4:4:4 (the High 4:4:4 Predictive profile) at its own size, which
    FFmpeg-based players (ffplay, mpv, VLC) play and many browsers and hardware decoders do not."""
    full_range = frame.format.name.startswith("yuvj")
    if frame.width % 2 or frame.height % 2:
        return "yuvj444p" if full_range else "yuv444p"
    return frame.format.name if frame.format.name in PLANAR_FORMATS else "yuv420p"


def cover_frame(frame: av.VideoFrame, boxes: list[FaceBox], style: str) -> tuple[av.VideoFrame, int]:
    """The frame, in ``encoding_format``, with every box covered (in place where the frame allows
    it), and how many boxes reached into it."""
    target = encoding_format(frame)
    if frame.format.name != target:
        frame = frame.reformat(format=target)
    pixel_boxes = [found for box in boxes if (found := box.pixels(frame.width, frame.height)) is not None]
    if not pixel_boxes:
        return frame, 0
    frame.make_writable()  # a copy when the decoder still refers to the frame
    planes = [_plane(frame, index) for index in range(3)]
    black = 0 if frame.format.name.startswith("yuvj") else 16
    for box in pixel_boxes:
        cover(planes, box, style, black)
    return frame, len(pixel_boxes)


def usable_cores() -> int:
    """The cores this process may run on (a container's or a Lambda function's share)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def display_matrix(frame: av.VideoFrame) -> list[int] | None:
    """The frame's display matrix (rotation and flips), as 9 integers, if it carries one."""
    from av.sidedata.sidedata import Type

    side_data: Any = frame.side_data  # PyAV's stubs type it as a TypedDict; it is a Mapping by Type
    if Type.DISPLAYMATRIX not in side_data:
        return None
    data = bytes(side_data[Type.DISPLAYMATRIX])
    return list(struct.unpack("<9i", data)) if len(data) == 36 else None


def _timestamp_ms(frame: av.VideoFrame, start: int, time_base: Fraction) -> float:
    return float((frame.pts - start) * time_base * 1000) if frame.pts is not None else 0.0


class _Output:
    """The output container: the video stream (H.264) and each audio stream (a copy), in the
    source's order. The video stream is configured from the first decoded frame (pixel format,
    colour, display matrix); audio packets read before the encoder is open wait, since the
    container's header is written on the first packet and needs every stream's parameters."""

    def __init__(
        self,
        path: str,
        fmt: str,
        source: av.container.InputContainer,
        video: av.video.stream.VideoStream,
        quality: Quality,
    ) -> None:
        self.container = av.open(path, mode="w", format=fmt)
        self._source_video, self._quality = video, quality
        self.configured = False
        self._encoding = False  # the encoder is open: the header may be written
        self._durations: dict[int, int] = {}  # frame duration by timestamp, while in the encoder
        self.audio: dict[int, Any] = {}
        self._waiting: list[av.Packet] = []
        self.video: Any = None
        for stream in source.streams:
            if stream.index == video.index:
                self.video = self.container.add_stream("libx264", options=quality.options())
            elif stream.type == "audio":
                self.audio[stream.index] = self.container.add_stream_from_template(stream)

    def configure(self, first: av.VideoFrame) -> None:
        stream, video = self._source_video, self.video
        assert stream.time_base is not None
        video.width, video.height = first.width, first.height
        video.pix_fmt = encoding_format(first)
        video.time_base = stream.time_base
        context = video.codec_context
        context.time_base = stream.time_base
        rate = stream.average_rate or stream.guessed_rate
        if rate:
            context.framerate = rate  # rate control's notion of the frame rate; timestamps stay the frames'
        # x264's frame threads, one per core: each call hands the frame over and returns, so the
        # encoder keeps the cores busy while the next frames are decoded and covered. PyAV's
        # default, slice threads, makes every call wait for the frame's slices (1.0-1.6 cores used
        # at 1920x1080 on 2 cores; frame threads 1.8), and x264's own count, 1.5 per core, left
        # 3 frames waiting on each other's rows on 2 cores (bench/README.md, history).
        context.thread_type = "FRAME"
        context.thread_count = self._quality.threads or usable_cores()
        for name in ("color_range", "colorspace", "color_primaries", "color_trc"):
            with contextlib.suppress(AttributeError, ValueError, TypeError):
                setattr(context, name, getattr(first, name))
        if stream.sample_aspect_ratio:
            with contextlib.suppress(AttributeError, ValueError):
                context.sample_aspect_ratio = stream.sample_aspect_ratio
        matrix = display_matrix(first)
        if matrix is not None:
            video.set_display_matrix(matrix)
        if stream.language:
            video.metadata["language"] = stream.language
        self.configured = True

    def encode(self, frame: av.VideoFrame | None) -> None:
        # libx264 gives packets no duration; the muxer needs the last one's (the video's end), so
        # each packet gets its frame's, found by timestamp (a few frames are in the encoder at once).
        if frame is not None and frame.pts is not None:
            self._durations[frame.pts] = frame.duration
        for packet in self.video.encode(frame):  # the first call opens the encoder
            duration = self._durations.pop(packet.pts, None) if packet.pts is not None else None
            if duration:
                packet.duration = duration
            self.container.mux(packet)
        self._encoding = True
        if self._waiting:
            for waiting in self._waiting:
                self.container.mux(waiting)
            self._waiting = []

    def copy(self, packet: av.Packet) -> bool:
        stream = self.audio.get(packet.stream.index)
        if stream is None or packet.dts is None:  # a flush packet, or a stream not copied
            return False
        packet.stream = stream
        if self._encoding:
            self.container.mux(packet)
        else:
            self._waiting.append(packet)
        return True


def redact_video(
    source: VideoSource,
    out: Path,
    timeline: Timeline,
    style: str = DEFAULT_STYLE,
    quality: Quality | None = None,
    overwrite: bool = False,
    on_frame: Callable[[int], object] = lambda covered: None,
    before_publish: Callable[[Written], object] = lambda written: None,
) -> Written:
    """Write ``out``: ``source`` with every box of ``timeline`` covered in ``style``. ``on_frame``
    is called after each frame with the number of boxes covered in it; ``before_publish`` with the
    whole copy while it still has its temporary name (the audit: no copy has ``out``'s name before
    it has passed, whatever stops the process meanwhile)."""
    if style not in STYLES:
        raise BadInput(f"--redact-style {style!r}: choose one of {', '.join(STYLES)}")
    quality = quality or Quality()
    check_output(out, overwrite)
    handle, partial = tempfile.mkstemp(dir=out.parent, prefix=partial_prefix(out), suffix=".partial")
    os.close(handle)
    try:
        try:
            written = _write(source, Path(partial), output_format(out), timeline, style, quality, on_frame)
            os.chmod(partial, 0o644)  # mkstemp makes it private; the copy is an ordinary file
        except OSError as error:  # a full disk, a folder gone: said in one line
            raise LauncherError(f"cannot write {out}: {error.strerror or error}") from None
        before_publish(written)
        try:
            _publish(Path(partial), out, overwrite)
        except OSError as error:
            raise LauncherError(f"cannot write {out}: {error.strerror or error}") from None
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return dataclasses.replace(written, path=out)


def _publish(partial: Path, out: Path, overwrite: bool) -> None:
    """Rename the finished file to ``out``; without ``overwrite``, never over a file that appeared
    meanwhile (a hard link fails if the name exists; where links are refused, check then rename)."""
    if overwrite:
        os.replace(partial, out)
        return
    try:
        os.link(partial, out)
    except FileExistsError:
        raise BadInput(f"{out} appeared while the redaction was written: pass --overwrite to replace it") from None
    except OSError:
        if out.exists():
            raise BadInput(f"{out} exists: pass --overwrite to replace it, or name another output") from None
        os.replace(partial, out)
        return
    partial.unlink()


def _decoded(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> Iterator[Any]:
    """The video's frames, each with its duration (the time to the next frame; the last one's to the
    stream's end), and the audio streams' packets, in file order."""
    # The decoder's frame durations come from packets in decoding order: with B-frames they do
    # not belong to the frame they are on. Each frame's duration is set to the time to the next
    # frame (one frame is held back for it), the last one's to the stream's end.
    start = stream.start_time or 0
    end = start + stream.duration if stream.duration else None
    held: av.VideoFrame | None = None
    step = 0
    for packet in container.demux(stream, *container.streams.audio):
        if packet.stream.type == "audio":
            yield packet
            continue
        for frame in packet.decode():
            assert isinstance(frame, av.VideoFrame)
            if held is not None:
                if held.pts is not None and frame.pts is not None and frame.pts > held.pts:
                    step = frame.pts - held.pts
                    held.duration = step
                yield held
            held = frame
    if held is None:
        raise UnreadableVideo("the video stream has no frames")
    if held.pts is not None and end is not None and end > held.pts:
        held.duration = end - held.pts
    elif step:
        held.duration = step
    yield held


class _GuardedSource(io.RawIOBase):
    """A file-like source (an S3 object's ranged reads) as FFmpeg reads it: the first error of a
    read or seek is kept and the source then ends, instead of being raised into FFmpeg, which
    retries (PyAV prints a traceback for each error it drops) and may take the failure for the
    video's end. ``raise_error`` raises it afterwards: a read error as one line, an AWS error as
    itself (the launcher says what to check)."""

    def __init__(self, source: BinaryIO | io.RawIOBase) -> None:
        super().__init__()
        self._source = source
        self.error: Exception | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(self._source.seekable())

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            return b""
        try:
            return bytes(self._source.read(size) or b"")
        except Exception as error:  # kept, raised by raise_error once FFmpeg has stopped
            self.error = error
            return b""

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if self.error is not None:
            raise OSError("the video could not be read")  # FFmpeg: a failed seek, no retry
        try:
            return int(self._source.seek(offset, whence))
        except Exception as error:
            self.error = error
            raise OSError("the video could not be read") from None

    def tell(self) -> int:
        return int(self._source.tell())

    def raise_error(self) -> None:
        if self.error is None:
            return
        error, self.error = self.error, None
        if isinstance(error, OSError):
            raise UnreadableVideo(f"cannot read the video: {error.strerror or error}") from None
        raise error


def _write(
    source: VideoSource,
    path: Path,
    fmt: str,
    timeline: Timeline,
    style: str,
    quality: Quality,
    on_frame: Callable[[int], object],
) -> Written:
    guarded = None if isinstance(source, Path) else _GuardedSource(source)
    try:
        container = av.open(str(source) if guarded is None else guarded, mode="r")
    except (av.error.FFmpegError, OSError) as error:
        if guarded is not None:
            guarded.raise_error()
        raise UnreadableVideo(f"cannot read the video: {error}") from None
    frames = covered_frames = boxes = audio_packets = 0
    with container:
        if not container.streams.video:
            raise UnreadableVideo("the file has no video stream")
        stream = container.streams.video[0]
        time_base = stream.time_base
        if time_base is None:
            raise UnreadableVideo("the video stream has no time base")
        stream.thread_type = "AUTO"  # frame and slice threads: decoding goes on while the encoder works
        stream.codec_context.thread_count = 0
        start = stream.start_time or 0
        output = _Output(str(path), fmt, container, stream, quality)
        try:
            with output.container:
                for item in _decoded(container, stream):
                    if isinstance(item, av.Packet):
                        audio_packets += output.copy(item)
                        continue
                    if not output.configured:
                        output.configure(item)
                    at_ms = _timestamp_ms(item, start, time_base)
                    frame, count = cover_frame(item, timeline.boxes_at(at_ms), style)
                    frame.pict_type = av.video.frame.PictureType.NONE  # the encoder places its own keyframes
                    output.encode(frame)
                    frames += 1
                    covered_frames += count > 0
                    boxes += count
                    on_frame(count)
                if guarded is not None:
                    guarded.raise_error()  # the source failed midway: FFmpeg took it for the end
                output.encode(None)
        except av.error.FFmpegError as error:
            if guarded is not None:
                guarded.raise_error()
            raise UnreadableVideo(f"cannot redact the video: {error}") from None
    with av.open(str(path), mode="r") as written:
        duration = written.duration / av.time_base if written.duration else None
        width, height = written.streams.video[0].width, written.streams.video[0].height
    return Written(path, frames, covered_frames, boxes, audio_packets, width, height, duration)
