#!/usr/bin/env python
"""End-to-end frames/s of the colorize command's video path on a real clip, sound included (prints
medians; never asserts).

    python benchmarks/bench_video_clip.py                          # the bundled Big Buck Bunny, 640x360 and 1280x720
    python benchmarks/bench_video_clip.py --clip film.mp4 --sizes 640x360 --runs 5
    python benchmarks/bench_video_clip.py --code /path/to/other/checkout   # another version of the code

`bench_video.py` measures speed on synthetic silent clips; real footage has an audio track whose packets
lie between the frames, so this one runs a real clip with its sound. Each size is first made as a gray
H.264 copy of the clip with its audio packets copied (a clip already of that size is only made gray),
then colorized in a fresh process per run (the bundled default, the compiled copy, one interpreter per
core, temporal smoothing on: as `colorize_complex.py CLIP` runs it). ``--code`` lets two checkouts be
alternated run by run (the host's speed drifts): give it twice.
"""

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CLIP = REPO / "benchmarks" / "data" / "big_buck_bunny.mp4"

# Run in a fresh process with the checkout under test first on sys.path: prints "frames fps batch-sizes".
_RUN = """
import collections, sys
sys.path.insert(0, sys.argv[1])
from colorize.models.presets import bundled_model
from colorize.predict.engine import load_colorizer
from colorize.predict.pipeline import compose, concurrent_colorizers, predict_ab
from colorize.predict.video import colorize_video
sizes = collections.Counter()
def predictor(network):
    def predict(lightness_list):
        sizes[len(lightness_list)] += 1
        return predict_ab(network, lightness_list, mirror=False)
    return predict
colorizer = load_colorizer(bundled_model(), engine="auto")
result = colorize_video(sys.argv[2], sys.argv[3], [predictor(n) for n in concurrent_colorizers(colorizer)], compose,
                        temporal=True, progress=False)
print(result.frames, result.fps, dict(sizes))
"""


def gray_copy(source, target, width, height):
    """``source`` as a gray H.264 clip of width x height (CRF 18), its audio packets copied."""
    import av
    import numpy as np

    with av.open(str(source)) as inp, av.open(str(target), "w") as out:
        video_in = inp.streams.video[0]
        audio_in = inp.streams.audio[0] if inp.streams.audio else None
        video_out = out.add_stream("libx264", rate=video_in.average_rate)
        video_out.width, video_out.height, video_out.pix_fmt = width, height, "yuv420p"
        video_out.options = {"crf": "18", "preset": "veryfast"}
        audio_out = out.add_stream_from_template(audio_in) if audio_in is not None else None
        for packet in inp.demux(*[s for s in (video_in, audio_in) if s is not None]):
            if packet.stream.type == "audio":
                if packet.dts is not None:
                    packet.stream = audio_out
                    out.mux(packet)
                continue
            for frame in packet.decode():
                gray = frame.reformat(width=width, height=height, format="gray").to_ndarray()
                copy = av.VideoFrame.from_ndarray(np.repeat(gray[..., None], 3, axis=2), format="rgb24")
                copy.pts, copy.time_base = frame.pts, frame.time_base
                out.mux(video_out.encode(copy))
        out.mux(video_out.encode(None))
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="a video with sound (default: %(default)s)")
    parser.add_argument("--sizes", nargs="+", default=["640x360", "1280x720"], help="WxH (default: %(default)s)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size and checkout (default: %(default)s)")
    parser.add_argument("--code", type=Path, action="append",
                        help="a checkout of colorize to measure (repeatable; default: this one)")
    args = parser.parse_args(argv)
    checkouts = [path.resolve() for path in (args.code or [REPO])]
    with tempfile.TemporaryDirectory() as work:
        for size in args.sizes:
            width, height = (int(v) for v in size.split("x"))
            clip = gray_copy(args.clip, Path(work) / f"clip-{size}.mp4", width, height)
            figures = {checkout: [] for checkout in checkouts}
            for _ in range(args.runs):
                for checkout in checkouts:  # alternated run by run
                    run = subprocess.run([sys.executable, "-c", _RUN, str(checkout), str(clip), f"{work}/out.mp4"],
                                         capture_output=True, text=True, check=True)
                    frames, fps, batches = run.stdout.strip().split(" ", 2)
                    figures[checkout].append(float(fps))
                    print(f"{size} {checkout}: {frames} frames, {float(fps):.1f} frames/s, batch sizes {batches}",
                          flush=True)
            for checkout, values in figures.items():
                print(f"{size} {checkout}: median {statistics.median(values):.1f} frames/s of {len(values)} runs "
                      f"({', '.join(f'{v:.1f}' for v in values)})")


if __name__ == "__main__":
    main()
