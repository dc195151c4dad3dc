"""Video colorization: flicker, accuracy, speed and memory on clips whose true colours are known.

    python benchmarks/bench_video.py [--photos DIR] [--frames 40] [--size 320x180] [--speed-frames 96]
        [--long-minutes 1.0] [--long-fps 12] [--clip COLOUR_VIDEO] [--figure docs/video_strip.png] [--skip ...]

Synthetic clips are built from colour photos (default: ../shared/data/imagenette/val, else the
bundled public-domain samples), so the true colour of every frame is known:

    pan     a crop window sliding over a larger photo (camera pan)
    zoom    a crop window shrinking about a point (zoom in)
    object  a disc cut from a second photo moving over a background photo
    noise   a still photo, gray-level sensor noise (Gaussian, sigma 2 L units) added to L per frame
    cut     a pan over one photo, then (a scene cut) a pan over another

Each clip's gray version is written as a real H.264 video, colorized by colorize_video with the
bundled default (compiled copy, engine "auto") with and without temporal smoothing, the output
video decoded back and measured:

* flicker: the warping error of Lai et al. (ECCV 2018), the mean |delta ab| (Euclidean, Lab units)
  between consecutive output frames after warping the previous one onto the current one with the
  optical flow of the TRUE colour frames (DIS, medium preset), occluded pixels (forward-backward
  check) left out, and the frame pair across a cut as well. The truth's own warping error is the floor;
* AuC (colorize.evaluation.metrics.auc, Zhang et al.) of every output frame against the true colours, averaged;
* speed: end-to-end frames/s of colorize_video at 640x360 and 1280x720 (temporal on, as the colorize
  command runs clips: one copy of the compiled network per core, no mirrored pass), against the
  network-alone frames/s (predict_ab on the same frames, batches of 4) with one interpreter on all
  cores and with one interpreter per core; medians of interleaved runs (--speed-repeats), and the
  median ratio to the better network-alone figure of the same run (--speed-mirror: also with the mirrored pass);
* memory: peak RSS (sampled every 20 ms) of colorize_video in a fresh process on a long 720p clip
  (--long-minutes) and on one a quarter as long: flat memory means the two peaks agree.

A real colour video (--clip; default the shipped 5.3 s of Big Buck Bunny, 1280x720, 25 fps, benchmarks/data/)
is measured like the synthetic clips: its gray version is colorized and compared with its true colours. The figure (--figure) shows a pan over a bundled sample photo: truth, per-frame and
temporal frames, and the flicker per frame over time.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("COLORIZE_SHARED_DATA", REPO.parent / "shared" / "data"))
CLIPS = ("pan", "zoom", "object", "noise", "cut")
# A real clip shipped for this benchmark: 5.3 s of Big Buck Bunny (CC BY 3.0, Blender Foundation), 1280x720.
REAL_CLIP = REPO / "benchmarks" / "data" / "big_buck_bunny.mp4"


# ----------------------------------------------------------------------------- photos and clips
def load_photos(folder, count, seed=0):
    """``count`` uint8 RGB photos from ``folder`` (recursively), in a fixed random order."""
    paths = sorted(p for p in Path(folder).rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not paths:
        raise SystemExit(f"no photos under {folder}")
    order = np.random.default_rng(seed).permutation(len(paths))
    photos = []
    for index in order:
        image = cv2.imread(str(paths[index]), cv2.IMREAD_COLOR)
        if image is not None and image.std() > 20:  # skip near-gray photos: no colour to be right about
            photos.append(cv2.cvtColor(image, cv2.COLOR_BGR2RGB))
        if len(photos) == count:
            break
    return photos


def cover(photo, height, width):
    """Resize ``photo`` (aspect kept) to cover height x width at least."""
    scale = max(height / photo.shape[0], width / photo.shape[1])
    size = (int(np.ceil(photo.shape[1] * scale)), int(np.ceil(photo.shape[0] * scale)))
    return cv2.resize(photo, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA)


def pan(photo, count, height, width, step=3):
    wide = cover(photo, height, width + step * count)
    top = (wide.shape[0] - height) // 2
    return [np.ascontiguousarray(wide[top : top + height, step * i : step * i + width]) for i in range(count)]


def zoom(photo, count, height, width, final=0.6):
    big = cover(photo, height, width)[:height, :width]
    frames = []
    for i in range(count):
        scale = 1 - (1 - final) * i / max(1, count - 1)
        h, w = height * scale, width * scale
        top, left = (height - h) * 0.4, (width - w) * 0.55
        matrix = np.array([[scale, 0, left], [0, scale, top]], np.float32)
        frames.append(cv2.warpAffine(big, matrix, (width, height), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                     borderMode=cv2.BORDER_REFLECT))
    return frames


def moving_object(background, thing, count, height, width):
    back = cover(background, height, width)[:height, :width]
    radius = height // 4
    patch = cover(thing, 2 * radius, 2 * radius)[: 2 * radius, : 2 * radius]
    mask = np.zeros((2 * radius, 2 * radius), np.uint8)
    cv2.circle(mask, (radius, radius), radius - 1, 1, -1)
    frames = []
    for i in range(count):
        frame = back.copy()
        left = int(round((width - 2 * radius) * i / max(1, count - 1)))
        top = int(round(height / 2 - radius + height / 8 * np.sin(i / 6)))
        region = frame[top : top + 2 * radius, left : left + 2 * radius]
        region[mask > 0] = patch[mask > 0]
        frames.append(frame)
    return frames


def still(photo, count, height, width):
    return [cover(photo, height, width)[:height, :width]] * count


def make_clip(kind, photos, count, height, width):
    """(true colour frames, gray noise sigma in L units, index of the first frame after a cut or None)."""
    if kind == "pan":
        return pan(photos[0], count, height, width), 0.0, None
    if kind == "zoom":
        return zoom(photos[1], count, height, width), 0.0, None
    if kind == "object":
        return moving_object(photos[2], photos[3], count, height, width), 0.0, None
    if kind == "noise":
        return still(photos[4], count, height, width), 2.0, None
    half = count // 2
    return pan(photos[5], half, height, width) + pan(photos[6], count - half, height, width), 0.0, half


def gray_of(rgb, noise=0.0, rng=None):
    """The gray frame a camera without colour would record: L of the truth (plus noise), as gray RGB."""
    from colorize import color
    from colorize.predict.pipeline import lightness_of

    lightness = lightness_of(rgb)
    if noise:
        lightness = np.clip(lightness + rng.normal(0, noise, lightness.shape).astype(np.float32), 0, 100)
    return color.l_ab_to_rgb(lightness, np.zeros(lightness.shape + (2,), np.float32))


def write_video(path, frames, fps=24, crf=12):
    """uint8 RGB frames (a list or an iterator) -> H.264 file."""
    import av

    fps = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), "w") as output:
        stream = None
        for index, rgb in enumerate(frames):
            if stream is None:
                stream = output.add_stream("libx264", rate=fps)
                stream.height, stream.width = rgb.shape[:2]
                stream.pix_fmt = "yuv420p"
                stream.options = {"crf": str(crf), "preset": "ultrafast"}
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = index, 1 / fps
            for packet in stream.encode(frame):
                output.mux(packet)
        for packet in stream.encode(None):
            output.mux(packet)
    return path


def read_video(path, limit=None):
    import av

    frames = []
    with av.open(str(path)) as container:
        for frame in container.decode(container.streams.video[0]):
            frames.append(frame.to_ndarray(format="rgb24"))
            if limit and len(frames) == limit:
                break
    return frames


# ----------------------------------------------------------------------------- measures
def _lab_ab(rgb):
    from colorize import color

    return color.rgb_to_lab(rgb)[..., 1:]


def true_flows(truth):
    """Per consecutive pair of true frames: backward flow (t -> t-1) and the mask of non-occluded pixels."""
    from colorize.predict.temporal import FB_ABSOLUTE_PX, FB_RELATIVE, _remap

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    grays = [cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) for rgb in truth]
    flows = []
    for previous, current in zip(grays, grays[1:]):
        backward = dis.calc(current, previous, None)
        forward = dis.calc(previous, current, None)
        round_trip = backward + _remap(forward, backward)
        error = (round_trip**2).sum(-1)
        bound = FB_RELATIVE * ((backward**2).sum(-1) + (_remap(forward, backward) ** 2).sum(-1)) + FB_ABSOLUTE_PX
        height, width = current.shape
        xs, ys = np.meshgrid(np.arange(width), np.arange(height))
        inside = ((xs + backward[..., 0] >= 0) & (xs + backward[..., 0] <= width - 1)
                  & (ys + backward[..., 1] >= 0) & (ys + backward[..., 1] <= height - 1))
        flows.append((backward, (error <= bound) & inside))
    return flows


def warping_errors(abs_, flows, cut=None):
    """Per frame t >= 1: mean Euclidean |ab_t - warp(ab_{t-1})| over non-occluded pixels (nan across a cut)."""
    from colorize.predict.temporal import _remap

    errors = []
    for t, (backward, mask) in enumerate(flows, start=1):
        if cut is not None and t == cut:
            errors.append(np.nan)
            continue
        warped = _remap(np.ascontiguousarray(abs_[t - 1]), backward)
        difference = np.sqrt(((abs_[t] - warped) ** 2).sum(-1))
        errors.append(float(difference[mask].mean()))
    return np.array(errors)


ALPHA = [None]  # --alpha, set by main


def evaluate(truth, gray_path, out_dir, predict, temporal, name):
    from colorize.predict.pipeline import compose
    from colorize.evaluation.metrics import auc
    from colorize.predict.video import colorize_video

    target = out_dir / f"{name}-{'temporal' if temporal else 'frame'}.mp4"
    smoother = None
    if temporal and ALPHA[0] is not None:
        from colorize.predict.temporal import TemporalSmoother

        smoother = TemporalSmoother(alpha=ALPHA[0])
    result = colorize_video(gray_path, target, predict, compose, temporal=temporal, progress=False, smoother=smoother)
    outputs = read_video(target)
    assert len(outputs) == len(truth), (len(outputs), len(truth))
    abs_out = [_lab_ab(rgb) for rgb in outputs]
    abs_true = [_lab_ab(rgb) for rgb in truth]
    return {"abs": abs_out, "rgb": outputs, "cuts": result.cuts,
            "auc": float(np.mean([auc(out, true) for out, true in zip(abs_out, abs_true)]))}


def network_fps(predictors, frames, batch=4):
    """Frames/s of the network alone: ``frames``' L in batches of ``batch``, spread over ``predictors``
    (each in its own thread, one batch at a time, as colorize_video runs them)."""
    import queue

    from colorize.predict.pipeline import lightness_of

    lightness = [lightness_of(rgb) for rgb in frames]
    for predict in predictors:
        predict(lightness[:batch])  # warm-up
    batches = queue.SimpleQueue()
    for start in range(0, len(lightness), batch):
        batches.put(lightness[start : start + batch])

    def work(predict):
        while True:
            try:
                predict(batches.get_nowait())
            except queue.Empty:
                return

    began = time.perf_counter()
    threads = [threading.Thread(target=work, args=(predict,)) for predict in predictors]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(lightness) / (time.perf_counter() - began)


def speed(colorizer, mirror, photo, out_dir, height, width, count, repeats):
    """Medians over ``repeats`` interleaved runs: network alone with one interpreter on all cores, network
    alone with one interpreter per core (concurrent_colorizers), end to end (colorize_video, temporal on,
    with the colorize command's predictors); and the median of each run's end-to-end / best network-alone."""
    from colorize.predict.pipeline import compose, concurrent_colorizers, predict_ab
    from colorize.predict.video import colorize_video

    def predictor(network):
        return lambda lightness_list: predict_ab(network, lightness_list, mirror=mirror)

    single, several = [predictor(colorizer)], [predictor(network) for network in concurrent_colorizers(colorizer)]
    truth = pan(photo, count, height, width, step=4)
    gray = write_video(out_dir / f"speed-{width}.mp4", (gray_of(rgb) for rgb in truth))
    runs = []
    for _ in range(repeats):
        alone_single, alone_several = network_fps(single, truth), network_fps(several, truth)
        whole = colorize_video(gray, out_dir / f"speed-{width}-out.mp4", several, compose, temporal=True,
                               progress=False).fps
        runs.append((alone_single, alone_several, whole, whole / max(alone_single, alone_several)))
    return [float(value) for value in np.median(np.array(runs), axis=0)]


def memory_run(path, minutes, fps):
    """In THIS process: write a long 720p gray clip, colorize it, print the peak RSS (JSON)."""
    from colorize.models.presets import bundled_model
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import compose, concurrent_colorizers, predict_ab
    from colorize.predict.video import colorize_video

    colorizer = load_colorizer(bundled_model(), engine="auto")
    count = int(round(minutes * 60 * fps))
    source = Path(path) / f"long-{minutes}.mp4"
    photos = _photos_for_memory()
    write_video(source, (gray_of(frame) for frame in _long_frames(photos, count)), fps=fps, crf=20)
    # Sampled RSS, not ru_maxrss: Linux keeps ru_maxrss across fork + exec, so a child started by a big
    # parent would report the parent's peak.
    before = current_rss()
    peak, done = [before], threading.Event()

    def sample():
        while not done.wait(0.02):
            peak[0] = max(peak[0], current_rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    predictors = [lambda ls, network=network: predict_ab(network, ls, mirror=False)
                  for network in concurrent_colorizers(colorizer)]  # as the colorize command runs clips
    result = colorize_video(source, Path(path) / f"long-{minutes}-out.mp4", predictors, compose, temporal=True,
                            progress=False)
    done.set()
    sampler.join()
    print(json.dumps({"frames": result.frames, "fps": result.fps, "peak_mib": peak[0] / 2**20,
                      "before_mib": before / 2**20}))


def current_rss():
    """Resident set size of this process in bytes (/proc/self/statm)."""
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * resource.getpagesize()


def _photos_for_memory():
    from colorize.models.presets import samples_folder

    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in sorted(samples_folder().glob("*.jpg"))]


def _long_frames(photos, count, height=720, width=1280, step=4):
    """A long pan back and forth over the photos in turn, generated frame by frame (never held)."""
    wides = [cover(photo, height, width + 400) for photo in photos]
    for index in range(count):
        wide = wides[(index // 200) % len(wides)]
        offset = index % 200
        left = step * (offset if offset < 100 else 200 - offset)
        yield np.ascontiguousarray(wide[:height, left : left + width])


def measure_memory(minutes, fps):
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for length in (minutes / 4, minutes):
            command = [sys.executable, __file__, "--_memory-run", folder, "--long-minutes", str(length),
                       "--long-fps", str(fps)]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"memory run failed:\n{done.stderr[-3000:]}")
            rows.append((length, json.loads(done.stdout.strip().splitlines()[-1])))
            for leftover in Path(folder).iterdir():
                leftover.unlink()
    return rows


# ----------------------------------------------------------------------------- figure
def figure(path, truth, runs, flicker, name):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    picks = np.linspace(1, len(truth) - 1, 5).astype(int)
    rows = [("truth", truth), ("per-frame", runs[False]["rgb"]), ("temporal", runs[True]["rgb"])]
    fig = plt.figure(figsize=(13, 7))
    grid = fig.add_gridspec(4, len(picks), height_ratios=[1, 1, 1, 1.1])
    for row, (label, frames) in enumerate(rows):
        for column, index in enumerate(picks):
            axis = fig.add_subplot(grid[row, column])
            axis.imshow(frames[index])
            axis.set_xticks([]), axis.set_yticks([])
            if column == 0:
                axis.set_ylabel(label)
            if row == 0:
                axis.set_title(f"frame {index}")
    axis = fig.add_subplot(grid[3, :])
    for temporal, label in ((False, "per-frame"), (True, "temporal")):
        axis.plot(np.arange(1, len(truth)), flicker[temporal], label=f"{label} (mean {np.nanmean(flicker[temporal]):.2f})")
    axis.plot(np.arange(1, len(truth)), flicker["truth"], "k:", label="truth (warping floor)")
    axis.set_xlabel("frame")
    axis.set_ylabel("warping error |Δab| (Lab units)")
    axis.set_title(f"{name}: flicker over time")
    axis.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


# ----------------------------------------------------------------------------- main
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_photos = SHARED / "imagenette" / "val"
    parser.add_argument("--photos", type=Path, default=default_photos if default_photos.is_dir() else None,
                        help="folder of colour photos for the synthetic clips (default: %(default)s; "
                             "the bundled samples when absent)")
    parser.add_argument("--frames", type=int, default=40, help="frames per quality clip")
    parser.add_argument("--size", default="320x180", help="quality clips' WIDTHxHEIGHT")
    parser.add_argument("--clips", nargs="*", default=list(CLIPS), choices=CLIPS,
                        help="synthetic clips to measure (none: only --clip)")
    parser.add_argument("--clip", type=lambda value: Path(value) if value else None, default=REAL_CLIP if REAL_CLIP.is_file() else None,
                        help="also measure a real COLOUR video (its gray version; default: the shipped "
                             f"{REAL_CLIP.name}, see benchmarks/data/README.md); --clip '' skips it")
    parser.add_argument("--clip-frames", type=int, default=0, help="frames of --clip to use (0: all)")
    parser.add_argument("--speed-frames", type=int, default=96, help="frames per speed clip")
    parser.add_argument("--speed-repeats", type=int, default=5,
                        help="interleaved runs per speed figure (the machine is shared: medians are quoted)")
    parser.add_argument("--speed-mirror", action="store_true",
                        help="speed: also with the mirrored pass (photos' default; the colorize command does not "
                             "run it for video)")
    parser.add_argument("--long-minutes", type=float, default=1.0,
                        help="length of the long 720p clip for peak memory (also measured at a quarter of it)")
    parser.add_argument("--long-fps", type=float, default=12, help="frame rate of the long clip")
    parser.add_argument("--figure", type=Path, default=REPO / "docs" / "video_strip.png")
    parser.add_argument("--skip", nargs="*", default=[], choices=["quality", "speed", "memory", "figure"])
    parser.add_argument("--mirror", action="store_true",
                        help="quality clips: also run the mirrored pass (the colorize command does not for video)")
    parser.add_argument("--alpha", type=float, default=None,
                        help="the temporal blend's weight of the warped previous colours (default: the library's)")
    parser.add_argument("--_memory-run", dest="memory_run", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_run:
        return memory_run(args.memory_run, args.long_minutes, args.long_fps)

    from colorize.models.presets import bundled_model
    from colorize.predict.engine import load_colorizer
    from colorize.predict.pipeline import predict_ab

    ALPHA[0] = args.alpha
    colorizer = load_colorizer(bundled_model(), engine="auto")
    print(f"model: {bundled_model().name} on {type(colorizer).__name__}, photos: {args.photos or 'bundled samples'}")

    def predict(lightness_list):  # as the colorize command runs clips: no mirrored pass
        return predict_ab(colorizer, lightness_list, mirror=args.mirror)

    photos = load_photos(args.photos, 7) if args.photos else _photos_for_memory() * 3
    width, height = (int(v) for v in args.size.lower().split("x"))
    rng = np.random.default_rng(0)
    lines = []
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        if "quality" not in args.skip:
            clips = [(kind, *make_clip(kind, photos, args.frames, height, width)) for kind in args.clips]
            if args.clip:
                clips.append((args.clip.stem, read_video(args.clip, limit=args.clip_frames or None), 0.0, None))
            lines += ["| clip | flicker per-frame | flicker temporal | ratio | truth floor | AuC per-frame | "
                      "AuC temporal | ΔAuC | cuts found |", "|---|---|---|---|---|---|---|---|---|"]
            ratios, deltas = [], []
            for name, truth, noise, cut in clips:
                gray = write_video(folder / f"{name}.mp4", [gray_of(rgb, noise, rng) for rgb in truth])
                flows = true_flows(truth)
                runs = {temporal: evaluate(truth, gray, folder, predict, temporal, name) for temporal in (False, True)}
                flicker = {temporal: warping_errors(runs[temporal]["abs"], flows, cut) for temporal in (False, True)}
                flicker["truth"] = warping_errors([_lab_ab(rgb) for rgb in truth], flows, cut)
                mean = {key: float(np.nanmean(value)) for key, value in flicker.items()}
                ratio, delta = mean[True] / mean[False], runs[True]["auc"] - runs[False]["auc"]
                ratios.append(ratio), deltas.append(delta)
                lines.append(f"| {name} | {mean[False]:.2f} | {mean[True]:.2f} | {ratio:.2f} | {mean['truth']:.2f} | "
                             f"{runs[False]['auc']:.4f} | {runs[True]['auc']:.4f} | {delta:+.4f} | {runs[True]['cuts']} |")
                print(lines[-1], flush=True)
            lines.append(f"| **all** | | | {np.mean(ratios):.2f} (mean) | | | | {np.mean(deltas):+.4f} (mean) | |")
        if "figure" not in args.skip:
            sample = _photos_for_memory()[1]  # chelsea, public domain (scikit-image)
            truth = pan(sample, args.frames, height, width, step=3)
            gray = write_video(folder / "figure.mp4", [gray_of(rgb) for rgb in truth])
            runs = {temporal: evaluate(truth, gray, folder, predict, temporal, "figure") for temporal in (False, True)}
            flows = true_flows(truth)
            flicker = {temporal: warping_errors(runs[temporal]["abs"], flows) for temporal in (False, True)}
            flicker["truth"] = warping_errors([_lab_ab(rgb) for rgb in truth], flows)
            figure(args.figure, truth, runs, flicker, "pan over a bundled sample")
            print(f"figure: {args.figure}", flush=True)
        if "speed" not in args.skip:
            lines += ["", f"medians of {args.speed_repeats} interleaved runs of {args.speed_frames} frames",
                      "| frame size | mirror TTA | network alone, one interpreter (fps) | network alone, one per core "
                      "(fps) | end to end, temporal (fps) | end-to-end / best network-alone |",
                      "|---|---|---|---|---|---|"]
            for w, h in ((640, 360), (1280, 720)):
                for mirror in (False, True) if args.speed_mirror else (False,):
                    single, several, whole, ratio = speed(colorizer, mirror, photos[0], folder, h, w,
                                                          args.speed_frames, args.speed_repeats)
                    lines.append(f"| {w}x{h} | {'on' if mirror else 'off'} | {single:.1f} | {several:.1f} | "
                                 f"{whole:.1f} | {ratio:.0%} |")
                    print(lines[-1], flush=True)
    if "memory" not in args.skip:
        lines += ["", "| long 720p clip | frames | end to end (fps) | RSS before (MiB) | peak RSS during (MiB) |",
                  "|---|---|---|---|---|"]
        for minutes, row in measure_memory(args.long_minutes, args.long_fps):
            lines.append(f"| {minutes:g} min at {args.long_fps:g} fps | {row['frames']} | {row['fps']:.1f} | "
                         f"{row['before_mib']:.0f} | {row['peak_mib']:.0f} |")
            print(lines[-1], flush=True)
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
