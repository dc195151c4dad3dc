#!/usr/bin/env python
"""Train the simple L2 regression colorizer (same as `colorize-train simple`). See --help."""

import sys

from colorize.cli.train import train_command

if __name__ == "__main__":
    sys.exit(train_command("simple"))
