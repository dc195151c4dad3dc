"""``python -m colorize.cli.plots LOG.csv``: draw a training log's loss curves."""

import argparse
import sys
from pathlib import Path

from colorize.cli.helpformat import HelpFormatter
from colorize.errors import ColorizeError
from colorize.plots import plot_learning_curves

def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m colorize.cli.plots",
        description="Plot training and validation loss from a Keras CSVLogger log, marking the best validation epoch.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("log", metavar="LOG.csv", help="CSV written by keras.callbacks.CSVLogger")
    parser.add_argument(
        "--output", "-o", metavar="PNG", default=None, help="output PNG (default: LOG.png next to the log)"
    )
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    output = Path(args.output) if args.output else Path(args.log).with_suffix(".png")
    try:
        written = plot_learning_curves(args.log, output)
    except ColorizeError as error:
        print(f"plots: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"plots: error: {output}: cannot write ({error.strerror or error})", file=sys.stderr)
        return 2
    print(f"wrote {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
