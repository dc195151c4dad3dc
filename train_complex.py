#!/usr/bin/env python
"""Train the Zhang-style classifier, or another family with --arch (as `colorize-train`). See --help."""

import sys

from colorize.cli.train import train_command

if __name__ == "__main__":
    sys.exit(train_command("complex"))
