#!/usr/bin/env python
"""Train the Zhang-style classifier, or another family with --arch (as `colorize-train`). See --help."""

import sys

from colorize.train_cli import train_command

if __name__ == "__main__":
    sys.exit(train_command("complex"))
