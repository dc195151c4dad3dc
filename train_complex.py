#!/usr/bin/env python
"""Train the complex colorizer on an image folder or CIFAR-10. See --help."""

import os
import sys

# Before TensorFlow loads: keep its C++ log lines off the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from colorize.train_cli import train_command

if __name__ == "__main__":
    sys.exit(train_command("complex"))
