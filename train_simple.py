#!/usr/bin/env python
"""Train the simple L2 regression colorizer (same as `colorize-train simple`). See --help."""

import sys

from colorize.train_cli import train_command

if __name__ == "__main__":
    sys.exit(train_command("simple"))
