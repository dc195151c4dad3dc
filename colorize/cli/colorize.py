"""The colorizing command line: ``colorize`` and its aliases colorize_simple.py / colorize_complex.py.

``colorize`` colorizes with any saved colorizer (default: the bundled
default model). The design card's two root scripts are thin aliases: each
defaults to its bundled model and accepts the families its registry entry
assigns to it (``Family.script``). Everything else (argument parsing, input
discovery, error reporting, safe output) lives here and depends on no family.
Bad inputs are reported as one line each on stderr and skipped; the exit
status is 0 when every input was colorized, 1 when any failed, 2 for usage
errors, an unusable output folder and unusable model files.

Messages that cannot be shown do not stop the work: with stderr closed
(``2>&-``) they are dropped, and when stdout fails (``> /dev/full``) the
progress lines are dropped with one note on stderr. The exit status still
tells the outcome of the colorizing alone (the images are the output; the
messages are not).
"""

import argparse
import collections
import contextlib
import math
import os
import queue
import sys
from pathlib import Path

from colorize.models.presets import DEFAULT_MODEL
from colorize.cli.common import StdoutLines, guard_std_streams
from colorize.cli.guidance import add_hint_options, resolve_guidance
from colorize.cli.helpformat import HelpFormatter
from colorize.cli.videos import add_video_options
from colorize.errors import ColorizeError, one_line

# Images per forward pass in folder runs: one traced graph, amortised overhead.
BATCH = 8
# Largest working size: the network's input and activations grow with its square
# (2048 px: about 1 GiB for the bundled zhang classifier), and beyond it nothing is gained.
MAX_SIZE = 2048
# Chroma upsampling methods (colorize.predict.upsample.METHODS; a test keeps the two equal: --help imports no NumPy/cv2).
UPSAMPLE_METHODS = ("bilinear", "guided")
DEFAULT_UPSAMPLE = "bilinear"
# Engines that may run a model (colorize.predict.engine.ENGINES; a test keeps the two equal: --help imports no NumPy).
ENGINES = ("auto", "keras", "litert")
# Annealed-mean temperatures accepted: below 0.01 is the mode already, above 10 the plain mean.
TEMPERATURE_RANGE = (0.01, 10.0)

_SCRIPTS = {
    None: {
        "prog": "colorize",
        "model": DEFAULT_MODEL,
        "description": "Colorize grayscale photos with a trained colorizer (any family; default: the bundled "
        "GAN-trained U-Net on pretrained EfficientNet-Lite0 features).",
    },
    "simple": {
        "prog": "colorize_simple.py",
        "model": "simple",
        "description": "Colorize grayscale photos with the simple L2 regression CNN (CS 512 model 1).",
    },
    "complex": {
        "prog": "colorize_complex.py",
        "model": DEFAULT_MODEL,
        "description": "Colorize grayscale photos with the bundled default (a GAN-trained U-Net on pretrained "
        "EfficientNet-Lite0 features) or any non-simple family's model given with --model, such as the "
        "Zhang-et-al-style classifiers over quantized ab colours (colorize/assets/models/zhang.keras, unet.keras).",
    },
}


def _temperature(text):
    """argparse type: a finite temperature inside TEMPERATURE_RANGE."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    low, high = TEMPERATURE_RANGE
    if not (math.isfinite(value) and low <= value <= high):
        raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {text}")
    return value


def _size(text):
    """argparse type: a working size, a multiple of 8 in [8, MAX_SIZE]."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if not (8 <= value <= MAX_SIZE and value % 8 == 0):
        raise argparse.ArgumentTypeError(f"must be a multiple of 8 from 8 to {MAX_SIZE}, got {text}")
    return value


def build_colorize_parser(script=None):
    """argparse parser for ``colorize`` (script None) or colorize_<script>.py."""
    spec = _SCRIPTS[script]
    parser = argparse.ArgumentParser(
        prog=spec["prog"],
        description=spec["description"]
        + " Each input NAME.ext becomes OUTPUT/NAME.png at the input's resolution, keeping its lightness."
        " Colour inputs are treated as their grayscale.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="image files or folders (searched recursively); none: the bundled sample photos",
    )
    parser.add_argument("--output", "-o", default="colorized", metavar="DIR", help="folder for the colorized PNGs")
    parser.add_argument(
        "--model", "-m", default=None, metavar="FILE",
        help=f"a trained colorizer: a .keras file or its compiled .lite copy (default: the bundled {spec['model']} "
        "model)",
    )
    parser.add_argument(
        "--size", type=_size, default=None,
        help="working resolution of the network: the photo's SHORTER side is resized to it (the longer side "
        f"keeps the proportions), a multiple of 8 up to {MAX_SIZE}; default: the size the model was trained at",
    )
    if script != "simple":
        low, high = TEMPERATURE_RANGE
        parser.add_argument(
            "--temperature", "-t", type=_temperature, default=None,
            help=f"annealed-mean temperature of a classifier (bins) model, {low:g}..{high:g}: 1 = plain mean "
            "(duller), towards 0 = most likely colour (bolder); default: the model's own (0.7 for the "
            "bundled unet model); ignored by regression models such as the bundled default",
        )
    parser.add_argument(
        "--no-mirror", dest="mirror", action="store_false", default=argparse.SUPPRESS,
        help="run the network once per photo. By default each photo also goes through mirrored left-right "
        "and the two predictions are averaged (slightly better colours for twice the network work)",
    )
    parser.add_argument(
        "--upsample", choices=UPSAMPLE_METHODS, default=None,
        help="how the colours predicted at the working size reach the photo's resolution: bilinear, or guided "
        "(a guided filter steered by the photo's own lightness, so colour edges follow its edges); default: "
        + DEFAULT_UPSAMPLE,
    )
    parser.add_argument(
        "--engine", choices=ENGINES, default="auto",
        help="what runs the model: litert (a compiled copy MODEL.lite beside MODEL.keras, made by "
        "python -m colorize.cli.export; starts in a fraction of a second), keras (the .keras file through Keras and "
        "TensorFlow, several seconds to start), or auto: litert when there is a compiled copy made from exactly "
        "this .keras file (the bundled models have one) and the LiteRT runtime is installed, else keras. Both give "
        "the same colours (within 0.001 Lab units)",
    )
    parser.add_argument("--compare", action="store_true", help="also write NAME_compare.png: input | colorized | original")
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace existing outputs (default: keep them and write NAME-1.png, NAME-2.png, ...); an input is "
        "never replaced: an output whose name is an input's gets the next free NAME-k.png",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar or per-file messages")
    add_video_options(parser)
    add_hint_options(parser)
    return parser


def collect_inputs(paths, output=None):
    """PATH arguments -> (list of (input path, output relative name), list of errors, earlier results skipped).

    Files keep their stem; files found in a folder keep their sub-folder
    relative to it, so two ``x.jpg`` in different sub-folders never collide.
    ``output``: the run's output folder; when it lies inside a folder given,
    nothing under it is taken from that folder (a second run over ``.`` does
    not colorize the first run's results again), and when a folder given is
    the output folder (``DIR -o DIR``) or holds it, the PNGs found under the
    output folder that colorize wrote (:func:`colorize.io.made_by_colorize`)
    are skipped too and counted in the third value. A file named on its own
    is always taken.
    """
    from colorize.cli.videos import list_videos
    from colorize.io import list_images, made_by_colorize

    jobs, errors, earlier = [], [], 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = [f for f in list_images(path) + list_videos(path) if not _inside_output(f, path, output)]
            results = {f for f in found if _under(f, output) and made_by_colorize(f)}
            earlier += len(results)
            found = [f for f in found if f not in results]
            if not found and not results:
                errors.append(ColorizeError(path, "folder contains no image or video files"))
            jobs.extend((f, f.relative_to(path).with_suffix(".png")) for f in found)
        else:  # a file, or a missing path that read_image reports in one line
            jobs.append((path, Path(path.stem + ".png")))
    return jobs, errors, earlier


def _under(found, output):
    """True when ``found`` lies in the folder ``output`` or below it (None: no output folder)."""
    if output is None:
        return False
    output = Path(os.path.realpath(output))
    return output in Path(os.path.realpath(found)).parents


def _inside_output(found, folder, output):
    """True when ``found`` (a file in ``folder``) lies under ``output``, itself strictly inside ``folder``."""
    if output is None:
        return False
    folder, output = Path(os.path.realpath(folder)), Path(os.path.realpath(output))
    if output == folder or folder not in output.parents:
        return False
    return output in Path(os.path.realpath(found)).parents


def _load_model(args, script):
    """The colorizer to use, checked for this script's families. Raises ColorizeError.

    The engine is resolved once and the model file hashed once (:func:`colorize.predict.engine.open_colorizer`).
    """
    from colorize import models
    from colorize.predict.engine import open_colorizer

    families = None if script is None else models.names(script)
    others = [f"colorize_{name}.py" for name in ("simple", "complex") if name != script]
    hint = f"use {others[0]} or colorize" if script else None
    notes = []
    colorizer, _ = open_colorizer(args.model or _SCRIPTS[script]["model"], args.engine, families, hint, notes)
    for note in notes:
        if not args.quiet:
            print(f"{_SCRIPTS[script]['prog']}: note: {note}", file=sys.stderr)
    return colorizer


def colorize_command(script=None, argv=None):
    """Entry point of ``colorize`` (script None) and colorize_<script>.py. Returns the exit status."""
    guard_std_streams()
    parser = build_colorize_parser(script)
    args = parser.parse_args(argv)
    args.mirror = getattr(args, "mirror", True)  # --no-mirror's default is kept out of --help
    if args.start is not None and args.end is not None and args.end <= args.start:
        parser.error(f"--end ({args.end:g} s) must be after --start ({args.start:g} s)")
    prog = parser.prog
    counts = {"written": 0, "failed": 0}
    try:
        return _colorize(args, script, prog, counts)
    except KeyboardInterrupt:  # Ctrl-C: what was written is complete (run_jobs waited for its writes)
        print(f"{prog}: interrupted: {counts['written']} written", file=sys.stderr)
        return 130


def _colorize(args, script, prog, counts):
    from colorize.models.presets import samples_folder

    paths = args.paths or [str(samples_folder())]
    problem = _output_problem(args.output)
    if problem:
        print(f"{prog}: error: --output {args.output}: {problem}", file=sys.stderr)
        return 2

    try:
        colorizer = _load_model(args, script)
    except ColorizeError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
    jobs, errors, earlier = collect_inputs(paths, args.output)
    for error in errors:
        print(f"{prog}: error: {error}", file=sys.stderr)
    if earlier and not args.quiet:
        print(f"{prog}: note: skipped {earlier} earlier colorize result(s) in {args.output}/ "
              "(name a file on its own to colorize it again)", file=sys.stderr)
    jobs, repeated = _drop_repeated(jobs)
    for path in repeated:
        if not args.quiet:
            print(f"{prog}: note: {path}: given more than once, colorized once", file=sys.stderr)
    try:  # colour points / a reference photo: checked before anything is written
        args.guidance = resolve_guidance(args, colorizer, jobs)
    except ColorizeError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2

    from colorize.cli.videos import run_video_jobs, split_videos

    jobs, clips = split_videos(jobs)
    stdout = StdoutLines()
    written, failed = run_jobs(jobs, colorizer, args, prog, stdout, counts)
    if clips:
        targets = _Targets(args.output, args.overwrite, inputs=[path for path, _ in jobs + clips])
        clips_written, clips_failed = run_video_jobs(clips, colorizer, args, prog,
                                                     lambda relative: targets.claim(relative)[0], stdout.say, counts)
        written, failed = written + clips_written, failed + clips_failed
    if not args.quiet:
        what = "image(s)" if not clips else "image(s) and clip(s)"
        stdout.say(f"colorized {written} {what} into {args.output}/" + (f", {failed} failed" if failed else ""))
    if stdout.error is not None:
        print(f"{prog}: note: cannot write to standard output ({one_line(stdout.error)}); "
              "the progress lines were dropped", file=sys.stderr)
    return 1 if failed or errors else 0


def _output_problem(output):
    """Why ``output`` cannot be the folder of the colorized PNGs (None when it can)."""
    from colorize.files import unwritable_folder_reason

    if not output.strip():
        return "an empty name; give a folder (. for the current one)"
    path = Path(output)
    if path.exists() and not path.is_dir():
        return "exists and is not a folder"
    return unwritable_folder_reason(path)


def _drop_repeated(jobs):
    """Jobs without a second job for the same file (given twice, or also inside a given folder).

    Returns (jobs, paths given again).
    """
    seen, unique, repeated = set(), [], []
    for path, relative in jobs:
        key = os.path.realpath(path)
        if key in seen:
            repeated.append(path)
        else:
            seen.add(key)
            unique.append((path, relative))
    return unique, repeated


def main(argv=None):
    """Console script ``colorize`` (``colorize serve ...``: the local web page, :mod:`colorize.cli.serve`)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["serve"]:
        from colorize.cli.serve import serve_command

        return serve_command(argv[1:])
    return colorize_command(None, argv)


def _load_batch(batch):
    """[(path, key)] -> [(path, key, uint8 RGB or ColorizeError, L or None, notes)].

    Runs in a worker thread: decoding and the lightness of the next batch
    overlap with the network's work on the current one.
    """
    from colorize.predict.pipeline import lightness_of
    from colorize.io import read_image

    loaded = []
    for path, key in batch:
        notes = []  # the reader's remarks (transparency composited, sample values stretched, ...)
        try:
            image = read_image(path, notes=notes)
            loaded.append((path, key, image, lightness_of(image), notes))
        except ColorizeError as error:
            loaded.append((path, key, error, None, notes))
    return loaded


def _finish(image, lightness, ab_small, relative, planned, targets, upsample=None):
    """Compose full-res RGB and write it (and the comparison figure); runs in a worker thread.

    ``planned``: (colorized path, figure path or None) from :meth:`_Targets.claim`. Each file is
    created exclusively: when another process took a name meanwhile, the next free one is used.
    Returns the colorized PNG's path.
    """
    from colorize.predict.pipeline import compose
    from colorize.io import encode_png, is_grayscale

    result = compose(lightness, ab_small, upsample=upsample)
    data = encode_png(result)
    target, figure = planned
    while True:
        try:
            targets.write(target, data)
            break
        except FileExistsError:
            target, figure = targets.claim(relative, figure is not None)
    if figure is not None:
        from colorize.plots import compare_figure

        original = None if is_grayscale(image) else image
        compare_figure(image, result, original, figure, write=targets.write_figure)
    return target


class _Targets:
    """Output names for a whole run, decided before anything is written.

    Colorized PNGs and comparison figures share one namespace: no name is
    given out twice, none is an input (compared by real path, through links,
    and by file identity), and without --overwrite none exists already.
    Files are created exclusively (:func:`colorize.files.write_bytes_new`), so
    parallel runs into one folder each keep every result; --overwrite replaces
    (atomically) only files that are not inputs.
    """

    def __init__(self, output, overwrite, inputs=()):
        import threading

        self.output, self.overwrite, self.taken = Path(output), overwrite, set()
        self.inputs = {os.path.realpath(path) for path in inputs}
        self.input_ids = set()
        for path in inputs:
            try:
                info = os.stat(path)
            except OSError:
                continue
            self.input_ids.add((info.st_dev, info.st_ino))
        self.lock = threading.Lock()

    def is_input(self, path):
        """True when writing ``path`` would write onto an input (the same file, through any link)."""
        if os.path.realpath(path) in self.inputs:
            return True
        try:
            info = os.stat(path)
        except OSError:
            return False
        return (info.st_dev, info.st_ino) in self.input_ids

    def _free(self, path):
        return (
            os.path.realpath(path) not in self.taken
            and not self.is_input(path)
            and (self.overwrite or not os.path.lexists(path))
        )

    def _first_free(self, names):
        """names(index) -> list of paths; the first index whose paths are all free, taken."""
        with self.lock:
            index = 0
            while not all(self._free(path) for path in names(index)):
                index += 1
            chosen = names(index)
            self.taken.update(os.path.realpath(path) for path in chosen)
            return chosen

    def claim(self, relative, compare=False):
        """(OUTPUT/NAME.png, OUTPUT/NAME_compare.png or None), else NAME-1, NAME-2, ... for both.

        ``relative`` keeps its suffix (.png for photos, .mp4 for clips)."""
        def names(index):
            stem = relative.stem if index == 0 else f"{relative.stem}-{index}"
            suffixes = (relative.suffix or ".png", "_compare.png")[: 1 + compare]
            return [self.output / relative.with_name(stem + suffix) for suffix in suffixes]

        chosen = self._first_free(names)
        return chosen[0], (chosen[1] if compare else None)

    def write(self, path, data):
        """Write ``path`` (bytes): exclusively, or with --overwrite replacing a non-input. FileExistsError: taken."""
        from colorize.files import write_bytes_atomic, write_bytes_new

        if self.overwrite and not self.is_input(path):
            return write_bytes_atomic(path, data)
        return write_bytes_new(path, data)

    def write_figure(self, path, data):
        """:meth:`write` for a figure; when its name was taken meanwhile, NAME_compare-k.png."""
        path = first = Path(path)
        while True:
            try:
                return self.write(path, data)
            except FileExistsError:
                path = self._first_free(lambda index: [first.with_name(f"{first.stem}-{index + 1}.png")])[0]


def run_jobs(jobs, colorizer, args, prog, stdout=None, counts=None):
    """Colorize ``jobs`` in batches; report and skip bad files. Returns (written, failed).

    Every output name is decided before the first write (:class:`_Targets`).
    Reading the next batch and composing/writing the finished one run in
    worker threads (OpenCV and NumPy release the GIL) while the network works
    on the current batch, so file handling does not dominate folder runs.
    ``stdout``: a :class:`StdoutLines` for the per-file lines. ``counts``: a
    dict kept up to date with "written" and "failed" (read after a
    KeyboardInterrupt, which is raised again once the writes under way are
    complete and the ones not started are dropped).
    """
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np
    from tqdm.auto import tqdm

    from colorize.predict.pipeline import concurrent_colorizers, predict_ab

    temperature = getattr(args, "temperature", None)
    show_bar = not args.quiet and len(jobs) > 1
    bar = tqdm(total=len(jobs), unit="img", desc="colorizing", disable=not show_bar)
    targets = _Targets(args.output, args.overwrite, [path for path, _ in jobs])
    planned = [targets.claim(relative, args.compare) for _, relative in jobs]
    counts = counts if counts is not None else {}
    counts.update(written=0, failed=0)
    stdout = stdout or StdoutLines()

    def report(message, kind="error"):
        if kind == "error":
            counts["failed"] += 1
        elif args.quiet:
            return
        tqdm.write(f"{prog}: {kind}: {message}", file=sys.stderr)

    # The writes already reported: a collect cut short by Ctrl-C (in a future's wait) runs again on the
    # same list, and must count each file once (the count is the set's size, so it cannot drift either).
    reported, written = set(), set()

    def collect(pending, interrupted=False):
        for path, target, future in pending:
            if future in reported or (interrupted and (future.cancelled() or not future.done())):
                continue
            try:
                target = future.result()
            except Exception as error:  # one line per file, whatever failed (disk full, a figure)
                reported.add(future)
                report(f"{target}: cannot write ({one_line(error)})")
            else:
                written.add(future)  # before `reported`: cut short between the two, the re-run adds it again
                reported.add(future)
                if not show_bar and not args.quiet:
                    stdout.say(f"{path} -> {target}")
            bar.update(1)
        counts["written"] = len(written)

    numbered = [(path, index) for index, (path, _) in enumerate(jobs)]
    batches = [numbered[start : start + BATCH] for start in range(0, len(jobs), BATCH)]
    # Copies of a compiled network run batches side by side (one per core, see concurrent_colorizers);
    # each copy runs one batch at a time, and the batches are finished in input order.
    colorizers = concurrent_colorizers(colorizer) if len(batches) > 1 else [colorizer]
    idle = queue.SimpleQueue()
    for network in colorizers:
        idle.put(network)
    guidance = getattr(args, "guidance", None)

    def predict(lightness):
        network = idle.get()
        try:
            return predict_ab(network, lightness, size=args.size, temperature=temperature, mirror=args.mirror,
                              guidance=None if guidance is None else [guidance] * len(lightness))
        finally:
            idle.put(network)

    def finish(good, abs_small):
        """Start the writes of a batch whose colours are in (the previous batch's writes collected first)."""
        nonlocal pending
        collect(pending)  # the previous batch's writes, in input order
        pending = []
        for (path, number, image, lum), ab in zip(good, abs_small):
            if not np.isfinite(ab).all():  # would come out white or black, not colorized
                reason = "the model's colours for it are not finite (NaN or inf); not written"
                report(ColorizeError(path, reason))
                bar.update(1)
                continue
            future = pool.submit(_finish, image, lum, ab, jobs[number][1], planned[number], targets,
                                 getattr(args, "upsample", None))
            pending.append((path, planned[number][0], future))

    pool = ThreadPoolExecutor(max_workers=2)
    networks = ThreadPoolExecutor(max_workers=len(colorizers), thread_name_prefix="colorize-network")
    pending, running = [], collections.deque()  # running: (good, future of its ab) in input order
    try:
        next_load = pool.submit(_load_batch, batches[0]) if batches else None
        for index in range(len(batches)):
            loaded = next_load.result()
            next_load = pool.submit(_load_batch, batches[index + 1]) if index + 1 < len(batches) else None
            good = []
            for path, number, image, lum, notes in loaded:
                for note in notes:
                    report(f"{path}: {note}", "note")
                if isinstance(image, ColorizeError):
                    report(image)
                    bar.update(1)
                else:
                    good.append((path, number, image, lum))
            if good:
                running.append((good, networks.submit(predict, [lum for *_, lum in good])))
            while len(running) >= len(colorizers) or (running and running[0][1].done()):
                good, future = running.popleft()
                finish(good, future.result())
        while running:
            good, future = running.popleft()
            finish(good, future.result())
        collect(pending)
    except KeyboardInterrupt:
        # Ctrl-C: no new file is started; those being written are finished (each is complete or absent).
        import signal

        previous = None
        with contextlib.suppress(ValueError):  # not the main thread: nothing to ignore
            previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            pool.shutdown(wait=True, cancel_futures=True)
            collect(pending, interrupted=True)
            bar.close()
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
        raise
    finally:
        networks.shutdown(wait=True, cancel_futures=True)
        pool.shutdown(wait=True)
    bar.close()
    return counts["written"], counts["failed"]


if __name__ == "__main__":
    sys.exit(main())
