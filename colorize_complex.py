#!/usr/bin/env python
"""Colorize grayscale photos with the Zhang-style classifier. See --help."""

import os
import sys

# Before TensorFlow loads: keep its C++ log lines off the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from colorize.cli import colorize_command

if __name__ == "__main__":
    sys.exit(colorize_command("complex"))
