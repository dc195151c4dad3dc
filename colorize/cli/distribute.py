"""``python -m colorize.cli.distribute --cpus N -- FAMILY OPTIONS``: rehearse a multi-device run on one machine."""

import argparse

from colorize.train.distribute import split_host_cpu


def main(argv=None):
    """``python -m colorize.cli.distribute --cpus N -- FAMILY OPTIONS``: colorize-train on N virtual CPU devices."""
    parser = argparse.ArgumentParser(
        prog="python -m colorize.cli.distribute",
        description="Rehearse a multi-device run on one machine: split the CPU into N devices, then run "
        "'colorize-train FAMILY OPTIONS' (add --distribute to use them).",
    )
    parser.add_argument("--cpus", type=int, default=2, help="virtual CPU devices")
    parser.add_argument("train", nargs=argparse.REMAINDER, help="colorize-train's arguments (after --)")
    args = parser.parse_args(argv)
    if args.cpus < 1:
        parser.error("--cpus must be at least 1")
    train = args.train[1:] if args.train[:1] == ["--"] else args.train
    split_host_cpu(args.cpus)
    from colorize.cli.train import main as train_main

    return train_main(train)


if __name__ == "__main__":
    raise SystemExit(main())
