"""Write a colorizer as one self-describing ``.keras`` file for colorizing, or compile it for LiteRT.

    python -m colorize.cli.export SOURCE.keras TARGET.keras [--temperature T] [--training-size S]
    python -m colorize.cli.export SOURCE.keras SOURCE.lite      # compiled companion (colorize.predict.litert)

SOURCE may be any colorizer file: a current one (e.g. a training run's best
model), or one of the format before self-describing colorizers, which is
converted (:mod:`colorize.predict.old_format`; its ``NAME_settings.json`` beside it
supplies the training size and the builder's options). TARGET holds the
Colorizer without optimizer state, written atomically; an existing TARGET is
kept unless ``--overwrite``. A TARGET ending in ``.lite`` is the colorizer
compiled for the LiteRT runtime (:mod:`colorize.predict.litert`): written beside
SOURCE as SOURCE's stem + ``.lite`` and without changed settings, the command
lines use it instead of SOURCE (same colours, start-up in a fraction of a second).
"""

import argparse
import sys
import warnings
from pathlib import Path

from colorize.cli.helpformat import HelpFormatter

PROG = "python -m colorize.cli.export"


def build_parser():
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Convert or slim a colorizer .keras file into the self-describing format "
        "(family, head, bin table, input multiple, output stride, training size inside the file).",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("source", metavar="SOURCE.keras", help="colorizer file to read (old or new format)")
    parser.add_argument("target", metavar="TARGET", help="file to write: TARGET.keras, or TARGET.lite for the "
                        "colorizer compiled for the LiteRT runtime (needs TensorFlow; about 40 s for the bundled default)")
    parser.add_argument("--temperature", "-t", type=float, default=None,
                        help="default annealed-mean temperature stored in the file (bins heads only; "
                        "default: keep the source's)")
    parser.add_argument("--training-size", type=int, default=None,
                        help="record this training size (the default working size; default: keep the source's)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing TARGET")
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.target.endswith((".keras", ".lite")):
        parser.error(f"{args.target}: the target must end in .keras or .lite")
    if Path(args.target).exists() and not args.overwrite:
        parser.exit(2, f"{PROG}: error: {args.target}: exists (pass --overwrite to replace it)\n")
    if args.training_size is not None and args.training_size < 8:
        parser.error("--training-size must be at least 8")

    from colorize.runtime import quiet_keras

    quiet_keras()
    from colorize.errors import ColorizeError
    from colorize.predict.engine import LegacyModelWarning, load_colorizer

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LegacyModelWarning)
            colorizer = load_colorizer(args.source)
        if args.temperature is not None:
            if colorizer.temperature is None:
                raise ColorizeError(args.source, "--temperature applies to a bins head only; this one regresses ab")
            colorizer.temperature = args.temperature
    except (ColorizeError, ValueError) as error:
        parser.exit(2, f"{PROG}: error: {error}\n")
    if args.training_size is not None:
        colorizer.training_size = args.training_size
    try:
        if args.target.endswith(".lite"):
            from colorize.files import file_digest
            from colorize.predict.compile import compile_colorizer

            # Only an unchanged copy may stand in for SOURCE (compiled_companion checks this digest).
            unchanged = args.temperature is None and args.training_size is None
            compile_colorizer(colorizer, args.target, file_digest(args.source) if unchanged else None)
        else:
            from colorize.files import save_model_atomic

            save_model_atomic(colorizer, args.target)  # loaded uncompiled: no optimizer state
    except RuntimeError as error:  # another backend than TensorFlow
        parser.exit(2, f"{PROG}: error: {args.target}: {error}\n")
    except OSError as error:
        parser.exit(2, f"{PROG}: error: {args.target}: cannot write ({error.strerror or error})\n")
    print(f"wrote {args.target}: family {colorizer.family}, head {colorizer.head}, "
          f"training size {colorizer.training_size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
