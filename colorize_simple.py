#!/usr/bin/env python
"""Colorize grayscale photos with the simple L2 regression model (as `colorize --model ...`). See --help."""

import sys

from colorize.cli.colorize import colorize_command

if __name__ == "__main__":
    sys.exit(colorize_command("simple"))
