"""The colorize_simple.py / colorize_complex.py command line (shared by both).

Scripts call :func:`colorize_command` with their model kind; everything else
(argument parsing, input discovery, error reporting, safe output) lives here.
Bad inputs are reported as one line each on stderr and skipped; the exit
status is 0 when every input was colorized, 1 when any failed, 2 for usage
errors and unusable model files.
"""

import argparse
import sys
from pathlib import Path

from colorize.errors import ColorizeError
from colorize.io import list_images

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_DATA = PACKAGE_ROOT / "data"
BUNDLED_MODELS = {"simple": BUNDLED_DATA / "simple.keras", "complex": BUNDLED_DATA / "complex.keras"}
SAMPLES = BUNDLED_DATA / "samples"
# Images per forward pass in folder runs: one traced graph, amortised overhead.
BATCH = 8

_DESCRIPTIONS = {
    "simple": "Colorize grayscale photos with the simple L2 regression CNN (CS 512 model 1).",
    "complex": "Colorize grayscale photos with the Zhang-et-al-style classifier over quantized ab colours.",
}


def build_colorize_parser(kind):
    """argparse parser for colorize_<kind>.py."""
    parser = argparse.ArgumentParser(
        prog=f"colorize_{kind}.py",
        description=_DESCRIPTIONS[kind]
        + " Each input NAME.ext becomes OUTPUT/NAME.png at the input's resolution, keeping its lightness."
        " Colour inputs are treated as their grayscale.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "paths", nargs="*", metavar="PATH",
        help="image files or folders (searched recursively); none: the bundled samples in data/samples",
    )
    parser.add_argument("--output", "-o", default="colorized", metavar="DIR", help="folder for the colorized PNGs")
    parser.add_argument("--model", "-m", default=str(BUNDLED_MODELS[kind]), metavar="FILE", help=f"a trained {kind} .keras model")
    parser.add_argument(
        "--size", type=int, default=None,
        help="working resolution of the network (square, multiple of 8); default: the size the model was "
        "trained at (from MODEL_settings.json beside it), else 256",
    )
    if kind == "complex":
        parser.add_argument(
            "--temperature", "-t", type=float, default=0.38,
            help="annealed-mean temperature: 1 = plain mean (duller), towards 0 = most likely colour (bolder)",
        )
    parser.add_argument(
        "--no-mirror", dest="mirror", action="store_false",
        help="run the network once per photo instead of also on its mirror image (averaged): "
        "half the network work, slightly less accurate colours",
    )
    parser.add_argument("--compare", action="store_true", help="also write NAME_compare.png: input | colorized | original")
    parser.add_argument(
        "--overwrite", action="store_true",
        help="replace existing outputs (default: keep them and write NAME-1.png, NAME-2.png, ...)",
    )
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar or per-file messages")
    return parser


def collect_inputs(paths):
    """PATH arguments -> list of (input path, output relative name) and a list of errors.

    Files keep their stem; files found in a folder keep their sub-folder
    relative to it, so two ``x.jpg`` in different sub-folders never collide.
    """
    jobs, errors = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found = list_images(path)
            if not found:
                errors.append(ColorizeError(path, "folder contains no image files"))
            jobs.extend((f, f.relative_to(path).with_suffix(".png")) for f in found)
        else:  # a file, or a missing path that read_image reports in one line
            jobs.append((path, Path(path.stem + ".png")))
    return jobs, errors


def _validate(parser, args):
    if args.size is not None and (args.size < 8 or args.size % 8):
        parser.error(f"--size must be a positive multiple of 8, got {args.size}")
    if getattr(args, "temperature", 1.0) <= 0:
        parser.error("--temperature must be greater than 0")


def colorize_command(kind, argv=None):
    """Entry point of colorize_<kind>.py. Returns the process exit status."""
    parser = build_colorize_parser(kind)
    args = parser.parse_args(argv)
    _validate(parser, args)
    paths = args.paths or [str(SAMPLES)]

    from colorize.runtime import quiet_keras

    quiet_keras()
    from colorize.inference import load_colorizer

    try:
        model = load_colorizer(args.model, kind=kind)
    except ColorizeError as error:
        print(f"colorize_{kind}.py: error: {error}", file=sys.stderr)
        return 2
    jobs, errors = collect_inputs(paths)
    for error in errors:
        print(f"colorize_{kind}.py: error: {error}", file=sys.stderr)
    written, failed = run_jobs(jobs, model, args, kind)
    if not args.quiet:
        print(f"colorized {written} image(s) into {args.output}/" + (f", {failed} failed" if failed else ""))
    return 1 if failed or errors else 0


def _load_batch(batch):
    """[(path, relative)] -> [(path, relative, uint8 RGB or ColorizeError, L or None)].

    Runs in a worker thread: decoding and the lightness of the next batch
    overlap with the network's work on the current one.
    """
    from colorize.inference import lightness_of
    from colorize.io import read_image

    loaded = []
    for path, relative in batch:
        try:
            image = read_image(path)
            loaded.append((path, relative, image, lightness_of(image)))
        except ColorizeError as error:
            loaded.append((path, relative, error, None))
    return loaded


def _finish(image, lightness, ab_small, target, compare):
    """Compose full-res RGB and write it (and the comparison figure); runs in a worker thread."""
    from colorize.inference import compose
    from colorize.io import is_grayscale, write_png

    result = compose(lightness, ab_small)
    write_png(target, result)
    if compare:
        from colorize.plots import compare_figure

        original = None if is_grayscale(image) else image
        compare_figure(image, result, original, target.with_name(target.stem + "_compare.png"))


class _Targets:
    """Output names: never an existing file (unless --overwrite), never one name twice in a run."""

    def __init__(self, output, overwrite):
        self.output, self.overwrite, self.taken = Path(output), overwrite, set()

    def claim(self, relative):
        target = self.output / relative
        index = 0
        while target in self.taken or (
            not self.overwrite and (target.exists() or target.with_name(target.stem + "_compare.png").exists())
        ):
            index += 1
            target = self.output / relative.with_name(f"{relative.stem}-{index}{relative.suffix}")
        self.taken.add(target)
        return target


def run_jobs(jobs, model, args, kind):
    """Colorize ``jobs`` in batches; report and skip bad files. Returns (written, failed).

    Reading the next batch and composing/writing the finished one run in
    worker threads (OpenCV and NumPy release the GIL) while the network works
    on the current batch, so file handling does not dominate folder runs.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    from colorize.inference import predict_ab

    temperature = getattr(args, "temperature", None)
    show_bar = not args.quiet and len(jobs) > 1
    bar = tqdm(total=len(jobs), unit="img", desc="colorizing", disable=not show_bar)
    targets = _Targets(args.output, args.overwrite)
    counts = {"written": 0, "failed": 0}

    def report(message):
        tqdm.write(f"colorize_{kind}.py: error: {message}", file=sys.stderr)
        counts["failed"] += 1

    def collect(pending):
        for path, target, future in pending:
            try:
                future.result()
            except Exception as error:  # one line per file, whatever failed (disk full, a figure)
                report(f"{target}: cannot write ({_one_line_reason(error)})")
            else:
                counts["written"] += 1
                if not show_bar and not args.quiet:
                    print(f"{path} -> {target}")
            bar.update(1)

    batches = [jobs[start : start + BATCH] for start in range(0, len(jobs), BATCH)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        next_load = pool.submit(_load_batch, batches[0]) if batches else None
        pending = []
        for index in range(len(batches)):
            loaded = next_load.result()
            next_load = pool.submit(_load_batch, batches[index + 1]) if index + 1 < len(batches) else None
            good = []
            for path, relative, image, lum in loaded:
                if isinstance(image, ColorizeError):
                    report(image)
                    bar.update(1)
                else:
                    good.append((path, relative, image, lum))
            if good:
                lightness = [lum for *_, lum in good]
                abs_small = predict_ab(model, lightness, size=args.size, temperature=temperature, mirror=args.mirror)
                collect(pending)  # the previous batch's writes, in input order
                pending = []
                for (path, relative, image, lum), ab in zip(good, abs_small):
                    target = targets.claim(relative)
                    pending.append((path, target, pool.submit(_finish, image, lum, ab, target, args.compare)))
        collect(pending)
    bar.close()
    return counts["written"], counts["failed"]


def _one_line_reason(error):
    """The short reason of an exception: OSError's strerror, else its first line, else its type."""
    text = getattr(error, "strerror", None) or str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
