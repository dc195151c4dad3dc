"""Video inputs of the colorize command: each clip becomes OUTPUT/NAME.mp4 (see :mod:`colorize.predict.video`).

Photos and clips may be mixed in one run; clips are colorized after the photos, one at a time (each
already keeps both cores busy: decoding, the network and encoding overlap).
"""

import sys
from pathlib import Path

from colorize.cli.common import whole_number_between
from colorize.errors import ColorizeError, one_line

# Extensions looked at inside folders (a file named on the command line is recognised by content).
VIDEO_SUFFIXES = (".mp4", ".m4v", ".mov", ".mkv", ".avi", ".webm")
OUTPUT_SUFFIX = ".mp4"
# H.264's largest constant rate factor (x264 takes 0-51 for 8-bit video).
MAX_CRF = 51


def list_videos(folder):
    """Video files inside ``folder`` (recursive), sorted; by extension, then confirmed by content."""
    from colorize.predict.video import is_video

    found = [path for path in sorted(Path(folder).rglob("*")) if path.suffix.lower() in VIDEO_SUFFIXES]
    return [path for path in found if path.is_file() and is_video(path)]


def split_videos(jobs):
    """(photo jobs, clip jobs) of a run's (path, relative output) jobs.

    A clip is told by its content; a file with a video extension that is none (a still image named
    .mp4, a truncated or empty file) goes the video way too, where it is refused in one line.
    """
    from colorize.predict.video import is_video

    photos, clips = [], []
    for path, relative in jobs:
        path = Path(path)
        video = path.suffix.lower() in VIDEO_SUFFIXES or (path.is_file() and is_video(path))
        (clips if video else photos).append((path, relative))
    return photos, clips


def add_video_options(parser):
    """--no-temporal, --start, --end, --crf on a colorize parser (importing no video or image library)."""
    group = parser.add_argument_group("video inputs (mp4, mov, mkv, avi, webm: each becomes OUTPUT/NAME.mp4)")
    group.add_argument("--no-temporal", dest="temporal", action="store_false",
                       help="colorize each frame on its own; by default colours follow the content from frame to "
                       "frame (optical flow) and start afresh at scene cuts, which removes flicker")
    group.add_argument("--start", type=_seconds, default=None, metavar="SECONDS",
                       help="colorize from this time of each clip on (the output starts there)")
    group.add_argument("--end", type=_seconds, default=None, metavar="SECONDS", help="colorize up to this time")
    # No default here: colorize_video's own (DEFAULT_CRF) applies; the help names it (a test checks).
    group.add_argument("--crf", type=whole_number_between(0, MAX_CRF), default=None, metavar="N",
                       help="the clip's quality against its size: H.264's constant rate factor, 0 (lossless, "
                       "huge) to 51 (smallest); each 6 more about halves the file (default: 18, visually "
                       "lossless)")


def _seconds(text):
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"must be 0 or more seconds, got {text}")
    return value


def colorize_clip(path, target, colorizers, args, next_name=None):
    """Colorize one clip into ``target`` (never replacing a file unless --overwrite). Returns the VideoResult.

    ``colorizers``: the colorizer, or copies of it that may run side by side
    (:func:`~colorize.predict.pipeline.concurrent_colorizers`), one batch of frames each.
    ``next_name(taken)``: another name when ``target`` was taken meanwhile (see ``colorize_video``).

    Video runs the network once per frame without the mirrored pass (``--no-mirror`` for photos): the
    temporal blending already averages each colour over frames, and video needs the speed.
    """
    from colorize.predict.pipeline import compose, predict_ab
    from colorize.predict.video import colorize_video

    temperature = getattr(args, "temperature", None)
    mirror = getattr(args, "mirror_video", False)

    def predictor(colorizer):
        return lambda lightness_list: predict_ab(colorizer, lightness_list, size=args.size, temperature=temperature,
                                                 mirror=mirror)

    def join(lightness, ab):
        return compose(lightness, ab, upsample=getattr(args, "upsample", None))

    colorizers = colorizers if isinstance(colorizers, (list, tuple)) else [colorizers]
    encoder = {"crf": args.crf} if getattr(args, "crf", None) is not None else {}
    return colorize_video(path, target, [predictor(colorizer) for colorizer in colorizers], join,
                          temporal=args.temporal, start=args.start, end=args.end, progress=not args.quiet,
                          replace=args.overwrite, next_name=next_name, **encoder)


def run_video_jobs(jobs, colorizer, args, prog, claim, say, counts=None):
    """Colorize each (path, relative output name) clip; report and skip bad ones. Returns (written, failed).

    ``claim(relative)`` gives the output path for a relative name (the run's naming rules, never an
    input or an existing file without --overwrite); ``say(text)`` prints a progress line; ``counts``
    (a dict with "written") is kept up to date for the Ctrl-C message.
    """
    from colorize.predict.pipeline import concurrent_colorizers

    written = failed = 0
    counts = counts if counts is not None else {"written": 0}
    colorizers = concurrent_colorizers(colorizer) if jobs else [colorizer]
    for path, relative in jobs:
        name = relative.with_suffix(OUTPUT_SUFFIX)
        target = claim(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            result = colorize_clip(path, target, colorizers, args, next_name=lambda taken, name=name: claim(name))
        except ColorizeError as error:
            print(f"{prog}: error: {error}", file=sys.stderr)
            failed += 1
            continue
        except (OSError, ValueError) as error:
            print(f"{prog}: error: {target}: cannot write ({one_line(error)})", file=sys.stderr)
            failed += 1
            continue
        written += 1
        counts["written"] = counts.get("written", 0) + 1
        if not args.quiet:
            say(f"{path} -> {result.path} ({result.frames} frames, {result.fps:.1f} frames/s, "
                f"{result.cuts} scene cut(s), audio: {result.audio})")
    return written, failed
