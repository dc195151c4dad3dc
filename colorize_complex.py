#!/usr/bin/env python
"""Colorize grayscale photos with the bundled default (any non-simple family with --model). See --help."""

import sys

from colorize.cli.colorize import colorize_command

if __name__ == "__main__":
    sys.exit(colorize_command("complex"))
