"""``python -m colorize.cli.splits``: list the photos of one train/val/test split, as training makes it."""

import argparse
from pathlib import Path

from colorize.cli.helpformat import HelpFormatter
from colorize.train.data import SPLITS, write_split_list


def main(argv=None):
    """``python -m colorize.cli.splits``: list the images of a train/val/test split."""
    parser = argparse.ArgumentParser(
        prog="python -m colorize.cli.splits",
        description="Write the image paths of one split (as train_simple.py/train_complex.py make it with the "
        "same --seed and fractions) to a text file, e.g. the held-out test photos for python -m colorize.cli.evaluate.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--data", nargs="+", required=True, metavar="DIR", help="image folder(s) given to training")
    parser.add_argument("--split", choices=SPLITS, default="test", help="which split to list")
    parser.add_argument("--list", required=True, metavar="FILE.txt", help="text file to write")
    parser.add_argument("--seed", type=int, default=0, help="the training run's --seed")
    parser.add_argument("--val-fraction", type=float, default=0.1)
    parser.add_argument("--test-fraction", type=float, default=0.1)
    args = parser.parse_args(argv)
    for folder in args.data:
        if not Path(folder).is_dir():
            parser.exit(2, f"python -m colorize.cli.splits: error: {folder}: no such folder\n")
    fractions = (1 - args.val_fraction - args.test_fraction, args.val_fraction, args.test_fraction)
    count = write_split_list(args.data, args.split, args.list, fractions, args.seed)
    print(f"{count} {args.split} images listed in {args.list}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
