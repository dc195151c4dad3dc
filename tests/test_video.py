"""Video colorization (colorize.predict.video, colorize.predict.temporal) on tiny synthetic clips.

The clips are written with PyAV into tmp_path; a FAKE predictor (ab from L plus per-frame noise, to
simulate a flickering network) stands in for the model, except in the one slow test of the bundled default.
"""

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

from colorize.errors import ColorizeError  # noqa: E402
from colorize.predict.pipeline import compose, lightness_of  # noqa: E402
from colorize.predict import video  # noqa: E402
from colorize.predict.temporal import TemporalSmoother  # noqa: E402

from conftest import save_rgb, synthetic_photo  # noqa: E402

STRIDE = 4  # the fake predictor's output grid: 1/4 of the frame


def write_clip(path, frames, fps=10, pts=None, time_base=None, audio=False, codec="libx264", metadata=None,
               pix_fmt="yuv420p"):
    """Write uint8 RGB frames as a video (optionally with pts in time_base and a 440 Hz AAC track)."""
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as output:
        if metadata:
            output.metadata.update(metadata)
        stream = output.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if codec == "libx264":
            stream.options = {"crf": "10", "preset": "ultrafast"}
        if time_base is not None:
            stream.codec_context.time_base = time_base
        sound = None
        if audio:
            sound = output.add_stream("aac", rate=22050)
            sound.layout = "mono"
        for index, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            if pts is not None:
                frame.pts, frame.time_base = pts[index], time_base
            else:
                frame.pts, frame.time_base = index, Fraction(1, fps)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
        if sound is not None:
            seconds = len(frames) / fps
            samples = int(seconds * 22050)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 22050)).astype(np.float32)
            for offset in range(0, samples, 1024):
                chunk = tone[offset : offset + 1024][None]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate, frame.pts = 22050, offset
                for packet in sound.encode(frame):
                    output.mux(packet)
            for packet in sound.encode(None):
                output.mux(packet)
    return path


def gray_clip(count=12, height=48, width=64, seed=0):
    """A static gray clip (the same frame repeated)."""
    gray = synthetic_photo(height, width, seed=seed).mean(-1).astype(np.uint8)
    return [np.repeat(gray[..., None], 3, -1)] * count


def pan_clip(count=12, height=48, width=64, step=STRIDE, seed=1):
    """A camera pan: a window sliding ``step`` px a frame to the right over a wider photo."""
    wide = synthetic_photo(height, width + step * count, seed=seed)
    wide = np.repeat(wide.mean(-1, keepdims=True).astype(np.uint8), 3, -1)
    return [np.ascontiguousarray(wide[:, step * i : step * i + width]) for i in range(count)]


class FakePredictor:
    """ab at 1/STRIDE of the frame derived from L (so it moves with the content) plus per-frame noise."""

    def __init__(self, noise=8.0, seed=0, fail_after=None):
        self.rng = np.random.default_rng(seed)
        self.noise = noise
        self.calls = 0
        self.frames = 0
        self.fail_after = fail_after

    def __call__(self, lightness_list):
        self.calls += 1
        out = []
        for lightness in lightness_list:
            if self.fail_after is not None and self.frames >= self.fail_after:
                raise RuntimeError("predictor failed")
            self.frames += 1
            small = lightness.reshape(lightness.shape[0] // STRIDE, STRIDE, lightness.shape[1] // STRIDE, STRIDE)
            small = small.mean(axis=(1, 3))
            ab = np.stack([(small - 50) * 0.6, (60 - small) * 0.4], -1).astype(np.float32)
            out.append(ab + self.rng.normal(0, self.noise, ab.shape).astype(np.float32))
        return out


class RecordingCompose:
    """compose() that remembers the ab it was given (the temporal stage's output) in the order of its calls:
    the clip's order only with one compose worker (several take frames side by side)."""

    def __init__(self):
        self.abs = []

    def __call__(self, lightness, ab):
        self.abs.append(np.array(ab))
        return compose(lightness, ab)


def decode_frames(path):
    """[(RGB, pts, time_base)] of every frame and the stream's average rate (None: unset), read while the
    file is open (a closed container's stream reads freed memory)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = [(frame.to_ndarray(format="rgb24"), frame.pts, frame.time_base) for frame in container.decode(stream)]
        return frames, stream.average_rate


def run(source, target, **kwargs):
    kwargs.setdefault("progress", False)
    predictor = kwargs.pop("predictor", None) or FakePredictor()
    composer = kwargs.pop("composer", None) or compose
    return video.colorize_video(source, target, predictor, composer, **kwargs)


def flicker(abs_, shift=0):
    """Mean |ab_t - ab_{t-1} moved by ``shift`` grid cells to the left| over the overlapping columns."""
    values = []
    for previous, current in zip(abs_, abs_[1:]):
        if shift:
            previous, current = previous[:, shift:], current[:, :-shift]
        values.append(np.abs(current - previous)[2:-2, 2:-2].mean())
    return float(np.mean(values))


# ----------------------------------------------------------------------------- recognising videos
def test_is_video_by_content(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", gray_clip(4))
    renamed = tmp_path / "clip.png"
    renamed.write_bytes(clip.read_bytes())
    mkv = write_clip(tmp_path / "clip.mkv", gray_clip(4))
    mkv_renamed = tmp_path / "noext"
    mkv_renamed.write_bytes(mkv.read_bytes())

    photo = save_rgb(tmp_path / "photo.png", synthetic_photo(32, 32))
    fake_video = tmp_path / "photo.mp4"
    fake_video.write_bytes(photo.read_bytes())
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert video.is_video(clip) and video.is_video(renamed) and video.is_video(mkv_renamed)
    assert not video.is_video(photo)
    assert not video.is_video(fake_video)
    assert not video.is_video(garbage)
    assert not video.is_video(tmp_path / "missing.mp4")


def test_probe_video(tmp_path):
    clip = write_clip(tmp_path / "clip.mp4", gray_clip(6, 48, 64), fps=12, audio=True)
    info = video.probe_video(clip)
    assert (info.frames, info.width, info.height, info.has_audio, info.codec) == (6, 64, 48, True, "h264")
    assert info.fps == pytest.approx(12)
    assert info.duration == pytest.approx(0.5, abs=0.1)


def _bad_inputs(tmp_path):
    clip = write_clip(tmp_path / "good.mp4", gray_clip(20, 48, 64))
    data = clip.read_bytes()
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    audio_only = tmp_path / "audio.m4a"
    with av.open(str(audio_only), "w", format="mp4") as output:
        sound = output.add_stream("aac", rate=22050)
        sound.layout = "mono"
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate, frame.pts = 22050, 0
        for packet in [*sound.encode(frame), *sound.encode(None)]:
            output.mux(packet)
    zero = tmp_path / "zero.mkv"  # an mp4 without samples loses its track: "no video stream"
    with av.open(str(zero), "w") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        output.start_encoding()  # the header, and not one frame
    assert zero.stat().st_size > 0
    still = tmp_path / "still.mp4"
    still.write_bytes(save_rgb(tmp_path / "still.png", synthetic_photo(32, 32)).read_bytes())
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    return {"truncated": truncated, "audio only": audio_only, "zero frames": zero, "still image": still,
            "garbage": garbage, "empty": empty, "missing": tmp_path / "missing.mp4"}


def test_bad_inputs_one_line_error_and_no_output(tmp_path):
    for name, path in _bad_inputs(tmp_path).items():
        with pytest.raises(ColorizeError) as probe_error:
            video.probe_video(path)
        target = tmp_path / f"out-{name.replace(' ', '_')}.mp4"
        with pytest.raises(ColorizeError) as run_error:
            run(path, target)
        for error in (probe_error.value, run_error.value):
            message = str(error)
            assert "\n" not in message and message.startswith(str(path)), (name, message)
        assert not target.exists(), name
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith((".", "out-"))) == []


@pytest.mark.parametrize("extension", ["mkv", "mp4"])
def test_truncated_in_the_middle(tmp_path, extension):
    """Cut after the header (the index at the front): found while decoding, no output left."""
    clip = write_clip(tmp_path / f"clip.{extension}", pan_clip(40, 48, 64))
    if extension == "mp4":  # move the index to the front, as for streaming
        front = tmp_path / "front.mp4"
        with av.open(str(clip)) as source, av.open(str(front), "w", options={"movflags": "faststart"}) as output:
            stream = output.add_stream_from_template(source.streams.video[0])
            for packet in source.demux(source.streams.video[0]):
                if packet.dts is not None:
                    packet.stream = stream
                    output.mux(packet)
        clip = front
    data = clip.read_bytes()
    truncated = tmp_path / f"truncated.{extension}"
    truncated.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ColorizeError, match="truncated"):
        run(truncated, tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_bad_input_reasons(tmp_path):
    reasons = {name: str(pytest.raises(ColorizeError, video.probe_video, path).value)
               for name, path in _bad_inputs(tmp_path).items()}
    assert "truncated" in reasons["truncated"]
    assert "no video stream" in reasons["audio only"]
    assert "no frames" in reasons["zero frames"] or "truncated" in reasons["zero frames"]
    assert "still image" in reasons["still image"]
    assert "not a video" in reasons["garbage"]
    assert "empty" in reasons["empty"]
    assert "not found" in reasons["missing"]


# ----------------------------------------------------------------------------- what the output keeps
def test_frames_size_fps_pts_and_lightness_kept(tmp_path):
    # Variable frame rate: irregular pts in a 1/1000 time base.
    pts = [0, 40, 80, 200, 240, 250, 400, 480, 520, 700]
    frames = pan_clip(len(pts), 48, 64)
    source = write_clip(tmp_path / "vfr.mp4", frames, fps=10, pts=pts, time_base=Fraction(1, 1000))
    target = tmp_path / "out.mp4"
    result = run(source, target, temporal=True)
    assert result.frames == len(pts) and target.exists()
    inputs, in_rate = decode_frames(source)
    outputs, out_rate = decode_frames(target)
    assert len(outputs) == len(inputs) == len(pts)
    assert outputs[0][0].shape == (48, 64, 3)
    if in_rate is not None:  # FFmpeg may leave a variable-rate stream's average unset
        assert float(out_rate) == pytest.approx(float(in_rate), rel=0.01)
    times_in = [float(p * tb) for _, p, tb in inputs]
    times_out = [float(p * tb) for _, p, tb in outputs]
    assert times_out == pytest.approx(times_in, abs=1e-3)
    assert times_in == pytest.approx([p / 1000 for p in pts], abs=1e-3)
    # Every frame's duration too (the last one's included), so the clip keeps its length and average rate.

    def durations(path):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            timed = sorted((p.pts, p.duration) for p in container.demux(stream) if p.size)
            return [float(d * stream.time_base) for _, d in timed], float(stream.duration * stream.time_base)

    assert durations(target)[0] == pytest.approx(durations(source)[0], abs=1e-3)
    assert durations(target)[1] == pytest.approx(durations(source)[1], abs=1e-3)
    for (rgb_in, _, _), (rgb_out, _, _) in zip(inputs, outputs):
        difference = np.abs(lightness_of(rgb_out) - lightness_of(rgb_in))
        assert difference.mean() < 1.5, difference.mean()  # codec error only
        assert rgb_out.std(axis=-1).mean() > 2  # it is coloured
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_audio_copied_unchanged_and_metadata(tmp_path):
    source = write_clip(tmp_path / "sound.mp4", gray_clip(10), fps=10, audio=True,
                        metadata={"title": "a test clip", "comment": "kept"})
    target = tmp_path / "out.mp4"
    assert run(source, target).audio == "copy"

    def audio_packets(path):
        with av.open(str(path)) as container:
            return [(bytes(p), p.pts, p.duration) for p in container.demux(container.streams.audio[0])
                    if p.size]

    assert audio_packets(target) == audio_packets(source)
    with av.open(str(target)) as container:
        assert container.metadata.get("title") == "a test clip"
        assert container.metadata.get("comment") == "kept"
        codec = container.streams.audio[0].codec_context
        assert (codec.name, codec.sample_rate) == ("aac", 22050)


def test_audio_between_the_frames_does_not_cut_the_batches(tmp_path):
    """A clip's audio packets lie between its frames (about two a frame here): the network still gets full
    batches, and the audio still comes out packet for packet."""
    source = write_clip(tmp_path / "sound.mp4", pan_clip(22), fps=10, audio=True)
    with av.open(str(source)) as container:
        kinds = [packet.stream.type for packet in container.demux() if packet.size]
    assert kinds.count("audio") >= 30 and "audio" in kinds[kinds.index("video") : kinds.index("video") + 4]
    sizes = []

    def predictor(lightness_list):
        sizes.append(len(lightness_list))
        return FakePredictor()(lightness_list)

    result = run(source, tmp_path / "out.mp4", predictor=predictor, batch_size=4)
    assert result.frames == 22 and result.audio == "copy"
    assert sizes == [4, 4, 4, 4, 4, 2]
    assert len(decode_frames(tmp_path / "out.mp4")[0]) == 22


def test_audio_the_container_cannot_carry_is_transcoded(tmp_path):
    source = tmp_path / "pcm.mkv"
    with av.open(str(source), "w") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        sound = output.add_stream("pcm_s16le", rate=8000)
        sound.layout = "mono"
        for index, rgb in enumerate(gray_clip(10)):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, Fraction(1, 10)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
        for offset in range(0, 8000, 800):
            tone = (3000 * np.sin(np.arange(offset, offset + 800) / 5)).astype(np.int16)[None]
            frame = av.AudioFrame.from_ndarray(tone, format="s16", layout="mono")
            frame.sample_rate, frame.pts = 8000, offset
            for packet in sound.encode(frame):
                output.mux(packet)
    target = tmp_path / "out.webm"  # WebM carries Opus / Vorbis only
    with pytest.warns(UserWarning, match="cannot carry pcm_s16le"):
        result = run(source, target)
    assert result.frames == 10 and result.audio in ("libopus", "libvorbis", "opus", "vorbis")
    with av.open(str(target)) as container:
        assert container.streams.audio and container.streams.audio[0].codec_context.name in ("opus", "vorbis")
        assert container.duration / av.time_base == pytest.approx(1.0, abs=0.2)


def test_mkv_target_and_no_audio(tmp_path):
    source = write_clip(tmp_path / "clip.mp4", gray_clip(5))
    result = run(source, tmp_path / "out.mkv")
    assert result.audio == "none"
    assert len(decode_frames(tmp_path / "out.mkv")[0]) == 5


# ----------------------------------------------------------------------------- temporal consistency
@pytest.mark.parametrize("kind", ["static", "pan"])
def test_temporal_reduces_flicker(tmp_path, kind, monkeypatch):
    monkeypatch.setattr(video, "usable_cpus", lambda: 1)  # one compose worker: RecordingCompose sees the clip's order
    frames = gray_clip(16, 64, 96) if kind == "static" else pan_clip(16, 64, 96)
    source = write_clip(tmp_path / "clip.mp4", frames)
    measured = {}
    for temporal in (False, True):
        composer = RecordingCompose()
        run(source, tmp_path / f"out{temporal}.mp4", temporal=temporal, composer=composer,
            predictor=FakePredictor(seed=3))
        measured[temporal] = flicker(composer.abs, shift=0 if kind == "static" else 1)
    assert measured[True] * 2 <= measured[False], measured


def test_scene_cut_resets():
    smoother = TemporalSmoother()
    first = synthetic_photo(64, 96, seed=0).mean(-1).astype(np.float32) / 2.55
    second = 100 - synthetic_photo(64, 96, seed=7).mean(-1).astype(np.float32) / 2.55
    ab_first, ab_second = np.full((16, 24, 2), 30, np.float32), np.full((16, 24, 2), -30, np.float32)
    smoother.step(first, ab_first)
    blended = smoother.step(first, ab_second)  # same frame: the previous output weighs in
    assert blended.mean() > -20
    after_cut = smoother.step(second, ab_second)
    assert np.allclose(after_cut, ab_second) and smoother.cuts == 1
    smoother.reset()
    assert np.allclose(smoother.step(first, ab_first), ab_first)


@pytest.mark.parametrize("height, width, shape", [(360, 640, (96, 168)), (720, 1280, (96, 171)), (48, 64, (12, 16)),
                                                  (97, 131, (24, 32))])
def test_shrink_is_an_area_mean(height, width, shape):
    from colorize.predict.temporal import shrink

    cv2 = pytest.importorskip("cv2")
    # Detail at about the flow grid's scale (finer detail is averaged away by either resize).
    image = cv2.GaussianBlur(np.random.default_rng(0).random((height, width), np.float32) * 100, (0, 0),
                             width / shape[1])
    image = (image - image.min()) * (100 / np.ptp(image))
    small = shrink(image, shape)
    direct = cv2.resize(image, shape[::-1], interpolation=cv2.INTER_AREA)
    assert small.shape == shape and small.dtype == np.float32
    assert small.mean() == pytest.approx(image.mean(), abs=0.5)  # a mean of the pixels, nothing lost or added
    assert np.abs(small - direct).mean() < 1.0  # L units of a 0-100 range: the windows differ a little
    assert small.min() >= image.min() and small.max() <= image.max()
    if height % shape[0] == 0 and width % shape[1] == 0:  # a whole factor: OpenCV's own pass, exactly
        np.testing.assert_allclose(small, direct, atol=1e-4)


def test_scene_cut_in_a_clip(tmp_path):
    frames = gray_clip(6, 64, 96, seed=0) + [255 - f for f in gray_clip(6, 64, 96, seed=5)]
    source = write_clip(tmp_path / "cut.mp4", frames)
    result = run(source, tmp_path / "out.mp4", temporal=True)
    assert result.cuts == 1


# ----------------------------------------------------------------------------- parts and failures
def test_start_end_trim(tmp_path):
    source = write_clip(tmp_path / "clip.mp4", pan_clip(30, 48, 64), fps=10, audio=True)
    target = tmp_path / "part.mp4"
    result = run(source, target, start=1.0, end=2.0)
    assert result.frames == 10
    frames, _ = decode_frames(target)
    assert len(frames) == 10
    assert float(frames[0][1] * frames[0][2]) == pytest.approx(0.0, abs=1e-3)
    with av.open(str(target)) as container:
        assert container.streams.audio and container.duration / av.time_base == pytest.approx(1.0, abs=0.15)


def test_failure_mid_run_leaves_no_file(tmp_path):
    source = write_clip(tmp_path / "clip.mp4", gray_clip(20))
    target = tmp_path / "out.mp4"
    target_existing = tmp_path / "existing.mp4"
    target_existing.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="predictor failed"):
        run(source, target, predictor=FakePredictor(fail_after=9))
    with pytest.raises(RuntimeError, match="predictor failed"):
        run(source, target_existing, predictor=FakePredictor(fail_after=9))

    def broken_compose(lightness, ab):
        raise ValueError("compose failed")

    with pytest.raises(ValueError, match="compose failed"):
        run(source, target, composer=broken_compose)
    assert not target.exists()
    assert target_existing.read_bytes() == b"old"  # an earlier file under the name is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "existing.mp4"]


def test_batches_and_progress(tmp_path, capsys):
    source = write_clip(tmp_path / "clip.mp4", gray_clip(9))
    predictor = FakePredictor()
    run(source, tmp_path / "out.mp4", predictor=predictor, batch_size=4, progress=True)
    assert predictor.frames == 9 and predictor.calls == 3
    assert "frame" in capsys.readouterr().err


class OneAtATime:
    """A predictor that records how many of its calls overlap (it must never run two batches at once),
    optionally slow on its first call (so batches finish out of order)."""

    def __init__(self, predictor, first_delay=0.0):
        import threading

        self.predictor, self.first_delay = predictor, first_delay
        self.lock, self.running, self.most, self.calls = threading.Lock(), 0, 0, 0

    def __call__(self, lightness_list):
        import time

        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            self.calls += 1
            first = self.calls == 1
        try:
            if first and self.first_delay:
                time.sleep(self.first_delay)
            return self.predictor(lightness_list)
        finally:
            with self.lock:
                self.running -= 1


class EncoderInputs:
    """Wraps the pipeline's output video stream: records (pts, bytes of every plane) of each frame handed to
    the encoder, in the order the encoder gets them."""

    def __init__(self, monkeypatch):
        self.frames = []
        make_stream = video._add_video_stream
        recorder = self

        class Recording:
            def __init__(self, stream):
                object.__setattr__(self, "stream", stream)

            def __getattr__(self, name):
                return getattr(self.stream, name)

            def __setattr__(self, name, value):
                setattr(self.stream, name, value)

            def encode(self, frame=None):
                if frame is not None:
                    recorder.frames.append((frame.pts, [bytes(plane) for plane in frame.planes]))
                return self.stream.encode(frame)

        monkeypatch.setattr(video, "_add_video_stream", lambda *args, **kwargs: Recording(make_stream(*args, **kwargs)))


def test_predictors_side_by_side_give_the_single_predictors_clip(tmp_path, monkeypatch):
    """Two predictors run batches concurrently; the first is slow, so later batches finish first: the
    smoother and the encoder still see every frame in order, and the encoder gets exactly a one-predictor
    run's frames. (Not the encoded bytes: x264's macroblock tree is not bit-exact from run to run — the
    same frames encoded in a new thread gave another file in 5 of 300 runs, up to 4 levels apart — so
    the decoded clips are compared within a tolerance.)"""
    source = write_clip(tmp_path / "clip.mp4", pan_clip(24), audio=True)
    encoder_inputs = EncoderInputs(monkeypatch)
    run(source, tmp_path / "alone.mp4", predictor=FakePredictor(noise=0), batch_size=2)
    alone = list(encoder_inputs.frames)
    encoder_inputs.frames.clear()
    predictors = [OneAtATime(FakePredictor(noise=0), first_delay=0.3), OneAtATime(FakePredictor(noise=0))]
    result = run(source, tmp_path / "together.mp4", predictor=predictors, batch_size=2)
    assert result.frames == 24 and result.audio == "copy"
    assert all(p.calls > 0 for p in predictors) and max(p.most for p in predictors) == 1
    together = encoder_inputs.frames
    assert len(together) == len(alone) == 24
    assert [pts for pts, _ in together] == sorted(pts for pts, _ in together)
    assert together == alone
    (frames_a, _), (frames_b, _) = decode_frames(tmp_path / "alone.mp4"), decode_frames(tmp_path / "together.mp4")
    assert [pts for _, pts, _ in frames_a] == [pts for _, pts, _ in frames_b]
    for (a, _, _), (b, _, _) in zip(frames_a, frames_b):
        assert np.abs(a.astype(int) - b).max() <= 8


def test_a_failing_predictor_among_several_fails_the_clip(tmp_path):
    source = write_clip(tmp_path / "clip.mp4", gray_clip(16))
    target = tmp_path / "out.mp4"
    with pytest.raises(RuntimeError, match="predictor failed"):
        run(source, target, predictor=[FakePredictor(), FakePredictor(fail_after=2)], batch_size=2)
    assert not target.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_opencv_threads_are_restored_after_a_clip(tmp_path):
    import cv2

    source = write_clip(tmp_path / "clip.mp4", gray_clip(4))
    before = cv2.getNumThreads()
    seen = []
    run(source, tmp_path / "out.mp4", composer=lambda lightness, ab: (seen.append(cv2.getNumThreads()),
                                                                     compose(lightness, ab))[1])
    assert set(seen) == {1} and cv2.getNumThreads() == before


@pytest.mark.parametrize("height, width", [(48, 64), (36, 50)])
def test_frames_for_the_encoder_are_bt601_within_a_level(height, width):
    """yuv420p made with OpenCV: Y' per pixel, Cb/Cr of 2x2 means, within a level of the exact BT.601
    limited-range values; a height that is no multiple of 4 goes through FFmpeg's scaler (also BT.601)."""
    rgb = synthetic_photo(height, width, seed=3)
    planes = video.video_frame(rgb, "yuv420p").to_ndarray().astype(float)
    r, g, b = (rgb[..., i].astype(float) for i in range(3))
    luma = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    assert np.abs(planes[:height] - luma).max() <= 1.0
    if height % 4 == 0:
        def means(plane):
            return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)).reshape(height // 4, width)
        blue = means(128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255)
        red = means(128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255)
        assert np.abs(planes[height : height * 5 // 4] - blue).max() <= 1.0
        assert np.abs(planes[height * 5 // 4 :] - red).max() <= 1.0


def write_yuv_clip(path, lumas, pix_fmt, chroma=128):
    """Encode frames given as luma planes (H, W) uint8 with every chroma value ``chroma`` (128: gray footage,
    as a black-and-white film's decoder gives it), ``pix_fmt`` planar YUV; x264, nearly lossless."""
    height, width = lumas[0].shape
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.options = {"crf": "10", "preset": "ultrafast"}
        for index, luma in enumerate(lumas):
            frame = av.VideoFrame(width, height, pix_fmt)
            for number, plane in enumerate(frame.planes):
                values = np.full((plane.height, plane.line_size), chroma, np.uint8)
                if number == 0:
                    values[:, :width] = luma
                plane.update(values.tobytes())
            frame.pts, frame.time_base = index, Fraction(1, 10)
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


@pytest.mark.parametrize("pix_fmt, width", [("yuv420p", 64), ("yuvj420p", 64), ("yuv444p", 64), ("yuv420p", 66)])
def test_gray_frames_lightness_by_table_equals_the_rgb_path(tmp_path, pix_fmt, width):
    # Gray footage (neutral chroma planes) takes the luma table: the same L, value for value, as the RGB path;
    # in limited and full range, 4:2:0 and 4:4:4, and with padded rows (66 wide: chroma rows of 33).
    ramp = np.linspace(0, 255, width).astype(np.uint8)[None].repeat(48, 0)  # every luma value
    lumas = [ramp, *(rgb[..., 0] for rgb in pan_clip(5, 48, width))]
    gray = write_yuv_clip(tmp_path / "gray.mkv", lumas, pix_fmt)
    tinted = write_yuv_clip(tmp_path / "tinted.mkv", lumas[:3], pix_fmt, chroma=120)  # a sepia-like cast
    colour = write_clip(tmp_path / "colour.mkv", [synthetic_photo(48, width, seed=3)] * 3, pix_fmt=pix_fmt)
    lightness = video.FrameLightness()
    for path, by_table in ((gray, True), (tinted, False), (colour, False)):
        with av.open(str(path)) as container:
            decoded = list(container.decode(container.streams.video[0]))
            assert decoded[0].format.name == pix_fmt
            before = lightness.gray_frames
            for frame in decoded:
                np.testing.assert_array_equal(lightness(frame), lightness_of(frame.to_ndarray(format="rgb24")))
            assert lightness.gray_frames - before == (len(decoded) if by_table else 0), path.name


def test_the_output_says_its_colour_matrix(tmp_path):
    """Tagged BT.601, limited range (how the frames were made): players would assume BT.709 for HD."""
    source = write_clip(tmp_path / "clip.mp4", gray_clip(3))
    run(source, tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as container:
        context = container.streams.video[0].codec_context
        assert (int(context.colorspace), int(context.color_range)) == (6, 1)


@pytest.mark.slow
def test_bundled_default_on_a_tiny_clip(tmp_path):
    from colorize.models.presets import bundled_model
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import predict_ab

    colorizer = load_colorizer(bundled_model(), engine="auto")
    source = write_clip(tmp_path / "clip.mp4", pan_clip(8, 96, 128))
    target = tmp_path / "out.mp4"
    result = video.colorize_video(source, target, lambda ls: predict_ab(colorizer, ls), compose, progress=False)
    assert result.frames == 8
    frames, _ = decode_frames(target)
    assert len(frames) == 8 and frames[0][0].shape == (96, 128, 3)


def test_a_name_taken_while_colorizing_gets_the_next_free_one(tmp_path):
    """Another process writes the target's name meanwhile: its file stays, the clip takes the next name."""
    source = write_clip(tmp_path / "clip.mp4", gray_clip(6), fps=6)
    target = tmp_path / "out.mp4"

    def compose_and_take_the_name(lightness, ab):
        if not target.exists():
            target.write_bytes(b"theirs")
        return compose(lightness, ab)

    names = iter([tmp_path / "out-1.mp4"])
    result = run(source, target, composer=compose_and_take_the_name, replace=False, next_name=lambda taken: next(names))
    assert target.read_bytes() == b"theirs"
    assert result.path == tmp_path / "out-1.mp4" and len(decode_frames(result.path)[0]) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out-1.mp4", "out.mp4"]  # no partial left
    with pytest.raises(FileExistsError):  # without next_name: refused, nothing of ours left
        run(source, target, replace=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out-1.mp4", "out.mp4"]


REAL_CLIP = Path(__file__).resolve().parent.parent / "benchmarks" / "data" / "big_buck_bunny.mp4"


@pytest.mark.slow
def test_a_real_clip_keeps_its_frames_rate_and_audio(tmp_path):
    """The shipped 5.3 s of Big Buck Bunny (real H.264 + AAC from a real encoder, 1280x720): every frame,
    the size, the frame rate and timestamps, and the audio packets byte for byte."""
    target = tmp_path / "bunny.mp4"
    result = run(REAL_CLIP, target)
    assert (result.frames, result.audio) == (132, "copy")
    with av.open(str(REAL_CLIP)) as source, av.open(str(target)) as output:
        for container in (source, output):
            assert container.streams.video[0].average_rate == 25
        assert (output.streams.video[0].width, output.streams.video[0].height) == (1280, 720)
        source_pts = [float(f.pts * f.time_base) for f in source.decode(video=0)]
        output_pts = [float(f.pts * f.time_base) for f in output.decode(video=0)]
        assert len(output_pts) == 132 and np.allclose(output_pts, source_pts, atol=1e-3)

    def audio_packets(path):
        with av.open(str(path)) as container:
            return [(bytes(p), p.pts) for p in container.demux(container.streams.audio[0]) if p.size]

    assert audio_packets(target) == audio_packets(REAL_CLIP)


# ----------------------------------------------------------------------------- the colorize command
def _colorize(*argv):
    from colorize.cli.colorize import colorize_command

    return colorize_command(None, [str(a) for a in argv])


def test_colorize_command_takes_clips_beside_photos(tiny_models, tmp_path, capsys):
    """A folder holding a photo and a clip: the photo becomes NAME.png, the clip NAME.mp4 with every frame."""
    album = tmp_path / "album"
    save_rgb(album / "photo.png", synthetic_photo(32, 40, seed=3))
    write_clip(album / "clip.mkv", pan_clip(8, 32, 48), fps=8)
    out = tmp_path / "out"
    status = _colorize(album, "-o", out, "--model", tiny_models["simple"], "--no-temporal", "--start", "0")
    assert status == 0, capsys.readouterr().err
    assert (out / "photo.png").is_file() and (out / "clip.mp4").is_file()
    frames, _ = decode_frames(out / "clip.mp4")
    assert len(frames) == 8 and frames[0][0].shape == (32, 48, 3)
    assert "colorized 2 image(s) and clip(s)" in capsys.readouterr().out
    # A second run never replaces the first one's clip.
    assert _colorize(album / "clip.mkv", "-o", out, "--model", tiny_models["simple"], "-q") == 0
    assert (out / "clip-1.mp4").is_file()


@pytest.mark.parametrize("kind", ["truncated", "still image", "empty"])
def test_colorize_command_refuses_bad_clips_in_one_line(kind, tiny_models, tmp_path, capsys):
    source = tmp_path / "bad.mp4"
    if kind == "truncated":
        good = write_clip(tmp_path / "good.mp4", pan_clip(12, 32, 48), fps=8)
        source.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    elif kind == "still image":
        save_rgb(tmp_path / "still.png", synthetic_photo(32, 40))
        source.write_bytes((tmp_path / "still.png").read_bytes())
    else:
        source.write_bytes(b"")
    out = tmp_path / "out"
    assert _colorize(source, "-o", out, "--model", tiny_models["simple"], "-q") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(source) in err[0] and "Traceback" not in err[0], err
    assert not out.exists() or not list(out.iterdir())  # nothing written, no partial file


def test_crf_trades_size_for_quality(tiny_models, tmp_path, capsys):
    """--crf reaches the encoder: a higher factor gives a smaller clip, further from the lossless one."""
    source = write_clip(tmp_path / "clip.mp4", pan_clip(12, 64, 96), fps=8)
    outputs = {}
    for crf in (0, 40):
        out = tmp_path / f"crf{crf}"
        assert _colorize(source, "-o", out, "--model", tiny_models["simple"], "-q", "--crf", crf) == 0, \
            capsys.readouterr().err
        outputs[crf] = out / "clip.mp4"
    assert outputs[0].stat().st_size > 1.5 * outputs[40].stat().st_size  # measured 4517 vs 1900 bytes
    (lossless, _), (small, _) = decode_frames(outputs[0]), decode_frames(outputs[40])
    assert len(lossless) == len(small) == 12
    assert np.mean([np.abs(a.astype(int) - b).mean() for (a, _, _), (b, _, _) in zip(lossless, small)]) > 0.5


@pytest.mark.parametrize("value, reason", [("52", "must be 0 to 51, got 52"), ("-1", "must be 0 to 51, got -1"),
                                           ("high", "not a whole number: 'high'")])
def test_crf_out_of_range_is_a_usage_error(value, reason, capsys):
    with pytest.raises(SystemExit) as stopped:
        _colorize("x.mp4", "--crf", value)
    err = capsys.readouterr().err
    assert stopped.value.code == 2 and f"argument --crf: {reason}" in err and "Traceback" not in err


def test_crf_help_names_the_encoders_default(capsys):
    with pytest.raises(SystemExit):
        _colorize("--help")
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"(default: {video.DEFAULT_CRF}, visually lossless)" in help_text


def test_start_after_end_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        _colorize("x.mp4", "--start", "5", "--end", "2")
    assert stopped.value.code == 2 and "--end (2 s) must be after --start (5 s)" in capsys.readouterr().err


@pytest.mark.slow
def test_ctrl_c_in_the_middle_of_a_clip_leaves_nothing(tmp_path):
    """SIGINT while the network copies, the compose pool and the encoder are all busy: exit 130, one line,
    neither the clip nor its temporary file left behind."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from conftest import REPO, interruptible

    source = write_clip(tmp_path / "clip.mp4", pan_clip(600, 240, 320, step=1), fps=24)
    out = tmp_path / "out"
    run = subprocess.Popen([sys.executable, str(REPO / "colorize_complex.py"), str(source), "-o", str(out), "-q"],
                           env=dict(os.environ, PYTHONPATH=str(REPO)), stderr=subprocess.PIPE, text=True,
                           preexec_fn=interruptible)
    deadline = time.monotonic() + 120
    # The temporary file appears when the clip starts; a second later the pipeline is in full swing.
    while time.monotonic() < deadline and not any(out.glob(".clip.partial-*")):
        time.sleep(0.02)
    time.sleep(1.0)
    assert run.poll() is None, "the clip finished before it could be interrupted"
    run.send_signal(signal.SIGINT)
    stderr = run.communicate(timeout=120)[1]
    assert run.returncode == 130 and "Traceback" not in stderr, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and "interrupted:" in lines[0], stderr
    assert sorted(p.name for p in out.iterdir()) == [], list(out.iterdir())
