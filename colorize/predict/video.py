"""Video colorization: stream a clip's frames through the colorizer and write a new clip.

    decode thread            network threads           calling thread        compose threads       encode thread
    demux + decode a frame   predict_ab_fn on a batch  in the clip's order:  compose_fn(L_full,    in the clip's order:
    -> L (FrameLightness) -> of frames, one batch per -> temporal smoothing -> ab) -> RGB -> YUV -> encode (libx264)
    audio packets pass along predictor side by side    (flow)                (one per core)        -> mux; audio remuxed

The stages run concurrently, joined by small bounded queues, so memory stays
flat whatever the clip's length (the clip is never held: a few frames are in
flight). Given several predictors (copies of a compiled network, see
:func:`colorize.predict.pipeline.concurrent_colorizers`), batches run side by
side and are put back in order before the smoothing; frames are composed
side by side and encoded in order. OpenCV's own thread pool is off
meanwhile: the stages already fill the cores. Every output frame is
``compose_fn(L, ab)`` with the frame's own full-resolution L, so its
lightness is the input's (up to codec error).
The output keeps each frame's pts and time base (variable frame rate
survives), the frame count, size and frame rate; audio streams are copied
packet for packet (transcoded to AAC only where the output container cannot
carry their codec), container metadata is copied where the container can
carry it. The output is written under a temporary name in the target's
folder and renamed (``os.replace``) only once complete: a failed or killed
run never leaves a file under the final name.

PyAV (whose wheels bundle FFmpeg) does the decoding and encoding: no system
FFmpeg is needed.
"""

import collections
import contextlib
import os
import queue
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from colorize.errors import ColorizeError, one_line
from colorize.predict.pipeline import lightness_of
from colorize.runtime import usable_cpus

# Container signatures (first bytes): ISO BMFF (mp4, mov, m4v, 3gp) has "ftyp" at offset 4;
# Matroska / WebM start with the EBML magic; AVI is a RIFF file of form type "AVI ".
_EBML_MAGIC = b"\x1a\x45\xdf\xa3"
# Still-image signatures: such a file is not a video whatever its extension.
_IMAGE_MAGICS = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
# FFmpeg demuxers of still images (a PNG renamed .mp4 opens as "png_pipe").
_IMAGE_FORMATS = {"image2", "image2pipe", "gif", "apng", "webp", "ico", "tiff", "psd"}

# Preferred video encoders per output container, first available wins.
_ENCODERS = {"webm": ("libvpx-vp9", "libvpx"), "default": ("libx264", "mpeg4")}
# Container metadata the muxer writes itself (copying them would lie about the new file).
_OWN_METADATA = {"major_brand", "minor_version", "compatible_brands", "encoder", "creation_time_utc"}

# x264's cheapest motion search; the rest of the veryfast preset (its look-ahead and macroblock tree,
# which keep the files small) stays.
_X264_PARAMS = "me=dia:subme=1"

DEFAULT_BATCH = 4
DEFAULT_QUEUE = 8
DEFAULT_CRF = 18


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe_video` found: frames (None when the container does not say), fps,
    width, height, duration in seconds (None when unknown), has_audio, the video codec's name and
    the container format's name."""

    frames: int | None
    fps: float
    width: int
    height: int
    duration: float | None
    has_audio: bool
    codec: str
    format: str


@dataclass(frozen=True)
class VideoResult:
    """What :func:`colorize_video` did: frames written, seconds, frames per second end to end,
    scene cuts detected by the temporal smoother, whether audio was copied or transcoded, and the path
    written (the target, or the name ``next_name`` gave when the target was taken meanwhile)."""

    frames: int
    seconds: float
    fps: float
    cuts: int
    audio: str
    path: Path = None


def _head(path, count=16):
    with open(path, "rb") as handle:
        return handle.read(count)


def _magic_is_video(head):
    return (head[4:8] == b"ftyp" or head.startswith(_EBML_MAGIC)
            or (head.startswith(b"RIFF") and head[8:12] == b"AVI "))


def _magic_is_image(head):
    return head.startswith(_IMAGE_MAGICS) or (head.startswith(b"RIFF") and head[8:12] == b"WEBP")


def _is_image_format(container):
    names = set(container.format.name.split(","))
    return bool(names & _IMAGE_FORMATS) or any(name.endswith("_pipe") for name in names)


def is_video(path):
    """Whether ``path`` holds a video, judged by its content, not its extension.

    A known container signature (mp4/mov ``ftyp``, Matroska/WebM EBML, AVI
    RIFF) says yes; a still-image signature says no (a PNG renamed .mp4 is
    not a video); anything else is probed with PyAV: a container with a
    video stream that is not a still-image format.
    """
    path = Path(path)
    try:
        if not path.is_file():
            return False
        head = _head(path)
    except OSError:
        return False
    if _magic_is_video(head):
        return True
    if not head or _magic_is_image(head):
        return False
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video) and not _is_image_format(container)
    except (av.FFmpegError, OSError, ValueError, UnicodeDecodeError):
        return False


def _open_input(path):
    """av.open(path) for reading, or ColorizeError with the reason in one line."""
    import av

    path = Path(path)
    if not path.exists():
        raise ColorizeError(path, "file not found")
    if not path.is_file():
        raise ColorizeError(path, "not a file")
    head = _head(path)
    if not head:
        raise ColorizeError(path, "empty file, not a video")
    if _magic_is_image(head):
        raise ColorizeError(path, "a still image, not a video")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, ValueError, UnicodeDecodeError) as error:
        if _magic_is_video(head):
            raise ColorizeError(path, f"truncated or corrupt video file ({one_line(error, 160)})") from None
        raise ColorizeError(path, "not a video (unrecognised content)") from None
    if _is_image_format(container):
        container.close()
        raise ColorizeError(path, "a still image, not a video")
    if not container.streams.video:
        kind = " (audio only)" if container.streams.audio else ""
        container.close()
        raise ColorizeError(path, f"no video stream{kind}")
    return container


def _fps(stream):
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    return float(rate) if rate else 0.0


def probe_video(path):
    """Describe the video at ``path`` (:class:`VideoInfo`), decoding its first frame to be sure it can.

    Raises ColorizeError(path, reason) with a one-line reason for a missing,
    empty, truncated or corrupt file, a still image, a file with no video
    stream, a video stream with zero frames or a codec this FFmpeg build
    cannot decode.
    """
    import av

    container = _open_input(path)
    with container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name if stream.codec_context is not None else "unknown"
        if stream.codec_context is None:
            raise ColorizeError(path, f"unsupported video codec ({codec})")
        first = None
        try:
            for frame in container.decode(stream):
                first = frame
                break
        except av.FFmpegError as error:
            raise ColorizeError(path, f"cannot decode the video stream ({codec}: {one_line(error, 160)})") from None
        if first is None:
            if stream.frames:  # the index promises frames that are not there
                raise ColorizeError(path, f"truncated or corrupt video file (no decodable frame of {stream.frames})")
            raise ColorizeError(path, "no frames in the video stream")
        duration = None
        if container.duration:
            duration = container.duration / av.time_base
        elif stream.duration and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        return VideoInfo(frames=stream.frames or None, fps=_fps(stream), width=first.width, height=first.height,
                         duration=duration, has_audio=bool(container.streams.audio), codec=codec,
                         format=container.format.name)


# ----------------------------------------------------------------------------- decoded frames' lightness
# Planar 8-bit YUV formats whose chroma planes say "no colour" with the value 128 (limited and full range).
_PLANAR_YUV = {"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p"}
_NEUTRAL_CHROMA = 128


def _plane(frame, index):
    """A view (height, width) uint8 of one plane of a planar 8-bit frame (its rows may be padded)."""
    plane = frame.planes[index]
    return np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)[:, : plane.width]


class FrameLightness:
    """Decoded frame (av.VideoFrame) -> L (H, W) float32 in [0, 100], as ``lightness_of(frame.to_ndarray(
    format="rgb24"))`` gives it, value for value.

    Black-and-white footage, the usual input, arrives as YUV whose chroma
    planes are all neutral: its RGB is gray and decided by the luma plane
    alone. Such a frame's L is one 256-entry table look-up of that plane
    (0.15 instead of 0.8 ms a 640x360 frame: no conversion to RGB, no test of
    its three channels). The table is made per frame format, size, range and
    matrix by FFmpeg's own conversion of a synthetic frame holding every luma
    value, and checked against the general path on the first gray frame; any
    disagreement, another pixel format or a frame with colour takes the
    general path.
    """

    def __init__(self):
        self._tables = {}  # frame kind -> table, or None: the general path
        self._checked = set()  # frame kinds whose table agreed with the general path on a frame
        self.gray_frames = 0  # frames whose L came from the table

    def __call__(self, frame):
        table = None
        if frame.format.name in _PLANAR_YUV and self._neutral(frame):
            table = self._table(frame)
        if table is None:
            return lightness_of(frame.to_ndarray(format="rgb24"))
        import cv2

        lightness = cv2.LUT(_plane(frame, 0), table)
        key = self._key(frame)
        if key not in self._checked:  # once per kind of frame: the table must agree with the general path
            self._checked.add(key)
            if not np.array_equal(lightness, lightness_of(frame.to_ndarray(format="rgb24"))):
                self._tables[key] = None
                return self(frame)
        self.gray_frames += 1
        return lightness

    @staticmethod
    def _key(frame):
        return frame.format.name, frame.width, frame.height, int(frame.color_range), int(frame.colorspace)

    @staticmethod
    def _neutral(frame):
        import cv2

        return all(not cv2.countNonZero(cv2.absdiff(_plane(frame, index), _NEUTRAL_CHROMA)) for index in (1, 2))

    def _table(self, frame):
        """float32 (256, 1): L of each luma value with neutral chroma (made on first use), or None where the
        conversion to RGB is not a function of luma alone."""
        key = self._key(frame)
        if key not in self._tables:
            self._tables[key] = self._make_table(frame)
        return self._tables[key]

    @staticmethod
    def _make_table(frame):
        import av

        height, width = frame.height, frame.width
        ramp = (np.arange(height * width) % 256).astype(np.uint8).reshape(height, width)
        synthetic = av.VideoFrame(width, height, frame.format.name)
        for index, plane in enumerate(synthetic.planes):
            values = np.full((plane.height, plane.line_size), _NEUTRAL_CHROMA, np.uint8)
            if index == 0:
                values[:, :width] = ramp
            plane.update(values.tobytes())
        synthetic.color_range, synthetic.colorspace = frame.color_range, frame.colorspace
        rgb = synthetic.to_ndarray(format="rgb24")
        gray = rgb[..., 0]
        if not (np.array_equal(gray, rgb[..., 1]) and np.array_equal(gray, rgb[..., 2])):
            return None
        table = np.zeros(256, np.uint8)
        table[ramp.ravel()] = gray.ravel()
        if not np.array_equal(table[ramp], gray):  # one luma value, two results: not a table
            return None
        gray_ramp = np.repeat(table[None, :, None], 3, axis=2)  # (1, 256, 3): the RGB each luma value gives
        return np.ascontiguousarray(lightness_of(gray_ramp).reshape(256, 1), np.float32)


# ----------------------------------------------------------------------------- the pipeline
_END = object()


class _Stop(Exception):
    """Another stage failed: this one gives up quietly."""


def _put(channel, item, stop):
    while True:
        if stop.is_set():
            raise _Stop
        try:
            channel.put(item, timeout=0.05)
            return
        except queue.Full:
            pass


def _get(channel, stop):
    while True:
        if stop.is_set():
            raise _Stop
        try:
            return channel.get(timeout=0.05)
        except queue.Empty:
            pass


def _video_encoder(output):
    import av

    names = _ENCODERS["webm"] if "webm" in output.format.name else _ENCODERS["default"]
    for name in names:
        try:
            av.Codec(name, "w")
        except Exception:  # noqa: BLE001 - not in this FFmpeg build
            continue
        return name
    raise ColorizeError(output.name, f"no video encoder for this container (tried {', '.join(names)})")


def _add_video_stream(output, source_stream, width, height, crf):
    codec = _video_encoder(output)
    rate = source_stream.average_rate or source_stream.guessed_rate or Fraction(25)
    stream = output.add_stream(codec, rate=rate)
    stream.width, stream.height = width, height
    odd = width % 2 or height % 2
    stream.pix_fmt = "yuv444p" if odd and codec == "libx264" else "yuv420p"
    # Say how the RGB became YUV (BT.601 matrix, limited range: what video_frame writes and FFmpeg's
    # scaler does by default), else players guess BT.709 for HD sizes and shift the hues a little.
    context = stream.codec_context
    context.colorspace, context.color_range, context.color_primaries = _BT601, _LIMITED_RANGE, _BT709_PRIMARIES
    time_base = source_stream.time_base or Fraction(1, 90000)
    stream.codec_context.time_base = time_base
    stream.time_base = time_base
    stream.thread_type = "AUTO"
    if codec == "libx264":
        # No B-frames: decoding order then equals display order, so MP4's sample durations (the gaps
        # between decoding timestamps) are the source frames' own, and a variable-rate clip keeps its
        # length and average rate (B-frames cost about a tenth more bits at the same quality).
        # One encoder thread: x264's frame threads cost 40 % more CPU for the same file, and the
        # pipeline's other stages keep the other cores busy anyway. The veryfast preset with superfast's
        # motion search (diamond, one sub-pixel refinement: _X264_PARAMS) encodes in 0.6-0.7 of the time
        # at the same PSNR, for files 4-19 % larger (measured in the README's video section).
        stream.options = {"crf": str(crf), "preset": "veryfast", "bf": "0", "threads": "1",
                          "x264-params": _X264_PARAMS}
    elif codec.startswith("libvpx"):
        stream.options = {"crf": str(crf + 12), "b": "0", "deadline": "realtime", "cpu-used": "8"}
    else:
        stream.bit_rate = max(2_000_000, width * height * 8)
        stream.codec_context.qmax = 8
    for key in ("language", "title"):
        if key in source_stream.metadata:
            stream.metadata[key] = source_stream.metadata[key]
    return stream


# FFmpeg's codes (libavutil/pixfmt.h) for the output's colour description; the primaries are sRGB's.
_BT601, _LIMITED_RANGE, _BT709_PRIMARIES = 6, 1, 1
# RGB (0-255) -> Cb, Cr of BT.601 in limited range (16-240), OpenCV's transform layout (the last
# column is the offset, in output units).
_CHROMA_FROM_RGB = np.array([[-37.797, -74.203, 112.0, 128 * 255], [112.0, -93.786, -18.214, 128 * 255]],
                            np.float32) / 255


def video_frame(rgb, pix_fmt):
    """uint8 RGB (H, W, 3) -> an av.VideoFrame for an encoder taking ``pix_fmt``.

    yuv420p (even width, height a multiple of 4) is made here in OpenCV
    passes: Y' of every pixel, Cb and Cr of each 2x2 block's mean RGB
    (within a level of the exact BT.601 values: on average 0.02 in Y', where
    the lightness lives, and 0.13 in Cb, Cr, where FFmpeg's scaler is 0.004
    and 0.48 off; half its cost). Other formats go through FFmpeg's scaler.
    """
    import av
    import cv2

    rgb = np.ascontiguousarray(rgb)
    height, width = rgb.shape[:2]
    if pix_fmt != "yuv420p" or width % 2 or height % 4:
        return av.VideoFrame.from_ndarray(rgb, format="rgb24")
    # OpenCV's own conversion gives Y' (fixed point, within a level of the exact value, 0.02 on average)
    # and a chroma that samples one pixel of each 2x2 block (aliasing: up to 11 levels off): replaced.
    planes = cv2.cvtColor(rgb, cv2.COLOR_RGB2YUV_I420)
    half = cv2.resize(rgb, (width // 2, height // 2), interpolation=cv2.INTER_AREA)  # 2x2 means
    blue, red = cv2.split(cv2.transform(half, _CHROMA_FROM_RGB))
    planes[height : height * 5 // 4] = blue.reshape(height // 4, width)
    planes[height * 5 // 4 :] = red.reshape(height // 4, width)
    frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    frame.colorspace, frame.color_range = _BT601, _LIMITED_RANGE
    return frame


def _add_audio_streams(output, sources):
    """Output audio stream per input one: a copy when the container carries the codec, else transcoded
    to the container's default audio codec (AAC for mp4/mov/mkv, Opus or Vorbis for WebM) with a warning."""
    import av

    plans, modes = {}, []
    for source in sources:
        codec = source.codec_context.name if source.codec_context is not None else None
        if codec in output.supported_codecs:
            plans[source.index] = ("copy", output.add_stream_from_template(source))
            modes.append("copy")
            continue
        candidates = [name for name in (output.default_audio_codec, "aac", "libopus", "libvorbis")
                      if name and name != "none" and name in output.supported_codecs]
        encoder = None
        for name in candidates:
            try:
                av.Codec(name, "w")
            except Exception:  # noqa: BLE001 - no such encoder in this FFmpeg build
                continue
            encoder = name
            break
        if encoder is None:
            warnings.warn(f"{output.name}: the container cannot carry {codec} audio and has no encoder here: "
                          "the audio is left out", stacklevel=3)
            modes.append("dropped")
            continue
        warnings.warn(f"{output.name}: the container cannot carry {codec} audio, transcoding it to {encoder}",
                      stacklevel=3)
        stream = output.add_stream(encoder, rate=source.rate or 48000)
        if source.layout is not None:
            stream.layout = source.layout.name
        plans[source.index] = (encoder, stream)
        modes.append(encoder)
    return plans, ",".join(modes) or "none"


def _copy_metadata(source, output):
    for key, value in source.metadata.items():
        if key not in _OWN_METADATA:
            output.metadata[key] = value


def _partial_name(target):
    return target.with_name(f".{target.stem}.partial-{os.getpid()}-{threading.get_ident()}{target.suffix}")


def colorize_video(source, target, predict_ab_fn, compose_fn, temporal=True, start=None, end=None, progress=True,
                   batch_size=DEFAULT_BATCH, smoother=None, crf=DEFAULT_CRF, queue_size=DEFAULT_QUEUE, replace=True,
                   next_name=None):
    """Colorize the video ``source`` into ``target`` (the container from its extension).

    Args:
        predict_ab_fn: list of full-res L (H, W) -> list of ab (h, w, 2) at the network grid
            (e.g. ``lambda ls: inference.predict_ab(colorizer, ls)``); called on ``batch_size`` frames,
            from a worker thread. Or a list of such functions that may run at the same time (each on its
            own network copy): each runs one batch at a time, the batches side by side.
        compose_fn: (L (H, W), ab (h, w, 2)) -> uint8 RGB (H, W, 3) (e.g. ``inference.compose``).
        temporal: smooth ab along the optical flow (:class:`~colorize.predict.temporal.TemporalSmoother`,
            or ``smoother`` when given); False colorizes each frame on its own.
        start, end: seconds of the source to colorize (None: from the beginning / to the end); the output
            starts at 0.
        progress: a tqdm bar on stderr (frames/s, time left).
        crf: quality of the H.264 encoder, 0-51 (lower: better, bigger; VP9 for .webm gets crf + 12 on
            its 0-63 scale).
        replace: an existing ``target`` is replaced; False: FileExistsError instead (the finished clip is
            linked to its name, which fails on any existing file, even one another process made meanwhile).
        next_name: with replace False, ``next_name(taken_path) -> Path``, the name to try when the target
            (or the last name tried) was taken meanwhile; None: FileExistsError then.

    Returns a :class:`VideoResult`. Raises ColorizeError(path, reason) for a bad source (see
    :func:`probe_video`) or target; any error of predict_ab_fn / compose_fn propagates unchanged.
    Whatever fails, no file is left under ``target`` (nor the temporary one).
    """
    import av
    from tqdm import tqdm

    source, target = Path(source), Path(target)
    if start is not None and end is not None and end <= start:
        raise ValueError(f"end ({end}) must be after start ({start})")
    if not target.parent.is_dir():
        raise ColorizeError(target, "the target's folder does not exist")
    info = probe_video(source)  # one-line errors for bad inputs before anything is written
    if temporal and smoother is None:
        from colorize.predict.temporal import TemporalSmoother

        smoother = TemporalSmoother()
    if not temporal:
        smoother = None
    elif smoother is not None:
        smoother.reset()

    partial = _partial_name(target)
    container = _open_input(source)
    output = None
    began = time.perf_counter()
    try:
        video_in = container.streams.video[0]
        video_in.thread_type = "AUTO"
        audio_in = list(container.streams.audio)
        try:
            output = av.open(str(partial), "w", format=_format_for(target))
        except (av.FFmpegError, ValueError) as error:
            raise ColorizeError(target, f"cannot write this kind of video ({one_line(error, 160)})") from None
        _copy_metadata(container, output)
        video_out = _add_video_stream(output, video_in, info.width, info.height, crf)
        audio_plans, audio_mode = _add_audio_streams(output, audio_in)
        with _single_threaded_opencv():
            count = _run_pipeline(container, video_in, audio_in, output, video_out, audio_plans, predict_ab_fn,
                                  compose_fn, smoother, start, end, progress, batch_size, queue_size, source, tqdm)
        output.close()
        output = None
        container.close()
        if count == 0:
            raise ColorizeError(source, "no frames in the selected part" if (start or end) else "no frames")
        if replace:
            os.replace(partial, target)
        else:
            target = _link_to_a_free_name(partial, target, next_name)
            partial.unlink()
    except BaseException:
        if output is not None:
            try:
                output.close()
            except Exception:  # noqa: BLE001 - the error being raised matters, not this one
                pass
        container.close()
        partial.unlink(missing_ok=True)
        raise
    seconds = time.perf_counter() - began
    return VideoResult(frames=count, seconds=seconds, fps=count / seconds if seconds else 0.0,
                       cuts=smoother.cuts if smoother is not None else 0, audio=audio_mode, path=target)


@contextlib.contextmanager
def _single_threaded_opencv():
    """OpenCV's own thread pool off while the pipeline runs (process-wide, restored after).

    The stages already keep every core busy (the network alone takes two);
    OpenCV splitting each compose or flow call over the cores too only adds
    hand-offs: measured on 2 cores at 640x360, compose cost 9.1 ms of CPU a
    frame with its pool and 5.6 ms without, the temporal step 4.4 and 2.2, the
    same wall time.
    """
    import cv2

    previous = cv2.getNumThreads()
    cv2.setNumThreads(1)
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def _link_to_a_free_name(partial, target, next_name):
    """Hard-link the finished ``partial`` to ``target``, else to the names ``next_name`` gives; the name used.

    A link never replaces a file, so a name another process took since it was chosen is skipped, not lost.
    """
    while True:
        try:
            os.link(partial, target)
            return target
        except FileExistsError:
            if next_name is None:
                raise
            target = Path(next_name(target))


def _format_for(target):
    """FFmpeg muxer name for the target's extension (the temporary name keeps it, this is explicit anyway)."""
    import av

    suffix = target.suffix.lower().lstrip(".")
    names = {"mp4": "mp4", "m4v": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm", "avi": "avi"}
    if suffix in names:
        return names[suffix]
    if suffix in av.formats_available:
        return suffix
    raise ColorizeError(target, f"unknown video extension .{suffix} (use .mp4, .mkv, .mov, .webm or .avi)")


def _run_pipeline(container, video_in, audio_in, output, video_out, audio_plans, predict_ab_fn, compose_fn,
                  smoother, start, end, progress, batch_size, queue_size, source, tqdm):
    """Decode -> network -> compose/encode, concurrently. Returns the number of frames written."""
    import av

    stop = threading.Event()
    errors = []
    decoded, encoded = queue.Queue(queue_size), queue.Queue(queue_size)
    time_base = video_in.time_base or Fraction(1, 90000)
    video_offset = round(start / time_base) if start else 0
    fps = _fps(video_in) or 25.0
    total = None
    if video_in.frames and start is None and end is None:
        total = video_in.frames
    elif container.duration or start or end:
        length = (end if end is not None else (container.duration or 0) / av.time_base) - (start or 0)
        total = max(0, round(length * fps)) or None
    bar = tqdm(total=total, unit="frame", desc="colorizing", disable=not progress, dynamic_ncols=True, leave=False)

    last_seconds = [None]
    # Each source frame's duration by its (output) pts: the encoder would guess every packet's duration
    # from the next timestamps, which changes the last frame's and so the stream's length and average rate.
    durations = {}

    frame_lightness = FrameLightness()

    def decode():
        index = 0
        try:
            if start:
                container.seek(int(start / time_base), stream=video_in, backward=True, any_frame=False)
            streams = [video_in, *audio_in]
            done = False
            for packet in container.demux(*streams):
                if packet.stream.type == "audio":
                    if packet.dts is None or packet.pts is None:
                        continue
                    seconds = float(packet.pts * packet.time_base)
                    if (start and seconds < start) or (end is not None and seconds >= end):
                        continue
                    _put(decoded, ("a", packet), stop)
                    continue
                if done:
                    continue
                for frame in packet.decode():
                    pts = frame.pts if frame.pts is not None else round(index / fps / time_base)
                    seconds = float(pts * time_base)
                    if start and seconds < start - 1e-6:
                        continue
                    if end is not None and seconds >= end - 1e-6:
                        done = True
                        break
                    last_seconds[0] = seconds
                    lightness = frame_lightness(frame)
                    if frame.duration:
                        durations[pts - video_offset] = frame.duration
                    _put(decoded, ("v", lightness, pts - video_offset), stop)
                    index += 1
            if start is None and end is None:
                _check_complete(source, container, video_in, audio_in, index, last_seconds[0], fps)
            _put(decoded, _END, stop)
        except _Stop:
            pass
        except av.FFmpegError as error:
            errors.append(ColorizeError(source, f"truncated or corrupt video (decoding failed after frame {index}: "
                                                f"{one_line(error, 160)})"))
            stop.set()
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            errors.append(error)
            stop.set()

    counter = [0]

    def encode():
        try:
            while True:
                item = _get(encoded, stop)
                if item is _END:
                    break
                if item[0] == "a":
                    _mux_audio(output, audio_plans, item[1], start)
                    continue
                _, rendering, pts = item
                frame = rendering.result()  # composed by a worker, taken here in the clip's order
                frame.pts, frame.time_base = pts, time_base
                _mux_video(output, video_out.encode(frame), durations)
                counter[0] += 1
                bar.update(1)
            _mux_video(output, video_out.encode(None), durations)
            for kind, stream in audio_plans.values():
                if kind != "copy":
                    for packet in stream.encode(None):
                        output.mux(packet)
        except _Stop:
            pass
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            errors.append(error)
            stop.set()

    def render(lightness, ab):
        """The encoder's frame for (L, ab): composed to RGB, then to its pixel format (on a worker thread)."""
        return video_frame(compose_fn(lightness, ab), video_out.pix_fmt)

    predictors = list(predict_ab_fn) if isinstance(predict_ab_fn, (list, tuple)) else [predict_ab_fn]
    idle = queue.SimpleQueue()  # the predictors not running now: each runs one batch at a time
    for predict in predictors:
        idle.put(predict)

    def network(batch):
        """ab at the network grid for a batch of (L, pts), on whichever predictor is idle."""
        predict = idle.get()
        try:
            abs_small = predict([lightness for lightness, _ in batch])
        finally:
            idle.put(predict)
        if len(abs_small) != len(batch):
            raise ValueError(f"predict_ab_fn returned {len(abs_small)} ab images for {len(batch)} frames")
        return abs_small

    # The clip's items in order: ("v", batch, future of its ab) or ("a", audio item, None). Batches run on
    # the worker threads side by side; they are smoothed and handed on strictly in order, here.
    pending = collections.deque()
    in_flight = [0]

    def hand_on(limit):
        """Hand on the finished items at the head; wait for the oldest batch while more than ``limit`` run."""
        while pending:
            kind, payload, future = pending[0]
            if kind == "v" and not future.done() and in_flight[0] <= limit:
                return
            pending.popleft()
            if kind == "a":
                _put(encoded, payload, stop)
                continue
            in_flight[0] -= 1
            for (lightness, pts), ab in zip(payload, future.result()):
                if smoother is not None:
                    ab = smoother.step(lightness, ab)
                _put(encoded, ("v", composers.submit(render, lightness, ab), pts), stop)

    threads = [threading.Thread(target=decode, name="video-decode", daemon=True),
               threading.Thread(target=encode, name="video-encode", daemon=True)]
    for thread in threads:
        thread.start()
    workers = ThreadPoolExecutor(max_workers=len(predictors), thread_name_prefix="video-network")
    # Composing a frame costs as much as the network at 720p: frames are composed side by side (at most
    # queue_size waiting for the encoder, which takes them in order).
    composers = ThreadPoolExecutor(max_workers=usable_cpus(), thread_name_prefix="video-compose")
    try:
        batch = []
        # Audio that arrives while a batch fills waits for that batch: a clip's audio packets come between
        # its frames (about two per frame), and handing them on at once would cut every batch to one
        # frame. The muxer interleaves by timestamps, and x264's look-ahead holds video back ten frames
        # or more anyway, so a few frames' delay of the audio changes nothing in the file.
        held_audio = []

        def hand_on_audio():
            pending.extend(("a", audio, None) for audio in held_audio)
            held_audio.clear()

        def submit():
            pending.append(("v", list(batch), workers.submit(network, list(batch))))
            in_flight[0] += 1
            batch.clear()
            hand_on_audio()
            hand_on(limit=len(predictors))  # every predictor busy and at most one batch waiting for one

        while True:
            item = _get(decoded, stop)
            if item is _END:
                if batch:
                    submit()
                hand_on_audio()
                hand_on(limit=0)
                _put(encoded, _END, stop)
                break
            if item[0] == "a":
                held_audio.append(item)
                if not batch:
                    hand_on_audio()
                    hand_on(limit=len(predictors))
                continue
            batch.append(item[1:])
            if len(batch) >= batch_size:
                submit()
    except _Stop:
        pass
    except BaseException as error:
        errors.append(error)
        stop.set()
    finally:
        workers.shutdown(wait=True, cancel_futures=True)
        for thread in threads:
            while thread.is_alive():
                thread.join(timeout=0.1)
        composers.shutdown(wait=True, cancel_futures=True)  # after the encoder took every frame it needs
        bar.close()
    if errors:
        raise errors[0]
    return counter[0]


def _mux_video(output, packets, durations):
    """Mux encoded video packets, each with its source frame's duration where that is known."""
    for packet in packets:
        duration = durations.pop(packet.pts, None)
        if duration:
            packet.duration = duration
        output.mux(packet)


def _check_complete(source, container, video_in, audio_in, count, last_seconds, fps):
    """ColorizeError when the whole clip was read but is shorter than its header says (a truncated file)."""
    import av

    declared = video_in.frames
    if declared and count < declared - max(2, declared // 100):
        raise ColorizeError(source, f"truncated or corrupt video file (decoded {count} of {declared} frames)")
    # Matroska and others give no frame count: compare with the duration (the container's only when
    # there is no audio, which may legitimately outlast the picture).
    duration = None
    if video_in.duration and video_in.time_base:
        duration = float(video_in.duration * video_in.time_base)
    elif container.duration and not audio_in:
        duration = container.duration / av.time_base
    if duration and last_seconds is not None:
        start = float(video_in.start_time * video_in.time_base) if video_in.start_time else 0.0
        missing = duration - (last_seconds - start) - 1.0 / fps
        if missing > max(0.5, 0.05 * duration):
            raise ColorizeError(source, f"truncated or corrupt video file (the picture ends at {last_seconds:.2f} s "
                                        f"of {duration:.2f} s)")


def _mux_audio(output, plans, packet, start):
    if packet.stream.index not in plans:  # audio the container could not carry (warned about)
        return
    kind, stream = plans[packet.stream.index]
    if kind == "copy":
        if start:
            shift = round(start / packet.time_base)
            packet.pts -= shift
            packet.dts -= shift
        packet.stream = stream
        output.mux(packet)
        return
    for frame in packet.decode():
        if start:
            frame.pts = None  # the encoder numbers the samples from 0
        for encoded in stream.encode(frame):
            output.mux(encoded)
